"""`pocketml bench DIR`: size, load time and latency (p50/p99 at batch 1 and 64) of every
exported file in every runtime here, with PyTorch eager as the reference."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from pocketml.export.model_folder import ModelFolder, exported_files
from pocketml.folders import folder_lock
from pocketml.export.parity import torch_runner
from pocketml.export.runtimes import available_runtimes, load_runner
from pocketml.train.artifacts import atomic_write_bytes, write_json

BATCHES = (1, 64)


def latency_us(run, inputs, warmup: int, repeats: int) -> dict:
    for _ in range(warmup):
        run(inputs)
    samples = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter_ns()
        run(inputs)
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
    return np.ascontiguousarray(np.resize(example, (size, *example.shape[1:])), dtype=np.float32)


def bench_folder(folder: Path, repeats: int = 2000, log=print,
                 trust_source: bool = False) -> list[dict]:
    with folder_lock(folder):
        return bench_rows(ModelFolder(folder, trust_source), repeats, log)


def bench_rows(model: ModelFolder, repeats: int, log) -> list[dict]:
    torch.set_num_threads(1)  # the phone runs one inference thread; compare like with like
    examples = ([model.test_set[0]] if model.test_set is not None
                else [t.numpy() for t in model.example])
    inputs = {b: [batch_of(x, b) for x in examples] for b in BATCHES}
    candidates = [("pytorch", "eager", None, lambda: torch_runner(model.module))]
    for fmt, path in exported_files(model.folder).items():
        if path is not None and path.is_file():
            candidates += [(fmt, runtime, path, lambda p=path, r=runtime: load_runner(p, r).run)
                           for runtime in available_runtimes(path)]
    rows = []
    for fmt, runtime, path, load in candidates:
        load_ms, run = timed_load(load)
        row = {"format": fmt, "runtime": runtime,
               "bytes": path.stat().st_size if path else None, "load_ms": load_ms}
        for b in BATCHES:
            figures = latency_us(run, inputs[b], warmup=100, repeats=repeats if b == 1 else repeats // 4)
            row.update({f"batch{b}_{k}": v for k, v in figures.items()})
        rows.append(row)
        log(f"  {fmt:<17} {runtime:<12} batch-1 p50 {row['batch1_p50_us']:8.1f} µs")
    write_json(model.folder / "bench.json", {"repeats_batch1": repeats, "rows": rows})
    atomic_write_bytes(model.folder / "bench.md", bench_markdown(rows).encode())
    log(bench_markdown(rows))
    return rows


def bench_markdown(rows: list[dict]) -> str:
    lines = ["| format | runtime | size | load | batch 1 p50 | batch 1 p99 | batch 64 p50 | batch 64 p99 |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        size = "—" if r["bytes"] is None else f"{r['bytes'] / 1024:.1f} KB"
        lines.append(f"| {r['format']} | {r['runtime']} | {size} | {r['load_ms']:.1f} ms | "
                     f"{r['batch1_p50_us']:.1f} µs | {r['batch1_p99_us']:.1f} µs | "
                     f"{r['batch64_p50_us']:.1f} µs | {r['batch64_p99_us']:.1f} µs |")
    return "\n".join(lines) + "\n"
