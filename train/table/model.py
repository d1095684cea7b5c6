"""The lecture's MLP for any table: one output per class (softmax) for a multi-class target, one
value in the target's own unit for a regression, P(positive) for a binary one."""

from __future__ import annotations

import torch
from torch import nn

from pocketml.train.kidney.model import MLP
from pocketml.train.layers import Standardize

TASKS = ("binary", "multiclass", "regression")


class TableMLP(MLP):
    """Raw features -> standardize -> hidden layers -> the task's output.

    A regressor learns the standardized target; its output layer is followed by the inverse of
    that scaling (buffers), so the exported graph gives the value in the target's unit."""

    def __init__(self, n_features: int, hidden: tuple[int, ...] = (32, 16),
                 activation: str = "relu", dropout: float = 0.1, task: str = "binary",
                 n_outputs: int = 1):
        super().__init__(n_features, hidden, activation, dropout)
        if task not in TASKS:
            raise ValueError(f"task {task!r}: one of {', '.join(TASKS)}")
        self.hparams.update(task=task, n_outputs=n_outputs)
        self.body[-1] = nn.Linear(self.body[-1].in_features, n_outputs)
        self.target = Standardize(1)  # identity unless a regressor fits it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.logits(x)
        task = self.hparams["task"]
        if task == "multiclass":
            return torch.softmax(z, dim=-1)
        if task == "regression":
            return self.target.inverse(z)
        return torch.sigmoid(z)

    def config(self) -> dict:
        return {**super().config(), "architecture": "table_mlp"}
