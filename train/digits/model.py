"""The digits model: the lecture's CNN."""

from __future__ import annotations

import torch
from torch import nn

from pocketml.train.layers import Standardize


class DigitsCNN(nn.Module):
    """The lecture's CNN for 28x28 digits, layer for layer:

    raw pixels 0..255 [N,1,28,28] -> /255, standardize -> Conv2d(1,32,3) [N,32,26,26] -> ReLU
    -> MaxPool2d(2) [N,32,13,13] -> flatten (5408) -> Linear(5408,10) -> softmax.
    Dropout before the dense layer is the only addition: it regularises and is a no-op at export.
    """

    def __init__(self, dropout: float = 0.5):
        super().__init__()
        self.hparams = dict(dropout=dropout)
        self.scale = Standardize(1)  # one mean and std for all pixels, fitted on training images
        self.features = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Flatten())
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(32 * 13 * 13, 10))

    def fit_scale(self, images: torch.Tensor) -> "DigitsCNN":
        self.scale.fit(images.reshape(-1, 1) / 255)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.classifier(self.features(self.scale(x / 255))), dim=-1)

    def config(self) -> dict:
        return {"architecture": "digits_cnn", **self.hparams}
