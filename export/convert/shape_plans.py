"""Export with as many dimensions dynamic as the file really runs.

Each of the job's plans is tried in turn (everything dynamic, then the batch fixed, then the
declared dimensions fixed, then nothing), and the first file that both exports and, loaded in
its runtime, computes PyTorch's outputs at sizes other than the one it was traced with is kept.
ExecuTorch, for one, lowers an nn.GRU without h0 with a dynamic batch, but the file fails at
run time for every batch but the largest (the GRU builds its state from the batch); a
GPT-2-style causal LM does not lower with both its batch and its sequence dynamic. Both export
with the batch fixed, and the description kept says which dimensions are dynamic and why not
more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils._pytree import tree_leaves

from pocketml.folder.errors import UserError
from pocketml.export.console import quiet
from pocketml.export.convert.dim_ranges import narrowed
from pocketml.export.convert.failure_terms import exception_chain
from pocketml.export.convert.job import ExportJob, Kept, declared_ranges, random_like
from pocketml.export.runtimes import load_runner

CHECK_BATCHES = (1, 3)  # neither the traced batch (2 or 64) nor a chunk of it
# A file whose outputs at another size are off by more than this (relative to the outputs'
# spread over SPREAD_ROWS inputs, at least 1) computes something else there: float32 rounding is ~1e-6.
FLOAT_TOLERANCE = 1e-4
QUANTIZED_TOLERANCE = 0.25
SPREAD_ROWS = 64
# Times a plan is exported again with the ranges torch.export asks for: each refusal names the
# guards of one pass (a positional table's top, then a convolution's minimum).
NARROWINGS = 4


class SizeCheckFailed(Exception):
    """The file was written but does not run, or runs wrong, at a size it declares."""


def export_first_that_runs(job: ExportJob, path: Path, write: Callable[[Kept, Path], None],
                           runtime: str, describe: Callable[[Kept], str],
                           tolerance: float = FLOAT_TOLERANCE) -> str:
    """Write `path` under the first plan that works; return what it keeps dynamic, with what
    the more dynamic plans failed on. No plan works: the last (all fixed) plan's error."""
    given_up: list[str] = []
    for kept in job.plans():
        try:
            write_narrowing(job, kept, path, write)
            check_sizes(job, kept, path, runtime, tolerance)
        except UserError:
            raise
        except Exception as err:
            if kept == job.plans()[-1]:
                raise
            reason = str(err) if isinstance(err, SizeCheckFailed) else \
                f"does not export ({first_line(err)})"
            given_up.append(f"{describe(kept)} {reason}")
            continue
        return describe(kept) + (f" ({given_up[0]})" if given_up else "")
    raise AssertionError("a job always has a plan")


def write_narrowing(job: ExportJob, kept: Kept, path: Path,
                    write: Callable[[Kept, Path], None]) -> None:
    """Write under `kept`; where torch.export refuses a dimension's range but says (or its
    guards say) which range it takes, narrow the job's range to it and write again."""
    for attempt in range(NARROWINGS + 1):
        # A new file each time: a runtime may still map the previous one.
        Path(path).unlink(missing_ok=True)
        try:
            return write(kept, path)
        except UserError:
            raise
        except Exception as err:
            ranges = narrowed([str(e) for e in exception_chain(err)], job.size_ranges)
            if ranges is None or attempt == NARROWINGS:
                raise
            job.size_ranges = ranges


def first_line(err: Exception, limit: int = 120) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0][:limit]}" if lines else type(err).__name__


def check_sizes(job: ExportJob, kept: Kept, path: Path, runtime: str, tolerance: float) -> None:
    """Run the file at other sizes of each dimension it keeps dynamic, against PyTorch."""
    runner = load_runner(path, runtime)
    scales = output_spreads(job)
    for label, inputs in size_probes(job, kept):
        try:
            with quiet():  # ExecuTorch logs a refused size on stderr before it raises
                got = runner.run(inputs)
        except Exception as err:
            raise SizeCheckFailed(f"fails at run time at {label}: {first_line(err)}") from err
        for g, w, scale in zip(got, pytorch_outputs(job, inputs), scales):
            diff = float(np.abs(g.astype(np.float64) - w).max())
            if diff > tolerance * scale:
                raise SizeCheckFailed(f"computes something else at {label} "
                                      f"(max abs diff {diff:.3g})")


def pytorch_outputs(job: ExportJob, inputs: list[np.ndarray]) -> list[np.ndarray]:
    with torch.no_grad():
        return [t.numpy() for t in tree_leaves(job.module(*map(torch.from_numpy, inputs)))]


def output_spreads(job: ExportJob) -> list[float]:
    """Each output's spread over SPREAD_ROWS inputs, at least 1: what a difference is judged
    against. A probe's own rows cannot say it: one row of a sunspot forecast has no spread,
    and the first training window's forecast is 1.9 where others reach 200."""
    inputs = probe_rows(job, SPREAD_ROWS, np.random.default_rng(3))
    return [max(1.0, float(w.max() - w.min())) for w in pytorch_outputs(job, inputs)]


def probe_rows(job: ExportJob, rows: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Training rows where the job has them: a calibrated int8 file saturates on values
    drawn across all of the example's columns at once."""
    if job.calibration is not None:
        return [np.ascontiguousarray(job.calibration[:rows])]
    ranges = declared_ranges(job.schema, len(job.example_inputs))
    return [random_like(t, rows, rng, r) for t, r in zip(job.example_inputs, ranges)]


def size_probes(job: ExportJob, kept: Kept) -> Iterator[tuple[str, list[np.ndarray]]]:
    """Inputs at each checked batch, then with every declared dimension doubled."""
    rng = np.random.default_rng(2)

    def draw(rows: int) -> list[np.ndarray]:
        return probe_rows(job, rows, rng)

    batches = CHECK_BATCHES if kept.batch else (1,)
    for batch in batches:
        yield f"batch {batch}", draw(batch)
    if kept.declared and any(job.dynamic):
        for targets in declared_targets(job):
            inputs = draw(batches[-1])
            for i, spec in enumerate(job.dynamic):
                for axis, name in spec.items():
                    inputs[i] = np.take(inputs[i], np.arange(targets[name]) % inputs[i].shape[axis],
                                        axis=axis)
            yield ", ".join(f"{name} {size}" for name, size in sorted(targets.items())), inputs


def declared_targets(job: ExportJob) -> list[dict[str, int]]:
    """The sizes each declared dimension is checked at: twice its example size (within its
    range), and the bottom of a range that does not start at 1 (torch.export's minimum)."""
    sizes = {name: t.shape[axis] for spec, t in zip(job.dynamic, job.example_inputs)
             for axis, name in spec.items()}
    up = {name: min(2 * size, job.size_range(name)[1] or 2 * size) for name, size in sizes.items()}
    low = {name: job.size_range(name)[0] for name in sizes}
    return [up] + ([low] if any(low[name] > 1 for name in sizes) else [])
