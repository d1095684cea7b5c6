"""The proof on the device: before the form is shown, every golden case of the bundle (written by
`pocketml bundle`: what a person types into the form, the row PyTorch was given, and PyTorch's
output) goes through this app as a person's answers would. The values run through the form's own
encoder, which must give exactly PyTorch's row (a schema.json that encodes the answers otherwise
than training did, such as swapped yes/no columns, fails here); the row then runs through this
platform's predictor (LiteRT Java on Android, TFLite Objective-C on iOS, LiteRT or ONNX Runtime
on a desktop) and must match PyTorch within the float32 tolerance of `pocketml verify`, with the
same decision. Any difference means this phone does not compute what was verified, so the app
refuses to predict, exactly as it refuses a tampered file.

The tolerance is the app's own, never read from the bundle: an edited golden.json cannot loosen
the check. golden.json must be listed in the manifest: open_bundle has then checked its sha256,
so what is compared here is what `pocketml bundle` wrote."""

from __future__ import annotations

import json
import math
import struct
import time
from dataclasses import dataclass

from .bundle import Bundle, BundleError
from .contract import GOLDEN, GOLDEN_CASES, GOLDEN_FORMAT, PROOF_RUNTIMES
from .form import ChoiceField, FormSpec
from .pad import StrokesField

# `pocketml verify`'s float32 tolerance for model.tflite (a test holds the two equal).
TOLERANCE = 1e-5
REBUILD = "Rebuild the bundle with `pocketml bundle` (or `pocketml all`)."


class SelfCheckFailed(BundleError):
    """The form or the model did not reproduce training here, or the bundle carries nothing to
    check."""


@dataclass(frozen=True)
class Verification:
    rows: int
    max_diff: float
    tolerance: float
    seconds: float
    runtime: str
    reference: str
    release: str = "release unknown"  # the runtime release that computed here
    proved_with: str = "a release not recorded in the bundle"  # what `pocketml verify` ran

    @property
    def summary(self) -> str:
        """What the app's footer shows."""
        return f"verified on this device: {self.rows}/{self.rows}, max diff {short(self.max_diff)}"

    @property
    def log_line(self) -> str:
        return (f"self-check passed on {self.runtime} ({self.release}; the proof ran "
                f"{self.proved_with}): {self.rows}/{self.rows} golden rows match "
                f"{self.reference} within {short(self.tolerance)} (max diff "
                f"{short(self.max_diff)}, same decisions) in {1e3 * self.seconds:.1f} ms")


def verify_on_device(bundle: Bundle, predictor) -> Verification:
    """Run every golden case through the form and `predictor`; SelfCheckFailed naming the first
    case that differs (and how many do) unless all match."""
    started = time.perf_counter()
    golden = read_golden(bundle)
    form, cases = bundle.form, golden["cases"]
    worst, encoding, computing = 0.0, [], []
    for number, case in enumerate(cases, start=1):
        where = f"row {number} ({case['source']})"
        row, errors = form.encode(case["values"])
        if errors:
            refused = [f"{name} = {case['values'][name]!r} ({message})"
                       for name, message in errors.items()]
            encoding.append(f"{where}: the form refuses " + "; ".join(refused))
            continue
        differences = encoding_differences(form, case["values"], row, case["input"])
        if differences:
            encoding.append(f"{where}: " + "; ".join(differences))
            continue
        want, label = case["output"], case.get("label")
        try:
            got = predictor.predict(row)
            decided = form.decide(got).label
        except Exception as err:  # a runtime that fails on a golden row fails the check
            computing.append(f"{where}: the model failed: {err}")
            continue
        got = got if isinstance(got, list) else [got]
        # float32 rounding grows with the numbers: a regressor's value in its unit is judged
        # relative to its size, as `pocketml verify` judges outputs beyond 1.
        diff = max(abs(g - w) / max(1.0, abs(w)) for g, w in zip(got, want))
        worst = max(worst, diff)
        if not diff <= TOLERANCE or decided != label:  # `not <=` also catches NaN
            computing.append(f"{where}: {numbers(got)} here, {numbers(want)} in "
                             f"{golden['reference']}, diff {short(diff)} (tolerance "
                             f"{short(TOLERANCE)})"
                             + (f"; decision {decided}, PyTorch's {label}"
                                if decided != label else ""))
    if encoding:
        raise SelfCheckFailed(
            f"This form does not encode answers as the model was trained: {len(encoding)} of "
            f"{len(cases)} golden cases differ. First: {encoding[0]}. The app will not predict "
            f"with it: schema.json was changed after training or does not belong to this "
            f"model. {REBUILD}")
    if computing:
        raise SelfCheckFailed(
            f"On this device the model ({predictor.runtime}) does not reproduce PyTorch: "
            f"{len(computing)} of {len(cases)} golden rows differ. First: {computing[0]}. The "
            f"app will not predict with it: either the bundle was changed after `pocketml "
            f"bundle`, or this device's runtime computes something else. Reinstall the app or "
            f"rebuild the bundle; if this persists, report the device and the runtime.")
    return Verification(len(cases), worst, TOLERANCE, time.perf_counter() - started,
                        predictor.runtime, golden["reference"], predictor.runtime_version(),
                        proof_release(bundle, predictor.proof_runtime))


def proof_release(bundle: Bundle, runtime: str) -> str:
    """The release of `runtime` that computed `pocketml verify`'s rows, from the manifest."""
    recorded = bundle.manifest.get(PROOF_RUNTIMES)
    release = recorded.get(runtime) if isinstance(recorded, dict) else None
    return release if isinstance(release, str) else "a release not recorded in the bundle"


def encoding_differences(form: FormSpec, values: dict, row: list[float],
                         trained: list[float]) -> list[str]:
    """Per field, where the form's row differs from the one PyTorch was given (in float32,
    what the model is fed): "htn = 'yes' gives [1, 0], training gave [0, 1]"."""
    differences = []
    for field in form.fields:
        columns = (list(field.columns.values()) if isinstance(field, ChoiceField)
                   else list(field.columns) if isinstance(field, StrokesField) else [field.column])
        mine = [float32(row[c]) for c in columns]
        theirs = [float32(trained[c]) for c in columns]
        if mine != theirs and isinstance(field, StrokesField):
            differing = sum(a != b for a, b in zip(mine, theirs))
            differences.append(f"the drawing gives {differing} of {len(mine)} pixels otherwise "
                               "than the image training's model was given")
        elif mine != theirs:
            differences.append(f"{field.name} = {values[field.name]!r} gives "
                               f"[{', '.join(f'{v:g}' for v in mine)}], training gave "
                               f"[{', '.join(f'{v:g}' for v in theirs)}]")
    return differences


def read_golden(bundle: Bundle) -> dict:
    """golden.json, checked against the manifest and the form; SelfCheckFailed if unusable."""
    if GOLDEN not in bundle.manifest["files"]:
        raise SelfCheckFailed(
            f"the bundle carries no golden cases ({GOLDEN} is not in its manifest), so the app "
            f"cannot check on this device that the model computes what PyTorch computed, and "
            f"does not predict. {REBUILD}")
    try:
        golden = json.loads(bundle.path(GOLDEN).read_text(encoding="utf-8"))
        malformed = golden_problem(golden, bundle.form)
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError) as err:
        malformed = f"cannot be read ({err})"
    if malformed:
        raise SelfCheckFailed(f"{GOLDEN} {malformed}. {REBUILD}")
    count, recorded = len(golden["cases"]), bundle.manifest.get(GOLDEN_CASES)
    if recorded is not None and count != recorded:
        raise SelfCheckFailed(f"{GOLDEN} holds {count} golden cases; the bundle was made with "
                              f"{recorded} (its manifest records them). {REBUILD}")
    if count < bundle.form.min_golden_cases:  # the app's own floor, never the bundle's
        raise SelfCheckFailed(f"{GOLDEN} holds {count} golden case(s); this app checks this "
                              f"model on at least {bundle.form.min_golden_cases} before it "
                              f"predicts. {REBUILD}")
    return golden


def golden_problem(golden: dict, form: FormSpec) -> str:
    """What is wrong with a golden document for this form; empty when nothing is."""
    if not isinstance(golden, dict):
        return (f"is a JSON {type(golden).__name__}, not the golden document (an object with "
                f"its format and cases) that `pocketml bundle` writes")
    if golden.get("format") != GOLDEN_FORMAT:
        return f"has format {golden.get('format')!r}, expected {GOLDEN_FORMAT!r}"
    cases = golden.get("cases")
    if not isinstance(cases, list) or not cases:
        return "lists no golden cases"
    fields = sorted(f.name for f in form.fields)
    for number, case in enumerate(cases, start=1):
        if not isinstance(case, dict) or not isinstance(case.get("source"), str):
            return f"row {number}: is not a case with its source"
        values, row, output = case.get("values"), case.get("input"), case.get("output")
        if not (isinstance(values, dict) and sorted(values) == fields
                and all(isinstance(v, str) for v in values.values())):
            return (f"row {number}: the values are not one text per form field "
                    f"({', '.join(fields)})")
        if not (isinstance(row, list) and len(row) == form.n_columns
                and all(map(is_number, row))):
            return (f"row {number}: the input is not {form.n_columns} numbers (one per schema "
                    f"column)")
        problem = output_problem(output, case.get("label"), form)
        if problem:
            return f"row {number}: {problem}"
    return ""


def output_problem(output, label, form: FormSpec) -> str:
    """What is wrong with a case's output and decision for this form's task."""
    wanted = form.n_outputs
    if not (isinstance(output, list) and len(output) == wanted and all(map(is_number, output))):
        return f"the output is not {'one number' if wanted == 1 else f'{wanted} numbers'}"
    if not form.classes:
        return "" if label is None else f"a regression has no label, yet it gives {label!r}"
    if not all(0 <= p <= 1 for p in output):  # the app reads probabilities (form.decide)
        return (f"the output {numbers(output)} is not a probability (0 to 1), which no "
                "model this app runs can give")
    if label not in form.classes:
        return f"the label {label!r} is not one of {form.classes}"
    return ""


def numbers(values: list[float]) -> str:
    """"0.4213" for one value, "[0.1, 0.9]" for several: 7 significant digits each."""
    shown = [f"{v:.7g}" for v in values]
    return shown[0] if len(shown) == 1 else f"[{', '.join(shown)}]"


def float32(value: float) -> float:
    """`value` as the model's float32 input holds it."""
    return struct.unpack("f", struct.pack("f", value))[0]


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def short(value: float) -> str:
    """2.9e-7 rather than 2.9e-07: figures a person reads on a phone screen."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
