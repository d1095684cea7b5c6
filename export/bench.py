"""`pocketml bench DIR`: size, load time and latency (p50/p99 at batch 1 and 64) of every
exported file in every runtime here, with PyTorch eager as the reference.

Each file is timed twice: through pocketml's runner (what `verify` and the desktop app call:
dtype casts, quantization, chunking) and bare (the runtime's own set input, invoke, read
output, with nothing of pocketml in the loop). A one-op model in every runtime gives the
floor: what a call costs before the model does anything.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pocketml.export.convert.exporter import export_formats
from pocketml.export.formats import FORMATS
from pocketml.export.tolerances import FP32
from pocketml.export.convert.job import ExportJob
from pocketml.export.folder_gate import opened_model_folder
from pocketml.export.model_folder import ModelFolder, exported_files
from pocketml.folder.reference import torch_runner
from pocketml.export.runtimes import available_runtimes, load_runner
from pocketml.folder.artifacts import atomic_write_bytes, write_json

BATCHES = (1, 64)
FLOOR = "one-op floor"


def latency_us(run, inputs, warmup: int, repeats: int) -> dict:
    """p50/p99 of run(inputs); run(None) when `run` takes no inputs (a bare loop)."""
    call = (lambda: run(inputs)) if inputs is not None else run
    for _ in range(warmup):
        call()
    samples = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter_ns()
        call()
        samples[i] = time.perf_counter_ns() - start
    return {"p50_us": float(np.percentile(samples, 50) / 1e3),
            "p99_us": float(np.percentile(samples, 99) / 1e3)}


def timed_load(load, times: int = 5):
    """Median load time in ms, and the last loaded runner."""
    seconds, runner = [], None
    for _ in range(times):
        start = time.perf_counter()
        runner = load()
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds) * 1e3), runner


def batch_of(example: np.ndarray, size: int) -> np.ndarray:
    return np.ascontiguousarray(np.resize(example, (size, *example.shape[1:])))


class EagerRunner:
    """PyTorch eager as a runner: bare is the module call on ready tensors."""

    def __init__(self, module: nn.Module):
        self.module, self.run = module, torch_runner(module)

    def bare(self, inputs):
        module, tensors = self.module, [torch.from_numpy(x) for x in inputs]

        def call():
            with torch.no_grad():
                return module(*tensors)
        return call


def floor_files(folder: Path, log) -> dict[str, Path]:
    """A one-op model (a ReLU: no weights, one kernel in every runtime) exported to every
    float32 format, in a temporary folder: a call to it costs what the runtime costs."""
    job = ExportJob(nn.ReLU(), (torch.zeros(2, 1),))
    names = [name for name, f in FORMATS.items() if f.tolerance is FP32]
    results = export_formats(job, folder, names, log=lambda _: None)
    for r in results:
        if not r.ok:
            log(f"  {FLOOR}: {r.format} not measured ({r.error})")
    return {r.format: r.path for r in results if r.ok}


def bench_folder(folder: Path, repeats: int = 2000, log=print,
                 trust_source: bool = False, trusted: tuple[bytes, ...] = ()) -> list[dict]:
    """The folder opens through verify's checks (folder_gate.py): a file that verify refuses
    is never timed, and nothing is written into a folder holding what its manifest lacks."""
    with opened_model_folder(folder, trust_source, trusted, log) as model:
        return bench_rows(model, repeats, log)


def bench_rows(model: ModelFolder, repeats: int, log) -> list[dict]:
    torch.set_num_threads(1)  # the phone runs one inference thread; compare like with like
    examples = ([model.test_set[0]] if model.test_set is not None
                else [t.numpy() for t in model.example])
    candidates = [("pytorch", "eager", None, examples, lambda: EagerRunner(model.module))]
    for fmt, path in exported_files(model.folder).items():
        if path is not None and path.is_file():
            candidates += [(fmt, runtime, path, examples,
                            lambda p=path, r=runtime: load_runner(p, r))
                           for runtime in available_runtimes(path)]
    with tempfile.TemporaryDirectory() as scratch:
        floor = [np.zeros((1, 1), np.float32)]
        for fmt, path in floor_files(Path(scratch), log).items():
            candidates += [(FLOOR, f"{runtime} ({fmt})", path, floor,
                            lambda p=path, r=runtime: load_runner(p, r))
                           for runtime in available_runtimes(path)]
        rows = [measure(*candidate, repeats, log) for candidate in candidates]
    write_json(model.folder / "bench.json", {"repeats_batch1": repeats, "rows": rows})
    atomic_write_bytes(model.folder / "bench.md", bench_markdown(rows).encode())
    log(bench_markdown(rows))
    return rows


def measure(fmt: str, runtime: str, path: Path | None, examples: list[np.ndarray], load,
            repeats: int, log) -> dict:
    load_ms, runner = timed_load(load)
    row = {"format": fmt, "runtime": runtime,
           "bytes": path.stat().st_size if path else None, "load_ms": load_ms}
    for b in BATCHES:
        inputs = [batch_of(x, b) for x in examples]
        count = repeats if b == 1 else repeats // 4
        figures = latency_us(runner.run, inputs, warmup=100, repeats=count)
        row.update({f"batch{b}_{k}": v for k, v in figures.items()})
        bare = runner.bare(inputs)  # None: the file cannot take this batch whole
        figures = (latency_us(bare, None, warmup=100, repeats=count) if bare is not None
                   else {"p50_us": None, "p99_us": None})
        row.update({f"bare_batch{b}_{k}": v for k, v in figures.items()})
    log(f"  {fmt:<17} {runtime:<24} batch-1 p50 {us(row['bare_batch1_p50_us'])} bare, "
        f"{us(row['batch1_p50_us'])} runner")
    return row


def us(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} µs"


def bench_markdown(rows: list[dict]) -> str:
    lines = ["| format | runtime | size | load | batch 1 p50 bare / runner | batch 1 p99 bare / "
             "runner | batch 64 p50 bare / runner | batch 64 p99 bare / runner |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        size = "—" if r["bytes"] is None else f"{r['bytes'] / 1024:.1f} KB"
        cells = [f"{us(r[f'bare_batch{b}_{k}'])} / {us(r[f'batch{b}_{k}'])}"
                 for b in BATCHES for k in ("p50_us", "p99_us")]
        lines.append(f"| {r['format']} | {r['runtime']} | {size} | {r['load_ms']:.1f} ms | "
                     + " | ".join(cells) + " |")
    lines += ["", "bare: the runtime's own set input, invoke, read output; runner: pocketml's "
              "runner around it (dtype casts, quantization, chunking); — : the file cannot take "
              "that batch whole (the runner feeds it row by row)."]
    return "\n".join(lines) + "\n"
