"""Half-precision arithmetic: what a phone's GPU delegate does with model.tflite, and what
LiteRT's XNNPACK does under its FORCE_FP16 flag. `pocketml verify` runs the file that way and
the bundle records the verdict (delegates.json); the app runs the model in fp16 only when that
verdict says it passed, and refuses otherwise with the figures.

The kidney model cannot pass: its specific gravity (1.005-1.025) is held in half precision at
steps of 0.001, a fifth of its standard deviation, before the in-graph scaling even starts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from .contract import DELEGATES, TFLITE
from .predictors import PLATFORM, ModelMismatch, Predictor, RowCodec, installed, load_checked

XNNPACK_FLAG_FORCE_FP16 = 4  # xnnpack_delegate.h: TFLITE_XNNPACK_DELEGATE_FLAG_FORCE_FP16


class Fp16Refused(ModelMismatch):
    """The bundle does not show that the model computes right in half precision."""


def require_fp16_proof(bundle) -> dict:
    """The bundle's fp16 verdict when it passed; Fp16Refused saying why not otherwise."""
    if DELEGATES not in bundle.manifest["files"]:
        raise Fp16Refused(f"the bundle has no {DELEGATES}, so nothing shows that the model "
                          "computes right in half precision (a GPU delegate): it runs on the "
                          "CPU in float32. Rebuild the bundle with `pocketml bundle`.")
    try:
        record = json.loads(bundle.path(DELEGATES).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise Fp16Refused(f"{DELEGATES} cannot be read ({err}), so nothing shows that the model "
                          "computes right in half precision: it runs on the CPU in float32. "
                          "Rebuild the bundle with `pocketml bundle`.") from None
    verdict = record.get("fp16_arithmetic") if isinstance(record, dict) else None
    if isinstance(verdict, dict) and verdict.get("not_run"):
        raise Fp16Refused("`pocketml verify` could not run model.tflite in half precision "
                          f"({verdict['not_run']}), so nothing shows that it computes right "
                          "there; it runs on the CPU in float32.")
    if not isinstance(verdict, dict) or verdict.get("passed") is not True:
        why = verdict.get("why", "no verdict") if isinstance(verdict, dict) else "no verdict"
        raise Fp16Refused("model.tflite failed the fp16 arithmetic check of `pocketml verify` "
                          f"({why}), so the app does not run it through a delegate that "
                          "computes in half precision; it runs on the CPU in float32.")
    return verdict


def compiled_fp16_model(path: str):
    """LiteRT's CompiledModel on the CPU with XNNPACK computing in fp16."""
    from ai_edge_litert.compiled_model import CompiledModel
    from ai_edge_litert.cpu_options import CpuOptions
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator
    from ai_edge_litert.options import Options

    return CompiledModel.from_file(path, options=Options(
        hardware_accelerators=HardwareAccelerator.CPU,
        cpu_options=CpuOptions(num_threads=1, xnnpack_flags=XNNPACK_FLAG_FORCE_FP16)))


class CompiledSignature:
    """A CompiledModel's first signature at the file's own shapes, as the app feeds it: each
    input written in the dtype the file declares (int32 token ids, say), each output read in
    its own, nothing resized (a resized graph may fail to allocate where the file runs)."""

    def __init__(self, model):
        key = next(iter(model.get_signature_list()))
        self.model = model
        self.inputs = list(model.get_input_tensor_details(key).values())
        self.outputs = list(model.get_output_tensor_details(key).values())
        self.given = model.create_input_buffers(0)
        self.produced = model.create_output_buffers(0)

    @property
    def batch(self) -> int:
        """The rows the file takes at once (litert-torch writes 1)."""
        return int(self.inputs[0]["shape"][0])

    def run(self, inputs: Sequence) -> list:
        import numpy as np

        for buffer, x, declared in zip(self.given, inputs, self.inputs):
            if list(np.shape(x)) != list(declared["shape"]):
                raise ValueError(f"input {declared['name']}: the file takes shape "
                                 f"{declared['shape']}, not {list(np.shape(x))}")
            buffer.write(np.ascontiguousarray(x, declared["dtype"]))
        self.model.run_by_index(0, self.given, self.produced)
        return [buffer.read(int(np.prod(d["shape"])), d["dtype"]).reshape(d["shape"])
                for buffer, d in zip(self.produced, self.outputs)]


class DesktopLiteRTFp16(Predictor):
    """model.tflite in half precision on a desktop, as a GPU delegate would run it."""

    runtime = "LiteRT, fp16 arithmetic (desktop)"
    proof_runtime = "litert, fp16 arithmetic"  # export/runtimes.py's FP16_ARITHMETIC row

    def release(self) -> str:
        return installed("ai-edge-litert", "ai_edge_litert")

    @classmethod
    def load(cls, bundle) -> "DesktopLiteRTFp16":
        require_fp16_proof(bundle)
        self = cls()
        self.signature = CompiledSignature(compiled_fp16_model(str(bundle.path(TFLITE))))
        self.codec = RowCodec(bundle.form.n_columns)
        return self

    def predict(self, row: Sequence[float]) -> float | list[float]:
        """One value, or one per class, as the float32 predictors give them."""
        import numpy as np

        # the file's own input shape: a row [1, N], a window [1, W, 1], an image [1, 1, 28, 28]
        packed = np.frombuffer(self.codec.pack(row), np.float32).reshape(
            self.signature.inputs[0]["shape"])
        values = [float(v) for v in self.signature.run([packed])[0].reshape(-1)]
        return values[0] if len(values) == 1 else values


def load_fp16_predictor(bundle, platform: str = PLATFORM) -> Predictor:
    """The model in half precision, as a GPU delegate computes it, which the bundle must show
    passed (Fp16Refused otherwise)."""
    require_fp16_proof(bundle)
    if platform != "desktop":
        raise ModelMismatch(f"fp16 delegates are not wired into the {platform} app yet; "
                            "it runs the model on the CPU in float32.")
    return load_checked(DesktopLiteRTFp16, bundle)
