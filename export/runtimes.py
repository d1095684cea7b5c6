"""Run an exported file in a real runtime: ONNX Runtime (CPU, CUDA when present), the LiteRT
interpreter, TensorFlow's own TFLite interpreter as an independent second runtime, and
ExecuTorch's Python runtime.

Each runner takes a list of arrays (one per model input, batch first, of any dtype) and returns
a list of arrays (one per output). Inputs are cast to the dtype the file declares, and a
full-integer model gets its inputs quantized and its outputs dequantized here, so callers
always speak the PyTorch module's types. `bare(inputs)` gives the runtime's own loop for a
benchmark (set input, invoke, read output) with nothing of pocketml in it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from pocketml.export.console import quiet

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter

ONNX_RUNTIMES = ("onnxruntime", "onnxruntime-cuda")
TFLITE_RUNTIMES = ("litert", "tensorflow")
EXECUTORCH_RUNTIMES = ("executorch",)
RUNTIMES_BY_SUFFIX = {".onnx": ONNX_RUNTIMES, ".tflite": TFLITE_RUNTIMES,
                      ".pte": EXECUTORCH_RUNTIMES}
LOWERING_METHOD = "pocketml_lowering"  # a .pte's record of what was delegated to XNNPACK
# The float32 TFLite file computed in half precision (fp16_arithmetic): its row decides only
# whether the app may use fp16 delegates, never the verification's verdict.
FP16_ARITHMETIC = "litert, fp16 arithmetic"
GATED_RUNTIMES = {FP16_ARITHMETIC: "fp16 delegates in the app"}
# The package whose release computed each runtime's rows (arm64 rows run the same release,
# installed for aarch64, so a name's first word decides).
RUNTIME_PACKAGES = {"litert": ("ai-edge-litert",), "tensorflow": ("tensorflow-cpu", "tensorflow"),
                    "onnxruntime": ("onnxruntime",), "onnxruntime-cuda": ("onnxruntime-gpu",),
                    "executorch": ("executorch",)}


class OnnxRunner:
    """A file exported with a fixed batch (when a dynamic one did not run) takes larger
    batches in chunks of that size."""
    lowering = None

    def __init__(self, path: Path, provider: str = "CPUExecutionProvider"):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=[provider])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.dtypes = [ONNX_DTYPES[i.type] for i in self.session.get_inputs()]
        rows = self.session.get_inputs()[0].shape[0]
        self.batch_limit = rows if isinstance(rows, int) else None

    def _feed(self, inputs: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        return {name: np.asarray(x, dtype) for name, x, dtype in
                zip(self.input_names, inputs, self.dtypes)}

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        if self.batch_limit is not None and len(inputs[0]) > self.batch_limit:
            return in_chunks(self.run, inputs, self.batch_limit)
        return self.session.run(None, self._feed(inputs))

    def bare(self, inputs: Sequence[np.ndarray]) -> Callable[[], object] | None:
        """None when the file cannot take this batch whole (it then runs in chunks)."""
        if self.batch_limit is not None and len(inputs[0]) > self.batch_limit:
            return None
        session, feed = self.session, self._feed(inputs)
        return lambda: session.run(None, feed)


ONNX_DTYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64,
               "tensor(int32)": np.int32, "tensor(bool)": np.bool_}


class TFLiteRunner:
    """Drives a .tflite file through the tensor API.

    litert-torch writes a fixed batch of 1. Most graphs can be resized to any batch; some
    (recurrent layers reshape with constant sizes) cannot, and then a batch runs row by row,
    which is what a phone does anyway. `resizable` records which case this file is.
    """
    lowering = None

    def __init__(self, path: Path, interpreter_class):
        with quiet():  # the XNNPACK delegate announces itself on stderr when tensors are allocated
            self.interpreter = interpreter_class(model_path=str(path), num_threads=1)
            self.interpreter.allocate_tensors()
        self._read_details()
        self.file_batch = int(self.inputs[0]["shape"][0])
        self.resizable = True
        self.input_names = [d["name"] for d in self.inputs]
        self.output_names = [d["name"] for d in self.outputs]

    @property
    def batch_limit(self) -> int | None:
        return None if self.resizable else self.file_batch

    def _read_details(self) -> None:
        self.inputs = self.interpreter.get_input_details()
        self.outputs = self.interpreter.get_output_details()

    def _resize(self, shapes: list[tuple[int, ...]]) -> None:
        for detail, shape in zip(self.inputs, shapes):
            self.interpreter.resize_tensor_input(detail["index"], list(shape))
        self.interpreter.allocate_tensors()
        self._read_details()

    def _shaped(self, shapes) -> bool:
        return all(tuple(d["shape"]) == tuple(s) for d, s in zip(self.inputs, shapes))

    def _fit(self, inputs: Sequence[np.ndarray]) -> bool:
        """Shape the interpreter for these inputs; False when it takes them only row by row."""
        shapes = [x.shape for x in inputs]
        refused = False
        if self.resizable and not self._shaped(shapes):
            try:
                self._resize(shapes)
            except RuntimeError:  # the inputs are resized, the graph is not: size them back
                self.resizable, refused = False, True
        if not self.resizable:
            rows = [(self.file_batch, *shape[1:]) for shape in shapes]
            if refused or not self._shaped(rows):
                self._resize(rows)
        return self._shaped(shapes)

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        if not self._fit(inputs):
            return in_chunks(self._invoke, inputs, 1)
        return self._invoke(inputs)

    def _invoke(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        interpreter = self.interpreter
        for detail, x in zip(self.inputs, inputs):
            interpreter.set_tensor(detail["index"], quantize(x, detail))
        interpreter.invoke()
        return [dequantize(interpreter.get_tensor(d["index"]), d) for d in self.outputs]

    def bare(self, inputs: Sequence[np.ndarray]) -> Callable[[], object] | None:
        """None when the file cannot take this batch whole (it then runs row by row)."""
        if not self._fit(inputs):
            return None
        interpreter = self.interpreter
        feeds = [(d["index"], quantize(x, d)) for d, x in zip(self.inputs, inputs)]
        outputs = [d["index"] for d in self.outputs]

        def invoke():
            for index, x in feeds:
                interpreter.set_tensor(index, x)
            interpreter.invoke()
            return [interpreter.get_tensor(index) for index in outputs]
        return invoke


def in_chunks(run, inputs: Sequence[np.ndarray], rows: int) -> list[np.ndarray]:
    """`run` on `rows` rows at a time, the outputs joined."""
    chunks = [run([x[s:s + rows] for x in inputs]) for s in range(0, len(inputs[0]), rows)]
    return [np.concatenate(parts) for parts in zip(*chunks)]


def is_quantized(detail: dict) -> bool:
    scale, _ = detail["quantization"]
    return scale != 0


def quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    if not is_quantized(detail):
        return np.ascontiguousarray(x, dtype=detail["dtype"])
    scale, zero_point = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(detail["dtype"])


def dequantize(y: np.ndarray, detail: dict) -> np.ndarray:
    if not is_quantized(detail):
        return y.copy()
    scale, zero_point = detail["quantization"]
    return ((y.astype(np.float32) - zero_point) * scale).astype(np.float32)


class ExecuTorchRunner:
    """Drives a .pte file through executorch.runtime.

    ExecuTorch plans memory for the largest shapes the file was exported for: the batch the
    file declares (its first input's leading size) is the most it runs at once, so a larger
    batch runs in chunks of that size.
    """

    def __init__(self, path: Path):
        with quiet():  # torchao and cpuinfo report on stderr what this CPU lacks
            from executorch.extension.pybindings import portable_lib
            from executorch.runtime import Runtime

            # One inference thread, as the TFLite interpreters and the benchmark use.
            portable_lib._unsafe_reset_threadpool(1)
            self.program = Runtime.get().load_program(Path(path))
            self.method = self.program.load_method("forward")
        meta = self.method.metadata
        self.inputs = [meta.input_tensor_meta(i) for i in range(meta.num_inputs())]
        self.dtypes = [EXECUTORCH_DTYPES[info.dtype()] for info in self.inputs]
        self.batch_limit = self.inputs[0].sizes()[0]
        self.lowering = self._lowering()

    def _lowering(self) -> dict | None:
        """What the exporter delegated to XNNPACK and what it left to ExecuTorch's portable
        kernels, as recorded in the file (see executorch_format)."""
        if LOWERING_METHOD not in self.program.method_names:
            return None
        record, = self.program.load_method(LOWERING_METHOD).execute([])
        return json.loads(bytes(record.numpy()).decode())

    def _tensors(self, inputs: Sequence[np.ndarray]) -> list:
        import torch

        return [torch.from_numpy(np.ascontiguousarray(x, dtype))
                for x, dtype in zip(inputs, self.dtypes)]

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        if len(inputs[0]) > self.batch_limit:
            return in_chunks(self.run, inputs, self.batch_limit)
        for i, (x, sizes) in enumerate(zip(inputs, (self.lowering or {}).get("input_sizes", []))):
            wrong = [(axis, size) for axis, size in enumerate(sizes[1:], 1)
                     if size is not None and x.shape[axis] != size]
            if wrong:
                raise ValueError(f"input {i}: the file takes size {wrong[0][1]} on axis "
                                 f"{wrong[0][0]} only, not {x.shape[wrong[0][0]]}")
        return [o.numpy() for o in self.method.execute(self._tensors(inputs))]

    def bare(self, inputs: Sequence[np.ndarray]) -> Callable[[], object] | None:
        if len(inputs[0]) > self.batch_limit:
            return None
        method, tensors = self.method, self._tensors(inputs)
        return lambda: method.execute(tensors)


# ExecuTorch's ScalarType codes (those of c10) for the dtypes pocketml's inputs may have.
EXECUTORCH_DTYPES = {6: np.float32, 4: np.int64, 3: np.int32, 11: np.bool_}

# Runtimes that come with an extra rather than the default install, and how to add them.
OPTIONAL_RUNTIMES = {
    "tensorflow": "pip install 'pocketml[tensorflow]'",
    "onnxruntime-cuda": "pip install 'pocketml[gpu]' on a machine with a CUDA GPU",
}


# Installed is enough to plan a row for these: importing them costs seconds, paid where the row
# runs (a child process, isolated.py), and a broken install fails that row.
PLANNED_BY_PACKAGE = {"tensorflow": "tensorflow", "executorch": "executorch"}


def runtime_available(runtime: str) -> bool:
    if runtime in PLANNED_BY_PACKAGE:
        return importlib.util.find_spec(PLANNED_BY_PACKAGE[runtime]) is not None
    return import_runtime(runtime)


def import_runtime(runtime: str) -> bool:
    """Import the runtime's package; False when it is not installed."""
    try:
        if runtime == "onnxruntime-cuda":
            import onnxruntime as ort

            return "CUDAExecutionProvider" in ort.get_available_providers()
        if runtime in TFLITE_RUNTIMES:
            _interpreter_class(runtime)
        elif runtime == "executorch":
            with quiet():
                import executorch.runtime  # noqa: F401
        return True
    except ImportError:
        return False


def available_runtimes(path: Path) -> list[str]:
    """The runtimes installed here that can run this file."""
    return [r for r in RUNTIMES_BY_SUFFIX[Path(path).suffix] if runtime_available(r)]


def runtimes_not_available(path: Path) -> dict[str, str]:
    """Optional runtimes that could run this file but are not available here: name -> how."""
    present = available_runtimes(path)
    return {r: OPTIONAL_RUNTIMES[r] for r in RUNTIMES_BY_SUFFIX[Path(path).suffix]
            if r not in present and r in OPTIONAL_RUNTIMES}


def runtime_versions(runtimes) -> dict[str, str]:
    """Per runtime name of a parity row, the package and release that computed it
    ("ai-edge-litert 2.3.0"): the proof names what the app must link to compute the same."""
    from importlib import metadata

    versions = {}
    for runtime in runtimes:
        for package in RUNTIME_PACKAGES.get(runtime.split(" ")[0].rstrip(","), ()):
            try:
                versions[runtime] = f"{package} {metadata.version(package)}"
                break
            except metadata.PackageNotFoundError:
                continue
    return versions


def versions_markdown(document: dict) -> str:
    """parity.md's line naming the release behind each runtime's rows."""
    versions = document.get("runtime_versions") or {}
    if not versions:
        return ""
    return "\nComputed by: " + "; ".join(f"{r}: {v}" for r, v in versions.items()) + ".\n"


def runtime_plan(files: dict[str, Path]) -> tuple[dict[str, list[str]], dict[str, dict[str, str]]]:
    """Per format: the runtimes parity runs it in here, and those it cannot (with how to add
    them), so a report never passes silently on fewer runtimes than it could have used."""
    return ({fmt: available_runtimes(path) for fmt, path in files.items()},
            {fmt: runtimes_not_available(path) for fmt, path in files.items()})


def _interpreter_class(runtime: str):
    with quiet():
        if runtime == "litert":
            from ai_edge_litert.interpreter import Interpreter
            return Interpreter
        import tensorflow as tf

    # tf.lite.Interpreter warns on every construction that LiteRT replaces it: we know, and
    # run LiteRT too; TensorFlow's copy is kept as an independent second runtime.
    warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
    return tf.lite.Interpreter


def load_runner(path: Path, runtime: str):
    if runtime == "onnxruntime":
        return OnnxRunner(path)
    if runtime == "onnxruntime-cuda":
        return OnnxRunner(path, "CUDAExecutionProvider")
    if runtime in TFLITE_RUNTIMES:
        return TFLiteRunner(path, _interpreter_class(runtime))
    if runtime == "executorch":
        return ExecuTorchRunner(path)
    raise ValueError(f"unknown runtime {runtime!r}")


def run_file(path: Path, inputs: Sequence[np.ndarray], runtime: str) -> list[np.ndarray]:
    """One-shot helper: load `path` in `runtime` and run it once."""
    return load_runner(path, runtime).run(inputs)
