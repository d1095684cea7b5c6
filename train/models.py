"""The lecture's four network types as plain PyTorch modules.

Every model takes raw inputs: whatever scaling it needs is a buffer inside the module, so the
exported graph carries it and the phone never repeats (or forgets) the preprocessing.
Each class can be rebuilt from `config()`, which is how export/ reloads weights without pickle.
"""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


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


class MLP(nn.Module):
    """ANN/MLP for tabular data: raw features -> standardize -> hidden layers -> P(positive)."""

    def __init__(self, n_features: int, hidden: tuple[int, ...] = (32, 16),
                 activation: str = "relu", dropout: float = 0.1):
        super().__init__()
        self.hparams = dict(n_features=n_features, hidden=list(hidden),
                            activation=activation, dropout=dropout)
        self.scale = Standardize(n_features)
        layers: list[nn.Module] = []
        width = n_features
        for size in hidden:
            layers += [nn.Linear(width, size), ACTIVATIONS[activation](), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, 1))
        self.body = nn.Sequential(*layers)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.scale(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))

    def config(self) -> dict:
        return {"architecture": "mlp", **self.hparams}


ARCHITECTURES: dict[str, type[nn.Module]] = {"mlp": MLP}


def build_model(config: dict) -> nn.Module:
    """Rebuild a model from the `config()` it was saved with."""
    params = dict(config)
    name = params.pop("architecture")
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name](**params)
