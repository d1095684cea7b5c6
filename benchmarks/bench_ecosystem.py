"""Export and verify the ecosystem's architectures in every default format (a script, not a
test: timings vary with the machine and with whoever else uses it).

    python benchmarks/bench_ecosystem.py table [--only NAME,...]   # docs/ecosystem.md's table
    python benchmarks/bench_ecosystem.py mobilenet                 # MobileNetV2 at 1x3x224x224

`table` prints, per architecture (tests/export/ecosystem_models.py) and format: what the file keeps
dynamic, the max abs diff against PyTorch over every runtime, the export time, and whether it
passed or why it cannot. `mobilenet` exports and verifies a full-size MobileNetV2 (transformers'
default config with 10 labels, first trained for ~20 s on digits) and prints the wall time and
the peak memory of the export and verify (target: <= 3 min and <= 4 GB on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "export"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scaling import PeakMemory  # noqa: E402
from ecosystem_models import ARCHITECTURES, build, mobilenet_v2  # noqa: E402

from pocketml.export.api import export_module, verify_module  # noqa: E402

TARGETS = {"mobilenet_seconds": 180, "mobilenet_memory_mb": 4096}


def export_and_verify(built, folder: Path, log=lambda _: None) -> tuple[list, dict]:
    module, example, ranges, dynamic = built
    results = export_module(module, example, folder, input_ranges=ranges,
                            dynamic_dims=dynamic, log=log)
    document = verify_module(module, example, folder, input_ranges=ranges,
                             dynamic_dims=dynamic, log=log)
    return results, document


def cell(result, document: dict) -> str:
    if not result.ok:
        return f"✗ {result.error}"
    entry = document["formats"][result.format]
    verdict = "✓" if entry["passed"] else "✗ parity failed"
    return (f"{result.dimensions} | {entry['max_abs_diff']:.1e} | {result.seconds:.1f} s | "
            f"{verdict}")


def table(names: list[str]) -> None:
    print("| architecture | format | kept dynamic | max abs diff | export time | result |")
    print("|---|---|---|---|---|---|")
    for name in names:
        with tempfile.TemporaryDirectory() as work:
            results, document = export_and_verify(build(name), Path(work))
        for r in results:
            text = cell(r, document)
            if not r.ok:  # the error stands in for the kept / diff / time columns
                text = f"— | — | {r.seconds:.1f} s | {text}"
            print(f"| {name} | {r.format} | {text} |", flush=True)


def mobilenet() -> None:
    import torch

    torch.manual_seed(0)
    built = mobilenet_v2(full_size=True)
    module = built[0]
    print(f"MobileNetV2 at 1x3x224x224: {sum(p.numel() for p in module.parameters()):,} "
          f"parameters; {torch.get_num_threads()} threads; load average "
          f"{os.getloadavg()[0]:.1f}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        with PeakMemory() as memory:
            results, document = export_and_verify(built, Path(work), log=print)
        seconds, peak_mb = time.perf_counter() - started, memory.peak / 2**20
        tflite_verify = verify_seconds(built, Path(work), "tflite")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"export + verify: {seconds:.0f} s (target <= {TARGETS['mobilenet_seconds']}), "
          f"peak {peak_mb:.0f} MB (target <= {TARGETS['mobilenet_memory_mb']}); parity "
          f"{'PASSED' if document['passed'] else 'FAILED'}; CPU time "
          f"{usage.ru_utime + usage.ru_stime:.0f} s in all (start-up included); load average "
          f"now {os.getloadavg()[0]:.1f}")
    for r in results:
        print(f"  {r.format:<12} {r.seconds:6.1f} s  {cell(r, document)}")
    by_format = {r.format: r.seconds for r in results}
    print(f"fp16 export {by_format['tflite_fp16']:.0f} s against the float32 TFLite file's "
          f"export and verification {by_format['tflite'] + tflite_verify:.0f} s "
          f"({by_format['tflite']:.0f} s + {tflite_verify:.0f} s; target: fp16 no more)")


def verify_seconds(built, folder: Path, fmt: str) -> float:
    """The time to verify one format's file alone, as export_and_verify does."""
    module, example, ranges, dynamic = built
    started = time.perf_counter()
    verify_module(module, example, folder, formats=(fmt,), input_ranges=ranges,
                  dynamic_dims=dynamic, log=lambda _: None)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("table", "mobilenet"))
    parser.add_argument("--only", help="comma-separated parts of architecture names")
    args = parser.parse_args()
    if args.what == "mobilenet":
        return mobilenet()
    names = [n for n in ARCHITECTURES
             if not args.only or any(part in n for part in args.only.split(","))]
    table(names)


if __name__ == "__main__":
    main()
