"""Fakes of the phone APIs the app calls through pyjnius (Android) and pyobjus (iOS), for the
parts of the app that cannot run here otherwise. Each copies its platform's documented contract,
errors included, and the two model runtimes run the real model: they wrap ai_edge_litert, so a
wrong byte order, a short buffer or a missed check gives a wrong number or an exception here as
it would on a phone.

Install one with `monkeypatch.setitem(sys.modules, "jnius", FakeJnius(...))` (or "pyobjus")."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np

# LiteRT Java's org.tensorflow.lite.DataType names, by numpy dtype.
JAVA_DATA_TYPES = {"float32": "FLOAT32", "float16": "FLOAT16", "int32": "INT32",
                   "uint8": "UINT8", "int64": "INT64", "int8": "INT8", "bool": "BOOL",
                   "int16": "INT16"}
# TFLTensorDataType (TFLTensor.h of TensorFlowLiteObjC 2.x).
OBJC_DATA_TYPES = {"float32": 1, "float16": 2, "int32": 3, "uint8": 4, "int64": 5, "bool": 6,
                   "int16": 7, "int8": 8, "float64": 9}


class JavaException(Exception):
    """What pyjnius raises for a Java exception (jnius.JavaException)."""


def litert(model_path: str):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=model_path, num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


# --- LiteRT's Java API (com.google.ai.edge.litert:litert) and java.nio ----------------------
# The artifact of the release buildozer.spec pins (2.3.0) carries org.tensorflow.lite's
# Interpreter, Tensor and TensorFlowLite classes beside the CompiledModel API; these fakes follow
# google-ai-edge/LiteRT's litert/kotlin/src/copied_from_tflite/java/org/tensorflow/lite/
# Interpreter.java (the File constructor, run(input, output) through InterpreterApi) and
# TensorFlowLite.java (runtimeVersion()).

class ByteBuffer:
    """java.nio.ByteBuffer, direct: position, limit and capacity as the JDK keeps them."""

    def __init__(self, capacity: int):
        self.data = bytearray(capacity)
        self._position, self.limit = 0, capacity

    @classmethod
    def allocateDirect(cls, capacity: int) -> "ByteBuffer":
        return cls(capacity)

    def order(self, _byte_order) -> "ByteBuffer":
        return self

    def clear(self) -> "ByteBuffer":
        self._position, self.limit = 0, len(self.data)
        return self

    def rewind(self) -> "ByteBuffer":
        self._position = 0
        return self

    def position(self) -> int:
        return self._position

    def put(self, source: bytes) -> "ByteBuffer":
        """put(byte[]): pyjnius passes bytes as a byte[]; BufferOverflowException past limit."""
        if len(source) > self.limit - self._position:
            raise JavaException("java.nio.BufferOverflowException")
        self.data[self._position:self._position + len(source)] = source
        self._position += len(source)
        return self

    def get(self, destination: bytearray) -> "ByteBuffer":
        """get(byte[]): fills all of it; pyjnius copies the Java array back into a bytearray."""
        if len(destination) > self.limit - self._position:
            raise JavaException("java.nio.BufferUnderflowException")
        destination[:] = self.data[self._position:self._position + len(destination)]
        self._position += len(destination)
        return self


class ByteOrder:
    @staticmethod
    def nativeOrder() -> str:
        return "LITTLE_ENDIAN"


@dataclass
class JavaFile:
    path: str


@dataclass
class JavaDataType:
    value: str

    def name(self) -> str:
        return self.value


class JavaTensor:
    """org.tensorflow.lite.Tensor: what the app asks of one."""

    def __init__(self, detail: dict):
        self.dtype = np.dtype(detail["dtype"])
        self.dims = [int(d) for d in detail["shape"]]

    def dataType(self) -> JavaDataType:
        return JavaDataType(JAVA_DATA_TYPES[self.dtype.name])

    def numElements(self) -> int:
        return int(np.prod(self.dims))

    def numBytes(self) -> int:
        return self.numElements() * self.dtype.itemsize

    def shape(self) -> list[int]:
        return list(self.dims)


class JavaInterpreter:
    """org.tensorflow.lite.Interpreter(File): run(input, output) with direct ByteBuffers
    copies all of the input tensor's bytes from the buffer's start and puts the output's bytes
    into the output buffer at its position (Tensor.copyTo), advancing it."""

    def __init__(self, model: JavaFile):
        try:
            self.runtime = litert(model.path)
        except ValueError as err:
            raise JavaException(f"java.lang.IllegalArgumentException: {err}") from None
        self.inputs = self.runtime.get_input_details()
        self.outputs = self.runtime.get_output_details()

    def getInputTensorCount(self) -> int:
        return len(self.inputs)

    def getOutputTensorCount(self) -> int:
        return len(self.outputs)

    def getInputTensor(self, index: int) -> JavaTensor:
        return JavaTensor(self.detail(self.inputs, index))

    def getOutputTensor(self, index: int) -> JavaTensor:
        return JavaTensor(self.detail(self.outputs, index))

    @staticmethod
    def detail(details: list, index: int) -> dict:
        if not 0 <= index < len(details):
            raise JavaException(f"java.lang.IllegalArgumentException: Invalid index {index}")
        return details[index]

    def run(self, given: ByteBuffer, output: ByteBuffer) -> None:
        """Feeds input 0 only (runForMultipleInputsOutputs({input})): a second input tensor
        keeps whatever it holds, as on a phone."""
        detail = self.inputs[0]
        tensor = JavaTensor(detail)
        if len(given.data) != tensor.numBytes():
            raise JavaException(f"java.lang.IllegalArgumentException: Cannot copy to a "
                                f"TensorFlowLite tensor (input) with {tensor.numBytes()} bytes "
                                f"from a Java Buffer with {len(given.data)} bytes.")
        values = np.frombuffer(bytes(given.data), tensor.dtype).reshape(detail["shape"])
        self.runtime.set_tensor(detail["index"], values)
        self.runtime.invoke()
        output.put(self.runtime.get_tensor(self.outputs[0]["index"]).tobytes())


class TensorFlowLite:
    """org.tensorflow.lite.TensorFlowLite: runtimeVersion() names the linked runtime's release;
    here the wheel the fake interpreter runs."""

    @staticmethod
    def runtimeVersion() -> str:  # noqa: N802 (Java's name)
        from importlib.metadata import version

        return version("ai-edge-litert")


class FakeJnius:
    """The `jnius` module: autoclass(name) for the classes the app names."""

    JavaException = JavaException

    def __init__(self, **classes):
        self.classes = {"java.io.File": JavaFile, "java.nio.ByteBuffer": ByteBuffer,
                        "java.nio.ByteOrder": ByteOrder,
                        "org.tensorflow.lite.Interpreter": JavaInterpreter,
                        "org.tensorflow.lite.TensorFlowLite": TensorFlowLite, **classes}

    def autoclass(self, name: str):
        try:
            return self.classes[name]
        except KeyError:
            raise JavaException(f"java.lang.ClassNotFoundException: {name}") from None


# --- TFLite's Objective-C API (pod TensorFlowLiteObjC) and Foundation, through pyobjus -------

@dataclass
class NSString:
    text: str

    def UTF8String(self) -> bytes:  # pyobjus returns a char* as bytes
        return self.text.encode()


def objc_str(text: str) -> NSString:
    return NSString(text)


class NSData:
    def __init__(self, data: bytes = b""):
        self.data = data

    @classmethod
    def alloc(cls) -> "NSData":
        return cls()

    def initWithBase64EncodedString_options_(self, text: NSString, _options: int):
        try:
            self.data = base64.b64decode(text.text, validate=True)
        except ValueError:
            return None  # nil for text that is not base64
        return self

    def base64EncodedStringWithOptions_(self, _options: int) -> NSString:
        return NSString(base64.b64encode(self.data).decode("ascii"))


@dataclass
class NSNumber:
    value: int

    def intValue(self) -> int:
        return self.value


@dataclass
class NSArray:
    items: list

    def count(self) -> int:
        return len(self.items)

    def objectAtIndex_(self, index: int):
        return self.items[index]


class TFLTensor:
    """dataType and name are properties; every ...WithError:/...error: method returns nil or NO
    on failure (the NSError out-parameter is passed as None by the app)."""

    def __init__(self, interpreter: "TFLInterpreter", detail: dict, is_input: bool):
        self.owner, self.detail, self.is_input = interpreter, detail, is_input
        self.dtype = np.dtype(detail["dtype"])
        self.dataType = OBJC_DATA_TYPES[self.dtype.name]
        self.name = NSString(detail["name"])

    def shapeWithError_(self, _error) -> NSArray:
        return NSArray([NSNumber(int(d)) for d in self.detail["shape"]])

    def byte_count(self) -> int:
        return int(np.prod(self.detail["shape"])) * self.dtype.itemsize

    def copyData_error_(self, data: NSData, _error) -> bool:
        if not self.is_input or len(data.data) != self.byte_count():
            return False  # "the data size must match the input tensor's byte size"
        values = np.frombuffer(data.data, self.dtype).reshape(self.detail["shape"])
        self.owner.runtime.set_tensor(self.detail["index"], values)
        return True

    def dataWithError_(self, _error) -> NSData:
        return NSData(self.owner.runtime.get_tensor(self.detail["index"]).tobytes())


class TFLInterpreter:
    """initWithModelPath:error: returns nil for a file it cannot load; inputTensorCount and
    outputTensorCount are properties."""

    @classmethod
    def alloc(cls) -> "TFLInterpreter":
        return cls()

    def initWithModelPath_error_(self, path: NSString, _error):
        try:
            self.runtime = litert(path.text)
        except ValueError:
            return None
        self.inputs = self.runtime.get_input_details()
        self.outputs = self.runtime.get_output_details()
        self.inputTensorCount, self.outputTensorCount = len(self.inputs), len(self.outputs)
        return self

    def allocateTensorsWithError_(self, _error) -> bool:
        return True

    def inputTensorAtIndex_error_(self, index: int, _error):
        return TFLTensor(self, self.inputs[index], True) if index < len(self.inputs) else None

    def outputTensorAtIndex_error_(self, index: int, _error):
        return TFLTensor(self, self.outputs[index], False) if index < len(self.outputs) else None

    def invokeWithError_(self, _error) -> bool:
        self.runtime.invoke()
        return True


class FakePyobjus:
    """The `pyobjus` module: autoclass and objc_str."""

    objc_str = staticmethod(objc_str)

    def __init__(self):
        self.classes = {"TFLInterpreter": TFLInterpreter, "NSData": NSData}

    def autoclass(self, name: str):
        return self.classes[name]
