"""PyTorch's own float32-versus-float64 disagreement on the inputs parity feeds every file (the
noise floor), which no float32 file can be asked to beat."""

from __future__ import annotations

import copy

import numpy as np
from torch import nn

from pocketml.export.verify.input_sets import InputSet
from pocketml.folder.reference import run_batches, torch_runner


class NoiseFloor:
    """Per output, the largest |PyTorch float32 - PyTorch float64| over every input set parity
    feeds (its dimension probes included: a few rows alone understate a model's own rounding),
    computed only when asked (a check that missed its fixed limit) and then kept. None where
    the module does not run in float64 (a forward that makes float32 tensors of its own)."""

    def __init__(self, module: nn.Module, reference: dict, sets: list[InputSet]):
        self.module, self.reference, self.sets = module, reference, sets
        self.floors: list[float] | None = None
        self.measured = False

    def output(self, k: int) -> float | None:
        if not self.measured:
            self.measured = True
            self.floors = self._measure()
        return None if self.floors is None else self.floors[k]

    def _measure(self) -> list[float] | None:
        try:
            double = copy.deepcopy(self.module).double().eval()
            per_set = [self._gap(torch_runner(double), s) for s in self.sets]
        except (RuntimeError, TypeError):  # dtype clashes inside the user's forward
            return None
        return [max(gaps) for gaps in zip(*per_set)]

    def _gap(self, run, s: InputSet) -> list[float]:
        widened = [x.astype(np.float64) if np.issubdtype(x.dtype, np.floating) else x
                   for x in s.inputs]
        exact = run_batches(run, widened, s.batch_size)
        return [float(np.abs(w.astype(np.float64) - e).max()) if w.size else 0.0
                for w, e in zip(self.reference[s.name], exact)]
