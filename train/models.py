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

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """Back to raw units: what a regressor trained on standardized targets outputs."""
        return z * self.std + self.mean


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


RECURRENT_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM}  # nn.RNN's default nonlinearity is tanh


class SequenceRNN(nn.Module):
    """Next-value forecaster: a window of raw values [N,window,1] -> the next value [N,1].

    Inputs are standardized and the prediction un-standardized with the same training-series
    statistics, so the network works in units near 1 and the phone sees raw units both ways.
    """

    def __init__(self, cell: str = "lstm", hidden_size: int = 32, num_layers: int = 1):
        super().__init__()
        if cell not in RECURRENT_CELLS:
            raise ValueError(f"cell {cell!r}: choose one of {', '.join(RECURRENT_CELLS)}")
        self.hparams = dict(cell=cell, hidden_size=hidden_size, num_layers=num_layers)
        self.scale = Standardize(1)
        self.recurrent = RECURRENT_CELLS[cell](1, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def fit_scale(self, series: torch.Tensor) -> "SequenceRNN":
        self.scale.fit(series.reshape(-1, 1))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, _ = self.recurrent(self.scale(x))
        return self.scale.inverse(self.head(states[:, -1]))

    def config(self) -> dict:
        return {"architecture": "sequence_rnn", **self.hparams}


ARCHITECTURES: dict[str, type[nn.Module]] = {
    "mlp": MLP, "digits_cnn": DigitsCNN, "sequence_rnn": SequenceRNN}


def build_model(config: dict) -> nn.Module:
    """Rebuild a model from the `config()` it was saved with."""
    params = dict(config)
    name = params.pop("architecture")
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name](**params)
