"""Run the bundle's model.tflite on whatever this is: Android, iOS or a desktop.

One interface, two verbs: `load(bundle)` builds a predictor, `predict(row)` returns the
probability of the positive class for one row of raw feature values (floats, in the model's
column order). One class per platform; the platform is detected once, when this module loads.

Android and iOS reach their native TFLite runtimes through pyjnius and pyobjus; neither can
run here, so those two classes are exercised only on a device (mobile_app/README.md)."""

from __future__ import annotations

import os
import struct
from base64 import b64decode, b64encode
from collections.abc import Sequence


def detect_platform() -> str:
    """The same test as kivy.utils.platform, without importing Kivy."""
    if "ANDROID_ARGUMENT" in os.environ:  # set by python-for-android's bootstrap
        return "android"
    if os.environ.get("KIVY_BUILD", "") == "ios":  # set by kivy-ios
        return "ios"
    return "desktop"


PLATFORM = detect_platform()


class Predictor:
    runtime = "?"  # shown in the app's footer, e.g. "LiteRT (desktop)"

    @classmethod
    def load(cls, bundle) -> "Predictor":
        raise NotImplementedError

    def predict(self, row: Sequence[float]) -> float:
        raise NotImplementedError


class DesktopLiteRT(Predictor):
    """ai_edge_litert, the same interpreter `pocketml verify` checks the file with."""

    runtime = "LiteRT (desktop)"

    def __init__(self, interpreter):
        import numpy as np

        self.interpreter = interpreter
        interpreter.allocate_tensors()
        self.input = interpreter.get_input_details()[0]
        self.output = interpreter.get_output_details()[0]
        self.row = np.zeros(self.input["shape"], np.float32)  # reused: one allocation per app

    @classmethod
    def load(cls, bundle) -> "DesktopLiteRT":
        from ai_edge_litert.interpreter import Interpreter

        return cls(Interpreter(model_path=str(bundle.path("model.tflite")), num_threads=1))

    def predict(self, row: Sequence[float]) -> float:
        self.row[0, :] = row
        self.interpreter.set_tensor(self.input["index"], self.row)
        self.interpreter.invoke()
        return float(self.interpreter.get_tensor(self.output["index"]).reshape(-1)[0])


class DesktopOnnx(Predictor):
    """ONNX Runtime on model.onnx, for desktops where LiteRT has no wheel (Windows, macOS x86)."""

    runtime = "ONNX Runtime (desktop fallback)"

    def __init__(self, session):
        import numpy as np

        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.row = np.zeros((1, session.get_inputs()[0].shape[1]), np.float32)

    @classmethod
    def load(cls, bundle) -> "DesktopOnnx":
        import onnxruntime as ort

        if "model.onnx" not in bundle.manifest["files"]:
            raise ImportError("the bundle has no model.onnx listed in its manifest")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(str(bundle.path("model.onnx")), options,
                                       providers=["CPUExecutionProvider"])
        return cls(session)

    def predict(self, row: Sequence[float]) -> float:
        self.row[0, :] = row
        return float(self.session.run(None, {self.input_name: self.row})[0].reshape(-1)[0])


class AndroidLiteRT(Predictor):
    """LiteRT's Java Interpreter (Maven com.google.ai.edge.litert:litert, added by buildozer's
    android.gradle_dependencies), called through pyjnius with direct native-order buffers."""

    runtime = "LiteRT (Android)"

    @classmethod
    def load(cls, bundle) -> "AndroidLiteRT":
        from jnius import autoclass

        self = cls()
        Interpreter = autoclass("org.tensorflow.lite.Interpreter")
        ByteBuffer = autoclass("java.nio.ByteBuffer")
        order = autoclass("java.nio.ByteOrder").nativeOrder()
        self.interpreter = Interpreter(autoclass("java.io.File")(str(bundle.path("model.tflite"))))
        n_inputs = self.interpreter.getInputTensor(0).numElements()
        self.input = ByteBuffer.allocateDirect(4 * n_inputs).order(order)
        self.output = ByteBuffer.allocateDirect(4).order(order)
        return self

    def predict(self, row: Sequence[float]) -> float:
        self.input.rewind()
        for value in row:
            self.input.putFloat(float(value))
        self.input.rewind()
        self.output.rewind()
        self.interpreter.run(self.input, self.output)
        return float(self.output.getFloat(0))


class IOSTFLite(Predictor):
    """The TFLite Objective-C API (pod TensorFlowLiteObjC) through pyobjus.

    Tensor bytes cross the bridge as base64 NSStrings: pyobjus handles NSString reliably and
    raw void* buffers poorly, and 40 bytes of base64 cost microseconds."""

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
        return self

    def predict(self, row: Sequence[float]) -> float:
        packed = b64encode(struct.pack(f"<{len(row)}f", *row)).decode("ascii")
        data = self.NSData.alloc().initWithBase64EncodedString_options_(self.objc_str(packed), 0)
        self.interpreter.inputTensorAtIndex_error_(0, None).copyData_error_(data, None)
        self.interpreter.invokeWithError_(None)
        output = self.interpreter.outputTensorAtIndex_error_(0, None).dataWithError_(None)
        return struct.unpack("<f", b64decode(output.base64EncodedStringWithOptions_(0).UTF8String())[:4])[0]


def load_predictor(bundle, platform: str = PLATFORM) -> Predictor:
    """The predictor for this platform; on a desktop LiteRT, else ONNX Runtime."""
    if platform == "android":
        return AndroidLiteRT.load(bundle)
    if platform == "ios":
        return IOSTFLite.load(bundle)
    try:
        return DesktopLiteRT.load(bundle)
    except ImportError:
        pass
    try:
        return DesktopOnnx.load(bundle)
    except ImportError as err:
        raise RuntimeError("no runtime for the model on this desktop: "
                           "pip install ai-edge-litert (or onnxruntime)") from err
