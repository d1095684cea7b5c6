"""Layers every model shares.

Every model takes raw inputs: whatever scaling it needs is a buffer inside the module, so the
exported graph carries it and the phone never repeats (or forgets) the preprocessing.
"""

from __future__ import annotations

import torch
from torch import nn

class Standardize(nn.Module):
    """(x - mean) / std with statistics fitted on training data and stored as buffers."""

    def __init__(self, n_features: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

    def fit(self, x: torch.Tensor) -> "Standardize":
        self.mean.copy_(x.mean(dim=0))
        # A constant column (std 0) would divide by zero; leave it unscaled instead.
        self.std.copy_(torch.where(x.std(dim=0) > 1e-8, x.std(dim=0), torch.ones_like(self.std)))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """Back to raw units: what a regressor trained on standardized targets outputs."""
        return z * self.std + self.mean
