"""The table of export formats. It drives the CLI's choices, the exporters, the parity checks
and the benchmark: adding a format is one row here plus one exporter function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pocketml.export.executorch_format import export_executorch, export_executorch_int8
from pocketml.export.onnx_format import export_onnx
from pocketml.export.runtimes import EXECUTORCH_RUNTIMES, ONNX_RUNTIMES, TFLITE_RUNTIMES
from pocketml.export.tflite_format import (export_16x8, export_fp16, export_int8,
                                            export_int8_full, export_tflite)


@dataclass(frozen=True)
class Tolerance:
    """Pass marks for one format. None means the check does not apply to that format."""
    max_abs_diff: float | None
    label_agreement: float
    metric_within: float | None = None  # |metric(format) - metric(PyTorch)|, e.g. ROC AUC

    def describe(self) -> str:
        parts = [f"max abs diff <= {self.max_abs_diff:g}"] if self.max_abs_diff else []
        parts.append(f"label agreement >= {self.label_agreement:.1%}")
        if self.metric_within is not None:
            parts.append(f"metric within {self.metric_within:g}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Format:
    name: str
    filename: str
    description: str
    export: Callable
    runtimes: tuple[str, ...]
    tolerance: Tolerance
    default: bool = True  # exported unless --formats says otherwise
    made_from: str | None = None  # the format whose file this one is converted from


FP32 = Tolerance(max_abs_diff=1e-5, label_agreement=1.0)
FP16 = Tolerance(max_abs_diff=1e-3, label_agreement=0.995)
INT8 = Tolerance(max_abs_diff=None, label_agreement=0.98, metric_within=0.01)

FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("onnx", "model.onnx", "ONNX, float32", export_onnx, ONNX_RUNTIMES, FP32),
    Format("tflite", "model.tflite", "TFLite, float32 (litert-torch)", export_tflite,
           TFLITE_RUNTIMES, FP32),
    Format("tflite_fp16", "model_fp16.tflite", "TFLite, float16 weights", export_fp16,
           TFLITE_RUNTIMES, FP16, made_from="tflite"),
    Format("tflite_int8", "model_int8.tflite", "TFLite, dynamic-range int8", export_int8,
           TFLITE_RUNTIMES, INT8, made_from="tflite"),
    Format("tflite_int8_full", "model_int8_full.tflite",
           "TFLite, integer layers: int8 weights and activations (calibrated on training "
           "rows)", export_int8_full, TFLITE_RUNTIMES, INT8, default=False),
    Format("tflite_16x8", "model_16x8.tflite",
           "TFLite, integer layers: int8 weights, int16 activations (calibrated on training "
           "rows)", export_16x8, TFLITE_RUNTIMES, INT8, default=False, made_from="tflite"),
    Format("executorch", "model.pte", "ExecuTorch, float32 (XNNPACK delegate)",
           export_executorch, EXECUTORCH_RUNTIMES, FP32),
    Format("executorch_int8", "model_int8.pte",
           "ExecuTorch, int8 weights and activations (PT2E XNNPACK quantizer, calibrated on "
           "training rows)", export_executorch_int8, EXECUTORCH_RUNTIMES, INT8, default=False),
)}
DEFAULT_FORMATS = tuple(name for name, f in FORMATS.items() if f.default)
