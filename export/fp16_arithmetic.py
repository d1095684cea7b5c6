"""The float32 TFLite file computed in half precision: what a phone's GPU delegate does, and
what XNNPACK does under its FORCE_FP16 flag (LiteRT's CompiledModel, CPU accelerator).

Its row is judged at the fp16 tolerance and decides one thing: whether the app may hand the
model to a delegate that computes in fp16 (the bundle records the verdict, and the app refuses
such a delegate without it). It never fails the verification: the float32 path the app uses
by default is proven by the other rows.
"""

from __future__ import annotations

import atexit
import os
import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pocketml.export.console import quiet
from pocketml.export.formats import FP16

FP16_ARITHMETIC = "litert, fp16 arithmetic"
XNNPACK_FLAG_FORCE_FP16 = 4  # xnnpack_delegate.h: TFLITE_XNNPACK_DELEGATE_FLAG_FORCE_FP16
GATES = "fp16 delegates in the app"


def silence_stderr() -> None:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)


def close_quietly(model) -> None:
    with quiet():  # LiteRT logs each accelerator it destroys with its environment
        environment = model.environment
        model.close()
        environment.close()


class Fp16ArithmeticRunner:
    """A .tflite file through LiteRT's CompiledModel with XNNPACK forced to fp16 kernels."""

    tolerance = FP16
    gates = GATES
    lowering = None
    batch_limit = None

    def __init__(self, path: Path):
        with quiet():
            from ai_edge_litert.compiled_model import CompiledModel
            from ai_edge_litert.cpu_options import CpuOptions
            from ai_edge_litert.hardware_accelerator import HardwareAccelerator
            from ai_edge_litert.options import Options

            self.model = CompiledModel.from_file(str(path), options=Options(
                hardware_accelerators=HardwareAccelerator.CPU,
                cpu_options=CpuOptions(num_threads=1, xnnpack_flags=XNNPACK_FLAG_FORCE_FP16)))
        # Freed with the runner, or at exit before Python tears its modules down; LiteRT's
        # own process-wide accelerators are destroyed after that, with a log line each.
        weakref.finalize(self, close_quietly, self.model)
        atexit.unregister(silence_stderr)
        atexit.register(silence_stderr)
        self.outputs = self.model.get_output_tensor_details(
            next(iter(self.model.get_signature_list())))

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        rows = len(inputs[0])
        with quiet():  # LiteRT logs each accelerator it registers
            for i, x in enumerate(inputs):
                self.model.resize_input_tensor(i, list(x.shape), strict=False)
            given = self.model.create_input_buffers(0)
            for buffer, x in zip(given, inputs):
                buffer.write(np.ascontiguousarray(x, np.float32))
            produced = self.model.create_output_buffers(0)
            self.model.run_by_index(0, given, produced)
        return [buffer.read(rows * int(np.prod(detail["shape"][1:])), np.float32)
                .reshape(rows, *detail["shape"][1:])
                for buffer, detail in zip(produced, self.outputs.values())]


    def notes(self) -> list[str]:
        return [f"XNNPACK with FORCE_FP16 (flag {XNNPACK_FLAG_FORCE_FP16}), as a GPU delegate "
                f"computes; decides {GATES} only, not the verdict"]


def add_fp16_arithmetic(runtimes: dict[str, list[str]]) -> None:
    """The fp16 row checks the file the app bundles (model.tflite), where LiteRT is here."""
    if "litert" in runtimes.get("tflite", []):
        runtimes["tflite"].append(FP16_ARITHMETIC)


def fp16_record(document: dict) -> dict:
    """What the bundle tells the app (pocketapp.predictors.DELEGATES): whether model.tflite
    computed within the fp16 tolerance in half precision, with the figures."""
    row = document["formats"].get("tflite", {}).get("runtimes", {}).get(FP16_ARITHMETIC)
    if row is None:
        return {"fp16_arithmetic": {"passed": False, "why": "not checked (LiteRT missing)"}}
    return {"fp16_arithmetic": {
        "passed": row["passed"], "max_abs_diff": row["max_abs_diff"],
        "label_agreement": row["label_agreement"], "tolerance": FP16.describe(),
        "why": row["error"] or "; ".join(f"{c['name']} {c['value']:.4g} ({c['limit']})"
                                         for c in row["checks"] if not c["passed"])}}
