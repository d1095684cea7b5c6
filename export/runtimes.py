"""Run an exported file in a real runtime: ONNX Runtime (CPU, CUDA when present), the LiteRT
interpreter, and TensorFlow's own TFLite interpreter as an independent second runtime.

Each runner takes a list of float32 arrays (one per model input, batch first) and returns a
list of float32 arrays (one per output), whatever the file's own input/output types: a
full-integer model gets its inputs quantized and its outputs dequantized here.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pocketml.export.console import quiet

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter

ONNX_RUNTIMES = ("onnxruntime", "onnxruntime-cuda")
TFLITE_RUNTIMES = ("litert", "tensorflow")


class OnnxRunner:
    def __init__(self, path: Path, provider: str = "CPUExecutionProvider"):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=[provider])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        return self.session.run(None, dict(zip(self.input_names, inputs)))


class TFLiteRunner:
    """Drives a .tflite file through the tensor API.

    litert-torch writes a fixed batch of 1. Most graphs can be resized to any batch; some
    (recurrent layers reshape with constant sizes) cannot, and then a batch runs row by row,
    which is what a phone does anyway. `resizable` records which case this file is.
    """

    def __init__(self, path: Path, interpreter_class):
        with quiet():  # the XNNPACK delegate announces itself on stderr when tensors are allocated
            self.interpreter = interpreter_class(model_path=str(path), num_threads=1)
            self.interpreter.allocate_tensors()
        self._read_details()
        self.file_batch = int(self.inputs[0]["shape"][0])
        self.resizable = True
        self.input_names = [d["name"] for d in self.inputs]
        self.output_names = [d["name"] for d in self.outputs]

    def _read_details(self) -> None:
        self.inputs = self.interpreter.get_input_details()
        self.outputs = self.interpreter.get_output_details()

    def _resize(self, shapes: list[tuple[int, ...]]) -> None:
        for detail, shape in zip(self.inputs, shapes):
            self.interpreter.resize_tensor_input(detail["index"], list(shape))
        self.interpreter.allocate_tensors()
        self._read_details()

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        if any(tuple(d["shape"]) != x.shape for d, x in zip(self.inputs, inputs)):
            if self.resizable:
                try:
                    self._resize([x.shape for x in inputs])
                except RuntimeError:
                    self.resizable = False
                    self._resize([(self.file_batch, *x.shape[1:]) for x in inputs])
            if not self.resizable:
                rows = [self._invoke([x[i:i + 1] for x in inputs]) for i in range(len(inputs[0]))]
                return [np.concatenate(parts) for parts in zip(*rows)]
        return self._invoke(inputs)

    def _invoke(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        interpreter = self.interpreter
        for detail, x in zip(self.inputs, inputs):
            interpreter.set_tensor(detail["index"], quantize(x, detail))
        interpreter.invoke()
        return [dequantize(interpreter.get_tensor(d["index"]), d) for d in self.outputs]


def quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return np.ascontiguousarray(x, dtype=np.float32)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(detail["dtype"])


def dequantize(y: np.ndarray, detail: dict) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return y.copy()
    scale, zero_point = detail["quantization"]
    return ((y.astype(np.float32) - zero_point) * scale).astype(np.float32)


# Runtimes that come with an extra rather than the default install, and how to add them.
OPTIONAL_RUNTIMES = {
    "tensorflow": "pip install 'pocketml[tensorflow]'",
    "onnxruntime-cuda": "pip install 'pocketml[gpu]' on a machine with a CUDA GPU",
}


def available_runtimes(path: Path) -> list[str]:
    """The runtimes installed here that can run this file."""
    found = []
    if Path(path).suffix == ".onnx":
        import onnxruntime as ort

        found.append("onnxruntime")
        if "CUDAExecutionProvider" in ort.get_available_providers():
            found.append("onnxruntime-cuda")
    else:
        for runtime in TFLITE_RUNTIMES:
            try:
                _interpreter_class(runtime)
                found.append(runtime)
            except ImportError:
                pass
    return found


def runtimes_not_available(path: Path) -> dict[str, str]:
    """Optional runtimes that could run this file but are not available here: name -> how."""
    known = ONNX_RUNTIMES if Path(path).suffix == ".onnx" else TFLITE_RUNTIMES
    present = available_runtimes(path)
    return {r: OPTIONAL_RUNTIMES[r] for r in known if r not in present and r in OPTIONAL_RUNTIMES}


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
    raise ValueError(f"unknown runtime {runtime!r}")


def run_file(path: Path, inputs: Sequence[np.ndarray], runtime: str) -> list[np.ndarray]:
    """One-shot helper: load `path` in `runtime` and run it once."""
    return load_runner(path, runtime).run([np.asarray(x, np.float32) for x in inputs])
