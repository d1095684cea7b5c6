"""The proof on the device: before the form is shown, every golden case of the bundle (rows
from the parity sets with PyTorch's outputs, written by `pocketml bundle`) runs through this
platform's predictor (LiteRT Java on Android, TFLite Objective-C on iOS, LiteRT or ONNX Runtime
on a desktop) and must match PyTorch within the float32 tolerance of `pocketml verify`, with the
same decision. Any difference means this phone's runtime does not compute what was verified, so
the app refuses to predict, exactly as it refuses a tampered file.

golden.json must be listed in the manifest: open_bundle has then checked its sha256, so what is
compared here is what `pocketml bundle` wrote."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

from .bundle import Bundle, BundleError

GOLDEN = "golden.json"
GOLDEN_FORMAT = "pocketml-golden/1"
REBUILD = "Rebuild the bundle with `pocketml bundle` (or `pocketml all`)."


class SelfCheckFailed(BundleError):
    """The model did not reproduce PyTorch here, or the bundle carries nothing to check."""


@dataclass(frozen=True)
class Verification:
    rows: int
    max_diff: float
    tolerance: float
    seconds: float
    runtime: str
    reference: str

    @property
    def summary(self) -> str:
        """What the app's footer shows."""
        return f"verified on this device: {self.rows}/{self.rows}, max diff {short(self.max_diff)}"

    @property
    def log_line(self) -> str:
        return (f"self-check passed on {self.runtime}: {self.rows}/{self.rows} golden rows match "
                f"{self.reference} within {short(self.tolerance)} (max diff "
                f"{short(self.max_diff)}, same decisions) in {1e3 * self.seconds:.1f} ms")


def verify_on_device(bundle: Bundle, predictor) -> Verification:
    """Run every golden case through `predictor`; SelfCheckFailed naming the first row that
    differs (and how many do) unless all match."""
    started = time.perf_counter()
    golden = read_golden(bundle)
    tolerance = golden["max_abs_diff"]
    worst, failures = 0.0, []
    for number, case in enumerate(golden["cases"], start=1):
        want, label = case["output"][0], case["label"]
        try:
            got = predictor.predict(case["input"])
            decided = bundle.form.decide(got).label
        except Exception as err:  # a runtime that fails on a golden row fails the check
            failures.append(f"row {number} ({case['source']}): the model failed: {err}")
            continue
        diff = abs(got - want)
        worst = max(worst, diff)
        if not diff <= tolerance or decided != label:  # `not <=` also catches NaN
            failures.append(f"row {number} ({case['source']}): {got:.7g} here, {want:.7g} in "
                            f"{golden['reference']}, diff {short(diff)} (tolerance "
                            f"{short(tolerance)})"
                            + (f"; decision {decided}, PyTorch's {label}"
                               if decided != label else ""))
    if failures:
        raise SelfCheckFailed(
            f"On this device the model ({predictor.runtime}) does not reproduce PyTorch: "
            f"{len(failures)} of {len(golden['cases'])} golden rows differ. First: "
            f"{failures[0]}. The app will not predict with it: either the bundle was changed "
            f"after `pocketml bundle`, or this device's runtime computes something else. "
            f"Reinstall the app or rebuild the bundle; if this persists, report the device "
            f"and the runtime.")
    return Verification(len(golden["cases"]), worst, tolerance, time.perf_counter() - started,
                        predictor.runtime, golden["reference"])


def read_golden(bundle: Bundle) -> dict:
    """golden.json, checked against the manifest and the form; SelfCheckFailed if unusable."""
    if GOLDEN not in bundle.manifest["files"]:
        raise SelfCheckFailed(
            f"the bundle carries no golden cases ({GOLDEN} is not in its manifest), so the app "
            f"cannot check on this device that the model computes what PyTorch computed, and "
            f"does not predict. {REBUILD}")
    try:
        golden = json.loads(bundle.path(GOLDEN).read_text(encoding="utf-8"))
        malformed = golden_problem(golden, bundle.form.n_columns, bundle.form.classes)
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError) as err:
        malformed = f"cannot be read ({err})"
    if malformed:
        raise SelfCheckFailed(f"{GOLDEN} {malformed}. {REBUILD}")
    return golden


def golden_problem(golden: dict, columns: int, classes: list[str]) -> str:
    """What is wrong with a golden document for this form; empty when nothing is."""
    if golden.get("format") != GOLDEN_FORMAT:
        return f"has format {golden.get('format')!r}, expected {GOLDEN_FORMAT!r}"
    tolerance = golden.get("max_abs_diff")
    if not is_number(tolerance) or tolerance <= 0:
        return f"gives no positive tolerance (max_abs_diff {tolerance!r})"
    cases = golden.get("cases")
    if not isinstance(cases, list) or not cases:
        return "lists no golden cases"
    for number, case in enumerate(cases, start=1):
        row, output = case.get("input"), case.get("output")
        if not (isinstance(row, list) and len(row) == columns and all(map(is_number, row))):
            return f"row {number}: the input is not {columns} numbers (one per schema column)"
        if not (isinstance(output, list) and len(output) == 1 and is_number(output[0])):
            return f"row {number}: the output is not one number"
        if case.get("label") not in classes:
            return f"row {number}: the label {case.get('label')!r} is not one of {classes}"
    return ""


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def short(value: float) -> str:
    """2.9e-7 rather than 2.9e-07: figures a person reads on a phone screen."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
