"""The kidney model: the lecture's ANN/MLP for tabular data."""

from __future__ import annotations

import torch
from torch import nn

from pocketml.train.layers import Standardize

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


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

    @torch.no_grad()
    def divide_logit(self, temperature: float) -> None:
        """Temperature scaling (train/calibration.py), folded into the last layer:
        (W h + b) / T = (W / T) h + b / T. The graph keeps its shape, so every exported file
        (the integer ones too) and the phone give the calibrated probability."""
        self.body[-1].weight.div_(temperature)
        self.body[-1].bias.div_(temperature)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.scale(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))

    def config(self) -> dict:
        return {"architecture": "mlp", **self.hparams}
