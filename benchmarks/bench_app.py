"""Benchmark the app (a script, not a test: timings vary with the machine).

    python benchmarks/bench_app.py [--bundle mobile_app/model] [--repeats 5000] [--starts 5]

Prints
  * Submit to result: the Submit handler's work, validation of every field + one inference +
    the decision + the explanation (one more inference per field), p50/p99 over --repeats
    runs (target p50 <= 1 ms);
  * the self-check at start: reading golden.json and running every golden row through the
    predictor, first run (cold, as at a real start) and p50/p99 of the next --checks runs, in
    each desktop runtime (it must stay well under the 3 s start budget);
  * the signature check a signed bundle adds to a start: ecdsa's pure-Python Ed25519 over the
    bundle's manifest.json, first run (its import included) and p50 of --signatures runs;
  * start to a usable form: launching the real app (under Xvfb when there is no display) until
    its first frame with the form on screen, self-check included, median of --starts launches
    (target <= 3 s)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "mobile_app"))
sys.path.insert(0, str(ROOT / "tests" / "app"))

from app_fixtures import DRIVER, driver_env, virtual_display  # noqa: E402
from pocketapp.bundle import open_bundle  # noqa: E402
from pocketapp.explain import explain  # noqa: E402
from pocketapp.form import ChoiceField  # noqa: E402
from pocketapp.predictors import DesktopLiteRT, DesktopOnnx, load_predictor  # noqa: E402
from pocketapp.selfcheck import verify_on_device  # noqa: E402
from pocketapp.signature import verify_ed25519  # noqa: E402


def typical_answers(form) -> dict[str, str]:
    """Mid-range numbers and the first choice: what a person would type."""
    return {f.name: (f.choices[0] if isinstance(f, ChoiceField)
                     else str(round((f.low + f.high) / 2, 3)) if f.low is not None else "1")
            for f in form.fields}


def bench_submit(bundle_dir: Path, repeats: int) -> dict:
    bundle = open_bundle(bundle_dir)
    predictor = load_predictor(bundle)
    form, answers = bundle.form, typical_answers(bundle.form)
    for _ in range(100):  # warm-up: first invocations allocate
        predictor.predict(form.encode(answers)[0])
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        row, errors = form.encode(answers)
        prediction = form.decide(predictor.predict(row))
        explain(form, row, predictor.predict)
        times.append(time.perf_counter() - started)
    times.sort()
    return {"runtime": predictor.runtime, "p50_ms": 1e3 * times[len(times) // 2],
            "p99_ms": 1e3 * times[int(len(times) * 0.99)]}


def bench_selfcheck(bundle_dir: Path, runtime, checks: int) -> dict:
    """What the self-check adds to a start: the first run on a fresh predictor, then warm runs."""
    bundle = open_bundle(bundle_dir)
    started = time.perf_counter()
    predictor = runtime.load(bundle)
    loaded = time.perf_counter()
    first = verify_on_device(bundle, predictor)
    first_s = time.perf_counter() - loaded
    times = sorted(verify_on_device(bundle, predictor).seconds for _ in range(checks))
    return {"runtime": runtime.runtime, "rows": first.rows, "max_diff": first.max_diff,
            "load_ms": 1e3 * (loaded - started), "first_ms": 1e3 * first_s,
            "p50_ms": 1e3 * times[len(times) // 2], "p99_ms": 1e3 * times[int(len(times) * 0.99)]}


def bench_signature(bundle_dir: Path, runs: int) -> dict:
    """The app's verifier on this bundle's manifest, signed by a fresh key with cryptography."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    manifest = (bundle_dir / "manifest.json").read_bytes()
    signature = key.sign(manifest)
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        assert verify_ed25519(public, signature, manifest)
        times.append(time.perf_counter() - started)
    first, warm = times[0], sorted(times[1:])
    return {"first_ms": 1e3 * first, "p50_ms": 1e3 * warm[len(warm) // 2]}


def bench_start(bundle_dir: Path, starts: int) -> dict | None:
    if os.environ.get("DISPLAY"):
        return launch_times(bundle_dir, starts, os.environ["DISPLAY"])
    if not shutil.which("Xvfb"):
        return None
    with virtual_display() as display:
        return launch_times(bundle_dir, starts, display)


def launch_times(bundle_dir: Path, starts: int, display: str) -> dict:
    """Median seconds from launching the app to its first frame with the form on screen."""
    launches = []
    with tempfile.TemporaryDirectory() as out:
        env = driver_env(display, Path(out) / "kivy")
        for _ in range(starts):
            env["POCKETML_T0"] = repr(time.time())
            subprocess.run([sys.executable, str(DRIVER), "form", "--bundle", str(bundle_dir),
                            "--out", out], env=env, check=True, capture_output=True)
            launches.append(json.loads((Path(out) / "report.json").read_text()))
    return {key: statistics.median(r[key] for r in launches)
            for key in ("first_frame_since_launch_s", "first_frame_s")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "mobile_app" / "model")
    parser.add_argument("--repeats", type=int, default=5000)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--checks", type=int, default=200, help="warm self-check runs")
    parser.add_argument("--signatures", type=int, default=50, help="signature checks")
    args = parser.parse_args()

    submit = bench_submit(args.bundle, args.repeats)
    print(f"Submit to result ({submit['runtime']}, {args.repeats} runs): "
          f"p50 {submit['p50_ms']:.3f} ms, p99 {submit['p99_ms']:.3f} ms  (target p50 <= 1 ms)")
    for runtime in (DesktopLiteRT, DesktopOnnx):
        check = bench_selfcheck(args.bundle, runtime, args.checks)
        print(f"self-check ({check['runtime']}, {check['rows']} golden rows, max diff "
              f"{check['max_diff']:.1e}): first {check['first_ms']:.2f} ms after a "
              f"{check['load_ms']:.1f} ms load, then p50 {check['p50_ms']:.2f} ms, p99 "
              f"{check['p99_ms']:.2f} ms over {args.checks} runs  (budget: well under 3 s)")
    signed = bench_signature(args.bundle, args.signatures)
    print(f"signature check (ecdsa Ed25519, pure Python): first {signed['first_ms']:.1f} ms "
          f"(import included), then p50 {signed['p50_ms']:.1f} ms over {args.signatures} runs")
    start = bench_start(args.bundle, args.starts)
    if start is None:
        print("start to a usable form: skipped, no display and no Xvfb (apt-get install xvfb)")
    else:
        print(f"start to a usable form (median of {args.starts}): "
              f"{start['first_frame_since_launch_s']:.2f} s from launch, "
              f"{start['first_frame_s']:.2f} s after Python started the script  (target <= 3 s)")


if __name__ == "__main__":
    main()
