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
from pocketml.export.runtimes import FP16_ARITHMETIC, GATED_RUNTIMES, in_chunks, load_runner
from pocketml.export.tolerances import FP16
from pocketml.pocketapp.half_precision import (XNNPACK_FLAG_FORCE_FP16, CompiledSignature,
                                               compiled_fp16_model)


def silence_stderr() -> None:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)


def close_quietly(model) -> None:
    with quiet():  # LiteRT logs each accelerator it destroys with its environment
        environment = model.environment
        model.close()
        environment.close()


class Fp16ArithmeticRunner:
    """A .tflite file through LiteRT's CompiledModel with XNNPACK forced to fp16 kernels, fed
    as the app feeds it (pocketapp.half_precision.CompiledSignature): at the file's own batch,
    rows one by one where that is 1, each input in its declared dtype."""

    tolerance = FP16
    lowering = None

    def __init__(self, path: Path):
        with quiet():
            model = compiled_fp16_model(str(path))
        # Freed with the runner, or at exit before Python tears its modules down; LiteRT's
        # own process-wide accelerators are destroyed after that, with a log line each.
        weakref.finalize(self, close_quietly, model)
        atexit.unregister(silence_stderr)
        atexit.register(silence_stderr)
        self.signature = CompiledSignature(model)
        self.batch_limit = self.signature.batch

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        rows, batch = len(inputs[0]), self.batch_limit
        # The last rows filled up to the file's batch with copies of the first, then dropped.
        padded = [np.concatenate([x, np.repeat(x[:1], -rows % batch, axis=0)]) for x in inputs]
        with quiet():  # LiteRT logs each accelerator it registers
            return [y[:rows] for y in in_chunks(self.signature.run, padded, batch)]

    def notes(self) -> list[str]:
        return [f"XNNPACK with FORCE_FP16 (flag {XNNPACK_FLAG_FORCE_FP16}), as a GPU delegate "
                f"computes; decides {GATED_RUNTIMES[FP16_ARITHMETIC]} only, not the verdict"]


def host_runner(path: Path, runtime: str):
    """A runner on this machine: runtimes.py's, or the fp16-arithmetic row's own."""
    if runtime == FP16_ARITHMETIC:
        return Fp16ArithmeticRunner(path)
    return load_runner(path, runtime)


def add_fp16_arithmetic(runtimes: dict[str, list[str]]) -> None:
    """The fp16 row checks the file the app bundles (model.tflite), where LiteRT is here."""
    if "litert" in runtimes.get("tflite", []):
        runtimes["tflite"].append(FP16_ARITHMETIC)


def fp16_record(document: dict) -> dict:
    """The bundle's delegates.json (read by pocketapp.half_precision): whether model.tflite
    computed within the fp16 tolerance in half precision, with the figures."""
    row = document["formats"].get("tflite", {}).get("runtimes", {}).get(FP16_ARITHMETIC)
    if row is None:
        return {"fp16_arithmetic": {"passed": False, "why": "not checked (LiteRT missing)"}}
    if row.get("not_run"):  # the runner could not drive the file: no proof, and no failure
        return {"fp16_arithmetic": {"passed": False, "not_run": row["not_run"],
                                    "why": row["error"]}}
    return {"fp16_arithmetic": {
        "passed": row["passed"], "max_abs_diff": row["max_abs_diff"],
        "label_agreement": row["label_agreement"], "tolerance": FP16.describe(),
        "why": row["error"] or "; ".join(f"{c['name']} {c['value']:.4g} ({c['limit']})"
                                         for c in row["checks"] if not c["passed"])}}


def fp16_markdown(document: dict) -> str:
    """parity.md's word on the fp16 row, whose ✗ does not fail the verdict above it."""
    verdict = fp16_record(document)["fp16_arithmetic"]
    if verdict.get("not_run"):
        outcome = ("not run, so nothing shows how the model computes in fp16 and the app keeps "
                   "float32 (no fp16 failure was seen)")
    elif "max_abs_diff" not in verdict:
        return ""
    else:
        outcome = "passed" if verdict["passed"] else "failed, so the app refuses fp16 delegates"
    return (f"\nThe row `tflite on {FP16_ARITHMETIC}` (XNNPACK's FORCE_FP16, what a GPU delegate "
            f"computes) decides only whether the app may run model.tflite through a delegate "
            f"that computes in fp16 (`delegates.json` in the bundle), not the verdict: "
            f"{outcome}.\n")
