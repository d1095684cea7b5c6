"""The table of export formats. It drives the CLI's choices, the exporters, the parity checks
and the benchmark: adding a format is one row here plus one exporter function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pocketml.export.convert.executorch_format import export_executorch, export_executorch_int8
from pocketml.export.convert.onnx_format import export_onnx
from pocketml.export.convert.tflite_format import (export_16x8, export_fp16, export_int8,
                                                   export_int8_full, export_tflite)
from pocketml.export.runtimes import EXECUTORCH_RUNTIMES, ONNX_RUNTIMES, TFLITE_RUNTIMES
from pocketml.export.tolerances import FP16, FP32, INT8, Tolerance


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
    takes_complex: bool = False  # whether the file can hold complex tensors (ONNX: yes)


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("onnx", "model.onnx", "ONNX, float32", export_onnx, ONNX_RUNTIMES, FP32,
           takes_complex=True),
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
