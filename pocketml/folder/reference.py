"""The PyTorch reference run that custody and parity share: the module's outputs on a folder's
inputs, batch by batch, and what they measure on the held-out set (the task's metrics and, for
probabilities, calibration). Training records these figures; verify measures them again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from sklearn.metrics import accuracy_score, brier_score_loss, roc_auc_score
from torch import nn

Inputs = Sequence[np.ndarray]
BINS = 10


def run_chunks(run, inputs: Inputs, batch_size: int) -> Iterator[tuple[int, list[np.ndarray]]]:
    """(first row, outputs) for each batch of `batch_size` rows."""
    for start in range(0, len(inputs[0]), batch_size):
        yield start, run([x[start:start + batch_size] for x in inputs])


def run_batches(run, inputs: Inputs, batch_size: int) -> list[np.ndarray]:
    chunks = [outputs for _, outputs in run_chunks(run, inputs, batch_size)]
    return [np.concatenate(parts) for parts in zip(*chunks)]


def torch_runner(module: nn.Module):
    @torch.no_grad()
    def run(inputs: Inputs) -> list[np.ndarray]:
        out = module(*[torch.from_numpy(np.ascontiguousarray(x)) for x in inputs])
        return [o.numpy() for o in (out if isinstance(out, (tuple, list)) else (out,))]
    return run


def labels_of(outputs: np.ndarray, schema: dict | None) -> np.ndarray | None:
    task = (schema or {}).get("task")
    if task == "binary_classification":
        return (outputs[:, 0] >= schema.get("threshold", 0.5)).astype(int)
    if task == "multiclass_classification":
        return outputs.argmax(axis=1)
    return None


def task_metrics(outputs: np.ndarray, y: np.ndarray, schema: dict | None) -> dict:
    task = (schema or {}).get("task")
    if task == "binary_classification":
        return {"accuracy": float(accuracy_score(y, labels_of(outputs, schema))),
                "roc_auc": float(roc_auc_score(y, outputs[:, 0]))}
    if task == "multiclass_classification":
        return {"accuracy": float(accuracy_score(y, outputs.argmax(axis=1)))}
    if task == "regression":
        error = outputs.reshape(len(y), -1)[:, 0] - np.asarray(y).reshape(len(y))
        return {"rmse": float(np.sqrt(np.mean(error ** 2))), "mae": float(np.abs(error).mean())}
    return {}


PRIMARY_METRIC = {"binary_classification": "roc_auc", "multiclass_classification": "accuracy",
                  "regression": "rmse"}


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = BINS) -> float:
    """Sum over equal-width probability bins of (share of rows) x |observed rate - mean p|."""
    which = np.minimum((p * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        rows = which == b
        if rows.any():
            error += rows.mean() * abs(y[rows].mean() - p[rows].mean())
    return float(error)


def calibration_figures(y: np.ndarray, p: np.ndarray) -> dict:
    return {"brier": float(brier_score_loss(y, p)), "ece": expected_calibration_error(y, p)}
