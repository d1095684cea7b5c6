"""How `pocketml train kidney` + export + verify scale with the rows (a script, not a test:
timings vary with the machine and with whoever else is using it).

    python benchmarks/bench_scaling.py [--rows 4000,40000,463200] [--work DIR] [--skip-real]

Builds the bigger tables from the CKD data shipped with pocketml (its 400 real rows repeated,
as a user with a bigger clinical table of the same columns would have), then runs each case in
a fresh process and prints, per step (load, feature ranking, cross-validation of each model,
final fit, writing the folder, export + verify, verify again alone), the wall time and the peak
memory of that process and its worker processes together (resident memory, sampled every
20 ms). Also measured: the lecture's 400 rows through the real command line, and
`--features auto --k 34` (all 34 encoded features), whose edge cases are sampled corners.
The machine's load average is printed with every case: on shared cores, re-run a disturbed one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psutil

TARGETS = {  # the targets
    "big_seconds": 600, "big_memory_mb": 4096, "ratio": 10,
    "k34_seconds": 60, "k34_memory_mb": 1024, "real_cli_seconds": 15,
}


class PeakMemory:
    """Peak resident memory of this process plus all its children, sampled in a thread."""

    def __init__(self, interval: float = 0.02):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.Error:  # a worker that just ended
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class Steps:
    """`watch(name)` for train_kidney, and for the export steps: wall time and peak memory."""

    def __init__(self):
        self.rows: list[dict] = []

    @contextmanager
    def watch(self, name: str):
        started = time.perf_counter()
        with PeakMemory() as memory:
            yield
        self.rows.append({"step": name, "seconds": round(time.perf_counter() - started, 2),
                          "peak_mb": round(memory.peak / 2**20)})


def build_table(rows: int, folder: Path) -> Path:
    """The shipped Kaggle CSV's rows repeated until the table has `rows` rows."""
    from pocketml.train.kidney.fetch import CSV_NAME, shipped_file

    path = folder / f"ckd_{rows}.csv"
    if not path.is_file():
        header, *records = shipped_file(CSV_NAME).read_text().splitlines()
        lines = [header] + [records[i % len(records)] for i in range(rows)]
        path.write_text("\n".join(lines) + "\n")
    return path


def run_case(case: dict) -> dict:
    """One case in this process: train, export + verify, verify; the figures of each step."""
    from pocketml.export.formats import DEFAULT_FORMATS
    from pocketml.export.model_folder import export_folder, verify_folder
    from pocketml.train.kidney.options import KidneyOptions
    from pocketml.train.kidney.train import train_kidney

    for module in case.get("without", []):  # as if that extra were not installed
        sys.modules[module] = None
    quiet = lambda _: None  # noqa: E731
    steps = Steps()
    out = Path(case["work"]) / f"model_{case['name']}"
    started = time.perf_counter()
    options = KidneyOptions(out=out, data=case.get("data"), progress=False,
                            **case.get("options", {}))
    metrics = train_kidney(options, log=quiet, watch=steps.watch)
    with steps.watch("export + verify"):
        passed = export_folder(out, DEFAULT_FORMATS, log=quiet)
    total = time.perf_counter() - started
    with steps.watch("verify alone"):
        verify_folder(out, log=quiet)
    parity = json.loads((out / "parity.json").read_text())
    failed = {fmt: entry["max_abs_diff"] for fmt, entry in parity["formats"].items()
              if not entry["passed"]}
    return {"steps": steps.rows, "total_seconds": round(total, 1), "passed": passed,
            "parity_failed": failed, "split": metrics["split"],
            "cv_accuracy": {"mlp": metrics["cv"]["accuracy"]["mean"],
                            **{name: b["cv"]["accuracy"]["mean"]
                               for name, b in metrics["baselines"].items()}},
            "training": {k: metrics["training"][k] for k in
                         ("batch_size", "samples_seen", "checks", "stopped_by")}}


def in_fresh_process(case: dict) -> dict:
    """Run `case` in a new interpreter, so no case inherits another's memory."""
    load = os.getloadavg()[0]
    done = subprocess.run([sys.executable, __file__, "--case", json.dumps(case)],
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"case {case['name']} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["load"] = (round(load, 1), round(os.getloadavg()[0], 1))
    return result


def library_memory() -> int:
    """Peak MB of a process that only imports what export and verify use (PyTorch, the
    converters, ONNX Runtime, LiteRT, TensorFlow's interpreter when installed)."""
    code = ("import importlib.util, resource, pocketml.export.model_folder, litert_torch, "
            "onnxruntime, ai_edge_litert.interpreter\n"
            "if importlib.util.find_spec('tensorflow'): import tensorflow\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    return round(int(done.stdout.split()[-1]) / 1024)


def real_command_line(work: Path) -> dict:
    """`pocketml train kidney` on the shipped 400 rows, start-up included."""
    load = os.getloadavg()[0]
    out = work / "model_cli"
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("pocketml")), "train", "kidney",
                    "--out", str(out), "--no-progress"], check=True, capture_output=True)
    seconds = time.perf_counter() - started
    metrics = json.loads((out / "metrics.json").read_text())
    best = max(b["cv"]["accuracy"]["mean"] for b in metrics["baselines"].values())
    return {"seconds": round(seconds, 1), "cv_accuracy": metrics["cv"]["accuracy"]["mean"],
            "best_baseline": best, "load": (round(load, 1), round(os.getloadavg()[0], 1))}


def print_case(name: str, result: dict) -> None:
    split = result["split"]
    print(f"\n## {name}: {split['train_rows']:,} training rows, cross-validated on "
          f"{split['cv_rows']:,}; load average {result['load'][0]} -> {result['load'][1]} "
          f"({os.cpu_count()} cores)")
    print("| step | wall s | peak MB |\n|---|---|---|")
    for row in result["steps"]:
        print(f"| {row['step']} | {row['seconds']:.1f} | {row['peak_mb']:,} |")
    failed = ", ".join(f"{fmt} (max abs diff {diff:.2g})"
                       for fmt, diff in result["parity_failed"].items())
    print(f"train + export + verify: {result['total_seconds']} s; parity "
          f"{'FAILED for ' + failed if failed else 'passed'}; CV accuracy "
          + ", ".join(f"{k} {v:.4f}" for k, v in result["cv_accuracy"].items())
          + f"; MLP {result['training']}")


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="4000,40000,463200")
    parser.add_argument("--work", type=Path, help="folder for the tables and models "
                                                  "(default: a temporary one)")
    parser.add_argument("--skip-real", action="store_true",
                        help="leave out the 400-row command line and the --k 34 case")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: one case, as JSON
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        results = {}
        for rows in [int(r) for r in args.rows.split(",") if r]:
            case = {"name": str(rows), "work": str(work), "data": str(build_table(rows, work))}
            results[rows] = in_fresh_process(case)
            print_case(f"{rows:,} rows", results[rows])
        if not args.skip_real:
            k34 = in_fresh_process({"name": "k34", "work": str(work),
                                    "options": {"features": "auto", "k": 34}})
            print_case("the real 400 rows, --features auto --k 34", k34)
            # The default install: LiteRT only, without the tensorflow extra's interpreter.
            k34_lite = in_fresh_process({"name": "k34_lite", "work": str(work),
                                         "options": {"features": "auto", "k": 34},
                                         "without": ["tensorflow"]})
            print_case("the same without the tensorflow extra", k34_lite)
            cli = real_command_line(work)
            print(f"\n## the real 400 rows, `pocketml train kidney`: {cli['seconds']} s wall "
                  f"(load average {cli['load'][0]} -> {cli['load'][1]}); CV accuracy "
                  f"{cli['cv_accuracy']:.4f}, best baseline {cli['best_baseline']:.4f}")

    print("\n## targets")
    if 463200 in results:
        big = results[463200]
        peak = max(row["peak_mb"] for row in big["steps"] if row["step"] != "verify alone")
        print(f"463,200 rows: train + export + verify {big['total_seconds']} s "
              f"(<= {TARGETS['big_seconds']}: {verdict(big['total_seconds'] <= TARGETS['big_seconds'])}),"
              f" peak {peak:,} MB (<= {TARGETS['big_memory_mb']}: "
              f"{verdict(peak <= TARGETS['big_memory_mb'])})")
    if {4000, 40000} <= set(results):
        ratio = results[40000]["total_seconds"] / results[4000]["total_seconds"]
        print(f"40,000 / 4,000 rows wall: {ratio:.2f}x (<= {TARGETS['ratio']}: "
              f"{verdict(ratio <= TARGETS['ratio'])})")
    if not args.skip_real:
        libraries = library_memory()
        for label, result in (("", k34), (" without the tensorflow extra", k34_lite)):
            step = next(row for row in result["steps"] if row["step"] == "export + verify")
            seconds, memory = step["seconds"], step["peak_mb"]
            print(f"--features auto --k 34{label}: export + verify {seconds:.1f} s (<= "
                  f"{TARGETS['k34_seconds']}: {verdict(seconds <= TARGETS['k34_seconds'])}), "
                  f"peak {memory:,} MB (<= {TARGETS['k34_memory_mb']}: "
                  f"{verdict(memory <= TARGETS['k34_memory_mb'])})")
        print(f"  (a process that only imports the export libraries, TensorFlow included, "
              f"peaks at {libraries:,} MB)")
        quality = cli["cv_accuracy"] >= 0.98 and cli["cv_accuracy"] >= cli["best_baseline"] - 0.01
        print(f"real 400 rows: CV accuracy {cli['cv_accuracy']:.4f} (>= 0.98 and within 0.01 of "
              f"{cli['best_baseline']:.4f}: {verdict(quality)}); `pocketml train kidney` "
              f"{cli['seconds']} s (<= {TARGETS['real_cli_seconds']}: "
              f"{verdict(cli['seconds'] <= TARGETS['real_cli_seconds'])})")


if __name__ == "__main__":
    main()
