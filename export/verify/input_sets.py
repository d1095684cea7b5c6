"""What parity feeds PyTorch and every exported file, from the schema: the held-out test set
(at batch 1 and 64), random inputs inside the plausible ranges with one-hot groups kept valid,
and edge cases (every range bound crossed with every one-hot combination, or a random sample of
those corners when there are more than MAX_EDGE_ROWS). A model without a schema gets random
inputs of its shapes.

How many random inputs follows from a budget (random_budget): the set and PyTorch's outputs for
it stay in memory for the whole check and every runtime runs all of it, so a 3x224x224 image
gets a few hundred where a row of 10 numbers gets the full MAX_RANDOM_ROWS.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils._pytree import tree_leaves

from pocketml.export.convert.job import declared_ranges, random_like

Inputs = list[np.ndarray]  # one batched array per model input
# 34 features make 2^14 range corners x 2^10 one-hot choices = 16.7 M edge rows (11 GB):
# past this many corners, a random sample of them is checked instead.
MAX_EDGE_ROWS = 4096
# Row-by-row runs check the batch-1 path; the metrics come from the whole set at batch 64.
MAX_BATCH_1_ROWS = 1000
# Random inputs: at most this many, fewer when one input (with PyTorch's outputs for it) is big
# or slow. A budget of 10 s of PyTorch keeps every runtime's pass over the set to seconds too.
MAX_RANDOM_ROWS = 10_000
MIN_RANDOM_ROWS = 32
RANDOM_BYTES = 64 * 2**20
RANDOM_SECONDS = 10.0
TIMING_ROWS = 64


@dataclass
class InputSet:
    name: str
    inputs: Inputs
    batch_size: int = 64
    labels: np.ndarray | None = None  # targets, for the model's own metric
    note: str = ""  # how the set was chosen, for the report


@dataclass(frozen=True)
class RandomBudget:
    """How many random inputs parity draws, and what chose that number."""
    rows: int
    bytes: int = RANDOM_BYTES
    seconds: float = RANDOM_SECONDS

    def describe(self) -> str:
        return (f"{self.rows} random inputs, chosen for a budget of {self.bytes / 2**20:.0f} MB "
                f"and {self.seconds:g} s of PyTorch (at most {MAX_RANDOM_ROWS})")


def random_budget(module: nn.Module, example_inputs: Sequence[torch.Tensor],
                  budget_bytes: int = RANDOM_BYTES,
                  budget_seconds: float = RANDOM_SECONDS) -> RandomBudget:
    """Weigh one input with its outputs, time PyTorch on up to TIMING_ROWS inputs (the best
    of 3 calls after a warm-up: a GRU's second call still took 400 ms, its fourth 0.7 ms), and
    draw as many random inputs as fit both budgets."""
    with torch.no_grad():
        outputs = module(*example_inputs)  # the first calls pay for lazy set-up
    row_bytes = sum(t.element_size() * t[0].numel() for t in [*example_inputs,
                                                               *tree_leaves(outputs)]
                    if isinstance(t, torch.Tensor))
    # Per-call overheads dwarf a small model's rows (an MLP's 8 rows took 36 ms on busy
    # cores): time as many rows as an eighth of the memory budget holds, at most 64.
    timed = int(min(TIMING_ROWS, max(1, budget_bytes // 8 // max(row_bytes, 1))))
    rows = [t[torch.arange(timed) % len(t)] for t in example_inputs]
    seconds = []
    with torch.no_grad():
        module(*rows)
        for _ in range(3):  # the best of 3 after a warm-up
            started = time.perf_counter()
            module(*rows)
            seconds.append(time.perf_counter() - started)
    seconds_per_row = min(seconds) / timed
    fit = min(MAX_RANDOM_ROWS, budget_bytes // max(row_bytes, 1),
              int(budget_seconds / max(seconds_per_row, 1e-9)))
    return RandomBudget(max(MIN_RANDOM_ROWS, fit), budget_bytes, budget_seconds)


def input_sets(schema: dict | None, example_inputs: Sequence[torch.Tensor],
               test_set: tuple[np.ndarray, np.ndarray] | None = None,
               n_random: int | RandomBudget = MAX_RANDOM_ROWS, seed: int = 0) -> list[InputSet]:
    rng = np.random.default_rng(seed)
    note = n_random.describe() if isinstance(n_random, RandomBudget) else ""
    n_random = n_random.rows if isinstance(n_random, RandomBudget) else n_random
    sets = []
    if test_set is not None:
        x, y = test_set
        one = "test set, batch 1" + (f" (first {MAX_BATCH_1_ROWS} of {len(x)} rows)"
                                     if len(x) > MAX_BATCH_1_ROWS else "")
        sets += [InputSet("test set, batch 64", [x], 64, y),
                 InputSet(one, [x[:MAX_BATCH_1_ROWS]], 1, y[:MAX_BATCH_1_ROWS])]
    if schema and "columns" in schema:
        sets += [InputSet(f"{n_random} random in range", [random_rows(schema, n_random, rng)],
                          note=note),
                 edge_case_set(schema, rng)]
    else:
        ranges = (schema or {}).get("input", {}).get("range")
        per_input = [ranges] * len(example_inputs) if ranges else \
            declared_ranges(schema, len(example_inputs))
        sets.append(InputSet(f"{n_random} random", [
            random_like(t, n_random, rng, r) for t, r in zip(example_inputs, per_input)],
            note=note))
        if ranges:
            low, high = ranges
            sets.append(InputSet("edge cases", [np.stack([np.full(t.shape[1:], v, np.float32)
                                                          for v in (low, (low + high) / 2, high)])
                                                for t in example_inputs], 1))
    return sets


def random_rows(schema: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    columns = schema["columns"]
    rows = np.zeros((n, len(columns)), np.float32)
    for i, col in enumerate(columns):
        if col["kind"] == "numeric":
            rows[:, i] = rng.uniform(*col["range"], size=n)
    for field_name, indices in one_hot_groups(columns).items():
        chosen = rng.integers(len(indices), size=n)
        rows[np.arange(n), np.asarray(indices)[chosen]] = 1.0
    return rows


def edge_case_set(schema: dict, rng: np.random.Generator) -> InputSet:
    rows, corners = edge_rows(schema, rng)
    sampled = f", {len(rows)} of {corners:,} corners sampled at random" if len(rows) < corners else ""
    return InputSet(f"edge cases{sampled}", [rows])


def edge_rows(schema: dict, rng: np.random.Generator,
              limit: int = MAX_EDGE_ROWS) -> tuple[np.ndarray, int]:
    """Rows at the corners (each numeric column at a range bound, one choice per one-hot group),
    all of them or `limit` sampled at random; and how many corners there are in all."""
    columns = schema["columns"]
    numeric = [i for i, c in enumerate(columns) if c["kind"] == "numeric"]
    groups = [np.asarray(g) for g in one_hot_groups(columns).values()]
    sides = [2] * len(numeric) + [len(g) for g in groups]  # choices per numeric column / group
    corners = math.prod(sides)
    if corners <= limit:
        picks = np.array(list(itertools.product(*map(range, sides))), dtype=np.int64)
    else:
        picks = np.unique(rng.integers(0, sides, size=(limit, len(sides))), axis=0)
    picks = picks.reshape(-1, len(sides))
    rows = np.zeros((len(picks), len(columns)), np.float32)
    ranges = np.array([columns[i]["range"] for i in numeric], np.float32).reshape(-1, 2)
    rows[:, numeric] = ranges[np.arange(len(numeric)), picks[:, :len(numeric)]]
    for j, group in enumerate(groups):
        rows[np.arange(len(picks)), group[picks[:, len(numeric) + j]]] = 1.0
    return rows, corners


def one_hot_groups(columns: list[dict]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i, col in enumerate(columns):
        if col["kind"] == "one_hot":
            groups.setdefault(col["field"], []).append(i)
    return groups
