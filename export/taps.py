"""Intermediate tensors of an exported file, captured with each runtime's own hooks and named
by the PyTorch module that made them (`pocketml diagnose`):

- TFLite: the interpreter keeps every tensor (experimental_preserve_all_tensors); litert-torch
  names each one by its module scope ("...SequenceRNN/torch.nn.modules.rnn.RNN_recurrent;29").
- ONNX: every node output made a graph output; torch.onnx records the module path of each node
  in its metadata (pkg.torch.onnx.name_scopes).
- ExecuTorch: XNNPACK's delegate runs the graph as one opaque call, so the file is built again
  with ExecuTorch's intermediate-output taps (devtools.intermediate_output_tap), which surface
  chosen values as extra outputs of the delegate; each tap records its module path.

A tap holds the values of all rows, batch first, and, for an integer tensor, the range its
scale can represent (values outside it are clipped)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pocketml.export.console import quiet
from pocketml.export.job import ExportJob


@dataclass
class Tap:
    name: str  # the runtime's own name for the tensor
    module: str | None  # dotted module path ("" = the model itself); None when unknown
    values: np.ndarray  # [rows, ...], float32 (integer tensors dequantized)
    limits: tuple[float, float] | None = None  # an integer tensor's representable range


def capture(fmt: str, path: Path, inputs: list[np.ndarray], job: ExportJob) -> list[Tap]:
    """Taps of `path` (format `fmt`) on `inputs`, in execution order."""
    suffix = Path(path).suffix
    if suffix == ".tflite":
        return tflite_taps(path, inputs)
    if suffix == ".onnx":
        return onnx_taps(path, inputs)
    return executorch_taps(job, fmt == "executorch_int8", inputs)


# -- TFLite -------------------------------------------------------------------------------

def tflite_taps(path: Path, inputs: list[np.ndarray]) -> list[Tap]:
    from ai_edge_litert.interpreter import Interpreter

    from pocketml.export.runtimes import quantize

    with quiet():
        interpreter = Interpreter(model_path=str(path), num_threads=1,
                                  experimental_preserve_all_tensors=True)
        interpreter.allocate_tensors()
    details = {d["index"]: d for d in interpreter.get_tensor_details()}
    produced = list(dict.fromkeys(i for op in interpreter._get_ops_details()
                                  for i in op["outputs"] if i >= 0))
    rows = {i: [] for i in produced}
    feeds = interpreter.get_input_details()
    for r in range(len(inputs[0])):  # row by row: recurrent files are fixed at one row
        for detail, x in zip(feeds, inputs):
            interpreter.set_tensor(detail["index"], quantize(x[r:r + 1], detail))
        interpreter.invoke()
        for i in produced:
            rows[i].append(interpreter.get_tensor(i))
    taps = []
    for i in produced:
        detail = details[i]
        scale, zero_point = detail["quantization"]
        values = np.stack(rows[i]).astype(np.float32)  # [rows, *the tensor's shape]
        limits = None
        if scale:
            info = np.iinfo(detail["dtype"])
            values = (values - zero_point) * scale
            limits = ((info.min - zero_point) * scale, (info.max - zero_point) * scale)
        taps.append(Tap(detail["name"], tflite_module(detail["name"]), values, limits))
    return taps


def tflite_module(name: str) -> str | None:
    """litert-torch's scope "Model/torch.nn.modules.container.Sequential_body/
    torch.nn.modules.linear.Linear_0;3" -> "body.0"; None for a name with no scope."""
    scope = name.split(";")[0]
    if "/" not in scope and "." not in scope:
        return None  # "arith.constant", "serving_default_x": made by the converter
    parts = scope.split("/")[1:]  # the first part is the model's own class
    return ".".join(part.rsplit(".", 1)[-1].split("_", 1)[1] for part in parts
                    if "_" in part.rsplit(".", 1)[-1])


# -- ONNX ---------------------------------------------------------------------------------

def onnx_taps(path: Path, inputs: list[np.ndarray]) -> list[Tap]:
    import onnx
    import onnxruntime as ort

    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    float_values = {v.name for v in model.graph.value_info
                    if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT}
    listed = {o.name for o in model.graph.output}
    order, modules = [], {}
    for node in model.graph.node:
        scopes = next((p.value for p in node.metadata_props
                       if p.key == "pkg.torch.onnx.name_scopes"), None)
        for output in node.output:
            if output in float_values or output in listed:
                order.append(output)
                modules[output] = onnx_module(scopes)
    model.graph.output.extend(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT,
                                                                 None)
                              for name in order if name not in listed)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    feed = {i.name: x for i, x in zip(session.get_inputs(), inputs)}
    names = [o.name for o in session.get_outputs()]
    values = dict(zip(names, session.run(names, feed)))
    return [Tap(name, modules[name], np.asarray(values[name], np.float32)) for name in order]


def onnx_module(scopes: str | None) -> str | None:
    """torch.onnx's name scopes "['', 'recurrent', 'tanh']": the module path, then the node."""
    if not scopes:
        return None
    import ast

    path = ast.literal_eval(scopes)[1:-1]
    return ".".join(path)


# -- ExecuTorch ---------------------------------------------------------------------------

def executorch_taps(job: ExportJob, quantized: bool, inputs: list[np.ndarray]) -> list[Tap]:
    """The program is lowered again as export lowered it, with taps on every float value (in
    an int8 program: on each dequantize, the int8 value as the next layer reads it)."""
    with quiet():
        import executorch.kernels.quantized  # noqa: F401  out variants of (de)quantize ops
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.devtools.intermediate_output_tap import (FULL_TENSOR, strip_taps_,
                                                                 tap_intermediate_outputs_)
        from executorch.exir import to_edge_transform_and_lower
        from executorch.runtime import Runtime

        from pocketml.export.executorch_format import MAX_BATCH, exported_program

        program, specs = tap_intermediate_outputs_(exported_program(job, quantized),
                                                   rules=[(is_value, FULL_TENSOR)])
        nodes = {n.name: n for n in program.graph_module.graph.nodes}  # before lowering
        edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
        strip_taps_(edge)
        method = Runtime.get().load_program(edge.to_executorch().buffer).load_method("forward")
    chunks = []
    for start in range(0, len(inputs[0]), MAX_BATCH):
        tensors = [torch.from_numpy(np.ascontiguousarray(x[start:start + MAX_BATCH]))
                   for x in inputs]
        chunks.append([o.numpy() for o in method.execute(tensors)])
    taps = []
    for spec in specs:
        values = np.concatenate([chunk[spec.output_index] for chunk in chunks])
        node = nodes[spec.node_name]
        taps.append(Tap(spec.node_name, executorch_module(node), values.astype(np.float32),
                        dequantize_limits(node)))
    return taps


def is_value(node) -> bool:
    """A float tensor computed by the model: dequantized activations and float ops' results,
    not the quantize ops (their int8 values are read through the dequantize after them), not
    shapes."""
    value = node.meta.get("val")
    if node.op != "call_function" or not isinstance(value, torch.Tensor):
        return False
    target = str(node.target)
    if "dequantize_per_tensor" in target:
        return True
    return value.dtype == torch.float32 and "quantize" not in target


def executorch_module(node) -> str | None:
    """The module path of the op that made this value: through a quantize/dequantize pair
    (which the quantizer adds outside any module) back to the op it quantizes."""
    while "quantize" in str(node.target) and node.args and hasattr(node.args[0], "meta"):
        node = node.args[0]
    stack = node.meta.get("nn_module_stack")
    if not stack:
        return None
    path, _ = list(stack.values())[-1]
    return path.replace("L['self'].", "").replace("L__self___", "") if path else ""


def dequantize_limits(node) -> tuple[float, float] | None:
    if "dequantize_per_tensor" not in str(node.target):
        return None
    _, scale, zero_point, qmin, qmax, _ = node.args[:6]
    return (qmin - zero_point) * scale, (qmax - zero_point) * scale
