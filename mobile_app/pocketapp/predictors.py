"""Run the bundle's model.tflite on whatever this is: Android, iOS or a desktop.

One interface, two verbs: `load(bundle)` builds a predictor, `predict(row)` returns the
model's output for one row of raw feature values (floats, in the model's column order): the
probability of the positive class, a regressor's value, or a list of one probability per class. One class per platform; the platform is detected once, when this module loads.

What crosses into a runtime is decided in one place, `RowCodec`: at load it checks the model's
tensors against the form (one input tensor, float32, one element per column; one float32 out), and per row it
packs the values and unpacks exactly the output's bytes. Every predictor goes through it, so the
desktop tests run the same packing, size checks and decoding the phones run; only the Android
(pyjnius) and iOS (pyobjus) bridge calls themselves cannot run here (mobile_app/README.md)."""

from __future__ import annotations

import importlib
import math
import os
import struct
from base64 import b64decode, b64encode
from collections.abc import Sequence
from dataclasses import dataclass

from .bundle import BundleError

FLOAT32 = "FLOAT32"
FLOAT_BYTES = 4
# TFLTensorDataType (TFLTensor.h): Float32 is 1 in every release; the other values moved when
# Float16 was inserted, so only the one this app feeds is named.
IOS_TENSOR_TYPES = {1: FLOAT32}
# The pod ios/Podfile pins (a test holds the two equal). Its kernels are TensorFlow Lite's of
# that release, not the ai-edge-litert release `pocketml verify` ran: on iOS the golden rows of
# the self-check are the only proof that they compute what was verified.
IOS_POD = "TensorFlowLiteObjC 2.17.0"


class ModelMismatch(ValueError):
    """The model's tensors are not what the form feeds or the app reads. Shown on screen."""


def detect_platform() -> str:
    """The same test as kivy.utils.platform, without importing Kivy."""
    if "ANDROID_ARGUMENT" in os.environ:  # set by python-for-android's bootstrap
        return "android"
    if os.environ.get("KIVY_BUILD", "") == "ios":  # set by kivy-ios
        return "ios"
    return "desktop"


PLATFORM = detect_platform()


def installed(package: str, module: str) -> str:
    """The release of a desktop runtime's wheel, "ai-edge-litert 2.3.0", from its loaded module's
    __version__ (importlib.metadata's search of every installed package cost 40 ms of a start)."""
    return f"{package} {importlib.import_module(module).__version__}"


def element_count(shape: Sequence[int]) -> int:
    return math.prod(int(d) for d in shape)


@dataclass(frozen=True)
class RowCodec:
    """One row in (float32, native byte order: what a tensor holds), one probability (or
    value) out, or one probability per class."""

    n_inputs: int
    output_bytes: int = FLOAT_BYTES

    @classmethod
    def check(cls, columns: int, input_type: str, input_elements: int, output_type: str,
              output_elements: int, output_bytes: int, *, tensors: tuple[int, int],
              outputs: int = 1) -> "RowCodec":
        """The codec for a model whose tensors are these (`tensors`: how many inputs and
        outputs the model has; the first of each is described); ModelMismatch naming what
        differs."""
        rebuild = ("model.tflite and schema.json do not belong together: rebuild the bundle "
                   "with `pocketml bundle`.")
        if tuple(tensors) != (1, 1):  # a second input would run on whatever its buffer holds
            raise ModelMismatch(f"model.tflite has {tensors[0]} input and {tensors[1]} output "
                                f"tensor(s), but the form gives one row to one input and reads "
                                f"one output. {rebuild}")
        if input_type != FLOAT32:
            raise ModelMismatch(f"model.tflite takes {input_type} input, but the form gives "
                                f"{FLOAT32} values. {rebuild}")
        if input_elements != columns:
            raise ModelMismatch(f"model.tflite takes {input_elements} values per row, but "
                                f"schema.json lists {columns} columns. {rebuild}")
        if (output_type != FLOAT32 or output_elements != outputs
                or output_bytes != FLOAT_BYTES * outputs):
            wanted = ("one {} probability" if outputs == 1 else f"{outputs} {{}} probabilities")
            raise ModelMismatch(f"model.tflite gives {output_elements} {output_type} value(s) "
                                f"({output_bytes} bytes) per row; the app reads "
                                f"{wanted.format(FLOAT32)} ({FLOAT_BYTES * outputs} bytes). "
                                f"{rebuild}")
        return cls(columns, output_bytes)

    @property
    def input_bytes(self) -> int:
        return FLOAT_BYTES * self.n_inputs

    def pack(self, row: Sequence[float]) -> bytes:
        if len(row) != self.n_inputs:
            raise ValueError(f"a row of {len(row)} values for a model that takes {self.n_inputs}")
        return struct.pack(f"={self.n_inputs}f", *row)

    def unpack(self, data: bytes) -> float | list[float]:
        """One number, or a list of one per class."""
        if len(data) != self.output_bytes:
            raise ValueError(f"the runtime returned {len(data)} output bytes, expected "
                             f"{self.output_bytes}")
        values = struct.unpack(f"={self.output_bytes // FLOAT_BYTES}f", data)
        return values[0] if len(values) == 1 else list(values)


class Predictor:
    runtime = "?"  # shown in the app's footer, e.g. "LiteRT (desktop)"
    proof_runtime = "litert"  # the runtime of `pocketml verify` whose rows this one repeats

    def release(self) -> str:
        """The runtime release computing here, as the runtime itself reports it."""
        raise NotImplementedError

    def runtime_version(self) -> str:
        """release(), or why it is unknown: a log line never stops the app."""
        try:
            return self.release()
        except Exception as err:
            return f"release unknown ({first_line(err)})"

    @classmethod
    def load(cls, bundle) -> "Predictor":
        raise NotImplementedError

    def predict(self, row: Sequence[float]) -> float:
        raise NotImplementedError


class DesktopLiteRT(Predictor):
    """ai_edge_litert, the same interpreter `pocketml verify` checks the file with."""

    runtime = "LiteRT (desktop)"

    def __init__(self, interpreter, columns: int, n_outputs: int = 1):
        import numpy as np

        self.np = np
        self.interpreter = interpreter
        interpreter.allocate_tensors()
        inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
        self.input, self.output = inputs[0], outputs[0]
        kind = lambda tensor: np.dtype(tensor["dtype"]).name.upper()
        self.codec = RowCodec.check(
            columns, kind(self.input), element_count(self.input["shape"]), kind(self.output),
            element_count(self.output["shape"]),
            interpreter.get_tensor(self.output["index"]).nbytes,
            tensors=(len(inputs), len(outputs)), outputs=n_outputs)

    @classmethod
    def load(cls, bundle) -> "DesktopLiteRT":
        from ai_edge_litert.interpreter import Interpreter

        return cls(Interpreter(model_path=str(bundle.path("model.tflite")), num_threads=1),
                   bundle.form.n_columns, bundle.form.n_outputs)

    def release(self) -> str:
        return installed("ai-edge-litert", "ai_edge_litert")

    def predict(self, row: Sequence[float]) -> float:
        packed = self.np.frombuffer(self.codec.pack(row), self.np.float32)
        self.interpreter.set_tensor(self.input["index"], packed.reshape(self.input["shape"]))
        self.interpreter.invoke()
        return self.codec.unpack(self.interpreter.get_tensor(self.output["index"]).tobytes())


class DesktopOnnx(Predictor):
    """ONNX Runtime on model.onnx, for desktops where LiteRT has no wheel (Windows, macOS x86)."""

    runtime = "ONNX Runtime (desktop fallback)"
    proof_runtime = "onnxruntime"
    ONNX_TYPES = {"tensor(float)": FLOAT32}

    def __init__(self, session, columns: int, n_outputs: int = 1):
        import numpy as np

        self.np = np
        self.session = session
        inputs, outputs = session.get_inputs(), session.get_outputs()
        given, output = inputs[0], outputs[0]
        self.input_name = given.name
        # one row in the input's own shape: a window [1, W, 1], an image [1, 1, 28, 28]
        self.row_shape = [1, *(d if isinstance(d, int) else -1 for d in given.shape[1:])]
        per_row = lambda shape: element_count(shape[1:])  # the batch axis is symbolic
        out_type = self.ONNX_TYPES.get(output.type, output.type)
        self.codec = RowCodec.check(columns, self.ONNX_TYPES.get(given.type, given.type),
                                    per_row(given.shape), out_type, per_row(output.shape),
                                    per_row(output.shape) * FLOAT_BYTES,
                                    tensors=(len(inputs), len(outputs)), outputs=n_outputs)

    @classmethod
    def load(cls, bundle) -> "DesktopOnnx":
        import onnxruntime as ort

        if "model.onnx" not in bundle.manifest["files"]:
            raise ImportError("the bundle has no model.onnx listed in its manifest")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(str(bundle.path("model.onnx")), options,
                                       providers=["CPUExecutionProvider"])
        return cls(session, bundle.form.n_columns, bundle.form.n_outputs)

    def release(self) -> str:
        return installed("onnxruntime", "onnxruntime")

    def predict(self, row: Sequence[float]) -> float:
        packed = self.np.frombuffer(self.codec.pack(row), self.np.float32).reshape(self.row_shape)
        return self.codec.unpack(self.session.run(None, {self.input_name: packed})[0].tobytes())


class AndroidLiteRT(Predictor):
    """LiteRT's Java Interpreter (Maven com.google.ai.edge.litert:litert, added by buildozer's
    android.gradle_dependencies), called through pyjnius with direct native-order buffers sized
    from the tensors' own byte counts. LiteRT 2.x ships org.tensorflow.lite.Interpreter in that
    artifact beside its newer CompiledModel API (LiteRT's litert/kotlin/src/copied_from_tflite/);
    the Interpreter is what ai_edge_litert.interpreter.Interpreter drives in every proof, so the
    phone runs the path that was verified."""

    runtime = "LiteRT (Android)"

    @classmethod
    def load(cls, bundle) -> "AndroidLiteRT":
        from jnius import autoclass

        self = cls()
        ByteBuffer = autoclass("java.nio.ByteBuffer")
        order = autoclass("java.nio.ByteOrder").nativeOrder()
        self.interpreter = autoclass("org.tensorflow.lite.Interpreter")(
            autoclass("java.io.File")(str(bundle.path("model.tflite"))))
        given, output = self.interpreter.getInputTensor(0), self.interpreter.getOutputTensor(0)
        self.codec = RowCodec.check(bundle.form.n_columns, given.dataType().name(),
                                    given.numElements(), output.dataType().name(),
                                    output.numElements(), output.numBytes(),
                                    tensors=(self.interpreter.getInputTensorCount(),
                                             self.interpreter.getOutputTensorCount()),
                                    outputs=bundle.form.n_outputs)
        self.input = ByteBuffer.allocateDirect(given.numBytes()).order(order)
        self.output = ByteBuffer.allocateDirect(output.numBytes()).order(order)
        return self

    def release(self) -> str:
        from jnius import autoclass

        return f"LiteRT {autoclass('org.tensorflow.lite.TensorFlowLite').runtimeVersion()}"

    def predict(self, row: Sequence[float]) -> float:
        self.input.clear()
        self.input.put(self.codec.pack(row))
        self.input.rewind()
        self.output.clear()
        self.interpreter.run(self.input, self.output)
        written = bytearray(self.output.position())  # what the interpreter copied out
        self.output.rewind()
        self.output.get(written)  # pyjnius copies the Java byte[] back into `written`
        return self.codec.unpack(bytes(written))


class IOSTFLite(Predictor):
    """The TFLite Objective-C API (pod TensorFlowLiteObjC) through pyobjus.

    Tensor bytes cross the bridge as base64 NSStrings: pyobjus handles NSString reliably and
    raw void* buffers poorly, and 40 bytes of base64 cost microseconds. Every BOOL and nullable
    result is checked: an unchecked copyData:error: would leave the previous row in the tensor."""

    runtime = "TFLite (iOS)"

    @classmethod
    def load(cls, bundle) -> "IOSTFLite":
        from pyobjus import autoclass, objc_str

        self = cls()
        self.objc_str = objc_str
        self.NSData = autoclass("NSData")
        interpreter = autoclass("TFLInterpreter").alloc().initWithModelPath_error_(
            objc_str(str(bundle.path("model.tflite"))), None)
        if interpreter is None or not interpreter.allocateTensorsWithError_(None):
            raise RuntimeError("TFLInterpreter could not load model.tflite")
        self.interpreter = interpreter
        self.input = interpreter.inputTensorAtIndex_error_(0, None)
        self.output = interpreter.outputTensorAtIndex_error_(0, None)
        if self.input is None or self.output is None:
            raise RuntimeError("TFLInterpreter has no input or output tensor 0")
        kind = lambda tensor: IOS_TENSOR_TYPES.get(tensor.dataType, f"type {tensor.dataType}")
        n_out = element_count(self.shape(self.output))
        self.codec = RowCodec.check(bundle.form.n_columns, kind(self.input),
                                    element_count(self.shape(self.input)), kind(self.output),
                                    n_out, n_out * FLOAT_BYTES,
                                    tensors=(interpreter.inputTensorCount,
                                             interpreter.outputTensorCount),
                                    outputs=bundle.form.n_outputs)
        return self

    def release(self) -> str:
        return IOS_POD

    @staticmethod
    def shape(tensor) -> list[int]:
        dims = tensor.shapeWithError_(None)
        if dims is None:
            raise RuntimeError(f"TFLTensor {tensor.name.UTF8String()} has no shape")
        return [dims.objectAtIndex_(i).intValue() for i in range(dims.count())]

    def predict(self, row: Sequence[float]) -> float:
        packed = b64encode(self.codec.pack(row)).decode("ascii")
        data = self.NSData.alloc().initWithBase64EncodedString_options_(self.objc_str(packed), 0)
        if not self.input.copyData_error_(data, None):
            raise RuntimeError("TFLTensor copyData:error: refused the row")
        if not self.interpreter.invokeWithError_(None):
            raise RuntimeError("TFLInterpreter invokeWithError: failed")
        output = self.output.dataWithError_(None)
        if output is None:
            raise RuntimeError("TFLTensor dataWithError: returned no output")
        return self.codec.unpack(b64decode(output.base64EncodedStringWithOptions_(0).UTF8String()))


class UnreadableModel(BundleError):
    """The runtime cannot load the model file at all (empty, truncated, not a TFLite file): a
    refusal like a damaged bundle, in words, never the runtime's own text alone."""


def load_predictor(bundle, platform: str = PLATFORM) -> Predictor:
    """The predictor for this platform; on a desktop LiteRT, else ONNX Runtime. In half
    precision, as a GPU delegate computes: half_precision.load_fp16_predictor."""
    if platform == "android":
        return load_checked(AndroidLiteRT, bundle)
    if platform == "ios":
        return load_checked(IOSTFLite, bundle)
    try:
        return load_checked(DesktopLiteRT, bundle)
    except ImportError:
        pass
    try:
        return load_checked(DesktopOnnx, bundle)
    except ImportError as err:
        raise RuntimeError("no runtime for the model on this desktop: "
                           "pip install ai-edge-litert (or onnxruntime)") from err


def load_checked(predictor: type[Predictor], bundle) -> Predictor:
    """`predictor.load(bundle)`; UnreadableModel when the runtime refuses the file itself."""
    try:
        return predictor.load(bundle)
    except (ImportError, ModelMismatch):
        raise
    except Exception as err:
        name = "model.onnx" if predictor is DesktopOnnx else "model.tflite"
        raise UnreadableModel(
            f"{name} cannot be loaded by {predictor.runtime}: the file is damaged, truncated or "
            f"not a model file (the runtime says: {first_line(err)}). The model was not loaded. "
            "Rebuild the bundle with `pocketml bundle` (or install the app again).") from err


def first_line(err: Exception) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:200] if lines else type(err).__name__
