"""The sequence model: the lecture's RNN and LSTM as next-value forecasters."""

from __future__ import annotations

import torch
from torch import nn

from pocketml.train.layers import Standardize

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
