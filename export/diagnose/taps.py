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
from pocketml.export.convert.job import ExportJob


@dataclass
class Tap:
    name: str  # the runtime's own name for the tensor
    module: str | None  # dotted module path ("" = the model itself); None when unknown
    values: np.ndarray  # [rows, ...], float32 (integer tensors dequantized)
    limits: tuple[float, float] | None = None  # an integer tensor's representable range
    fused: tuple[str, ...] = ()  # other modules whose ops the tensor took in (TFLite fusions)
    activation: str | None = None  # TFLite: the activation fused into the op (tap_alignment)


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
    activations = fused_activations(path)
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
        modules = tflite_modules(detail["name"])
        taps.append(Tap(detail["name"], modules[-1] if modules else None, values, limits,
                        tuple(modules[:-1]), activations.get(i)))
    return taps


def tflite_modules(name: str) -> list[str]:
    """litert-torch's scope "Model/torch.nn.modules.container.Sequential_body/
    torch.nn.modules.linear.Linear_0;3" -> ["body.0"]. A fused op's tensor lists the scopes of
    the ops it took in, separated by ";" ("...Linear_0;;...ReLU_1;" -> ["body.0", "body.1"]),
    in no fixed order (a Conv2d fused with its ReLU lists the ReLU first). Empty for a name with no scope ("serving_default_x", made
    by the converter)."""
    scopes = [part for part in name.split(";") if "/" in part or part.count(".") > 1]
    return [".".join(part.rsplit(".", 1)[-1].split("_", 1)[1] for part in scope.split("/")[1:]
                     if "_" in part.rsplit(".", 1)[-1])  # the first part is the model's class
            for scope in scopes]


def fused_activations(path: Path) -> dict[int, str]:
    """Tensor index -> the activation TFLite fused into the op that writes it (RELU, ...)."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(Path(path).read_bytes(), 0)
    graph = schema.ModelT.InitFromObj(model).subgraphs[0]
    names = {v: k for k, v in vars(schema.ActivationFunctionType).items() if not k.startswith("_")}
    return {int(op.outputs[0]): names[op.builtinOptions.fusedActivationFunction]
            for op in graph.operators
            if getattr(op.builtinOptions, "fusedActivationFunction", 0)}


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
    """torch.onnx's name scopes "['', 'body', 'body.0', 'linear']": the module paths from
    the model down, then the node's own name."""
    if not scopes:
        return None
    import ast

    path = ast.literal_eval(scopes)[:-1]  # each scope is a full path: '', 'body', 'body.0'
    return path[-1] if path else ""


# -- ExecuTorch ---------------------------------------------------------------------------

def executorch_taps(job: ExportJob, quantized: bool, inputs: list[np.ndarray]) -> list[Tap]:
    """The program is lowered again as export lowered it, with taps on every float value (in
    an int8 program the dequantized int8 values too). Where XNNPACK refuses one of them as a
    delegate output (the kidney MLP's int8 program), only the integer layers' outputs and the
    last float op of each module are tapped (is_integer_value)."""
    with quiet():
        import executorch.kernels.quantized  # noqa: F401  out variants of (de)quantize ops
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.devtools.intermediate_output_tap import (FULL_TENSOR, strip_taps_,
                                                                 tap_intermediate_outputs_)
        from executorch.exir import to_edge_transform_and_lower
        from executorch.runtime import Runtime

        from pocketml.export.convert.executorch_format import MAX_BATCH, exported_program

        rules = (is_value, is_integer_value) if quantized else (is_value,)
        for rule in rules:
            program, specs = tap_intermediate_outputs_(exported_program(job, quantized),
                                                       rules=[(rule, FULL_TENSOR)])
            nodes = {n.name: n for n in program.graph_module.graph.nodes}  # before lowering
            try:
                edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
                break
            except RuntimeError:  # XNNPACK refused a tapped value; tap fewer
                if rule is rules[-1]:
                    raise
        strip_taps_(edge)
        method = Runtime.get().load_program(edge.to_executorch().buffer).load_method("forward")
    chunks = []
    for start in range(0, len(inputs[0]), MAX_BATCH):
        # XNNPACK sizes a tap's output for the batch planned at export, not the one fed: so
        # every call gets MAX_BATCH rows (the last rows repeated), and the extra are dropped
        rows = np.arange(start, start + MAX_BATCH).clip(max=len(inputs[0]) - 1)
        count = min(MAX_BATCH, len(inputs[0]) - start)
        outputs = method.execute([torch.from_numpy(np.ascontiguousarray(x[rows])) for x in inputs])
        chunks.append([o.numpy()[:count] if o.shape[0] == MAX_BATCH else o.numpy()
                       for o in outputs])
    # the file's own output last: what the model returns, whatever was tapped before it
    outputs = np.concatenate([chunk[0] for chunk in chunks]).astype(np.float32)
    taps = []
    for spec in specs:
        values = np.concatenate([chunk[spec.output_index] for chunk in chunks])
        node = nodes[spec.node_name]
        taps.append(Tap(spec.node_name, executorch_module(node), values.astype(np.float32),
                        dequantize_limits(node)))
    return taps + [Tap("output", None, outputs)]


def is_integer_value(node) -> bool:
    """In an int8 program: each integer layer's int8 output as the next layer reads it (the
    dequantize after it), and the last float op of a module outside the integer groups. A tap on a float op
    inside a dequantize-op-quantize group would split the group XNNPACK runs as one integer
    kernel and change what is measured. A value quantized before any integer layer has run
    (the model's input, its float scaling) enters the delegate as it is: tapped, ExecuTorch
    returned zeros for it, so it is left out."""
    if not is_value(node):
        return False
    if "dequantize_per_tensor" in str(node.target):
        return after_integer_layer(producer(node))
    module = executorch_module(node)
    return not (any(is_dequantize(a) for a in node.args)
                or any("quantize_per_tensor" in str(u.target) for u in node.users)
                or any(executorch_module(u) == module for u in node.users))  # not its last


def is_dequantize(node) -> bool:
    return hasattr(node, "target") and "dequantize" in str(node.target)


def after_integer_layer(node) -> bool:
    """Whether a dequantized value flows into `node`: it is computed by integer layers."""
    seen, todo = set(), [node]
    while todo:
        current = todo.pop()
        for arg in current.args:
            if hasattr(arg, "op") and arg not in seen:
                if is_dequantize(arg) and "per_channel" not in str(arg.target):
                    return True
                seen.add(arg)
                todo.append(arg)
    return False


# Ops that hand their input on unchanged at inference (dropout in eval mode): XNNPACK refuses
# a delegate output that is one of its inputs, and they compute nothing to compare.
PASS_THROUGH = ("dropout", "clone", "alias")


def is_value(node) -> bool:
    """A float tensor computed by the model (not a shape, not an int8 tensor)."""
    value = node.meta.get("val")
    if node.op != "call_function" or not isinstance(value, torch.Tensor):
        return False
    target = str(node.target)
    if any(op in target for op in PASS_THROUGH):
        return False
    return value.dtype == torch.float32 and ("dequantize_per_tensor" in target
                                            or "quantize" not in target)


def producer(node):
    """The op whose value this is: through a quantize/dequantize pair (which the quantizer
    adds outside any module) back to the op it quantizes."""
    while "quantize" in str(node.target) and node.args and hasattr(node.args[0], "meta"):
        node = node.args[0]
    return node


def executorch_module(node) -> str | None:
    """The module path of the op that made this value."""
    stack = producer(node).meta.get("nn_module_stack")
    if not stack:
        return None
    path, _ = list(stack.values())[-1]
    return path.replace("L['self'].", "").replace("L__self___", "") if path else ""


def dequantize_limits(node) -> tuple[float, float] | None:
    if "dequantize_per_tensor" not in str(node.target):
        return None
    _, scale, zero_point, qmin, qmax, _ = node.args[:6]
    return (qmin - zero_point) * scale, (qmax - zero_point) * scale
