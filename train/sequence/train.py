"""`pocketml train sequence`: the lecture's RNN and LSTM forecasting the next value.

chronological split -> windows -> training on the past only -> RMSE on the held-out future,
next to the naive forecast (the last value seen) that a useful model has to beat.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from pocketml.folder.custody import record_training
from pocketml.folder.replace import replace_folder
from pocketml.folder import artifacts
from pocketml.train.loop import History, TrainConfig, check_run_options, fit, predict
from pocketml.train.metrics import plot_training_curves
from pocketml.train.sequence.model import SequenceRNN
from pocketml.train.sequence.data import (Series, Windows, chronological_split, load_series,
                                          naive_forecast, rmse, training_values)

SEQUENCE_TRAINING = TrainConfig(epochs=300, batch_size=32, weight_decay=1e-4, patience=30,
                                description="sequence")
# The loss is the squared error in the series' own units (sunspots: hundreds), so the
# gradients are thousands of times those of the kidney MLP's log loss: plain SGD at its rate
# diverges. Each rate is benchmarks/sweep_learning_rates.py's choice by validation loss
# (seed 0, 1e-4 to 1); AdamW, the default, keeps the rate these models were tuned with (the
# sweep would take 0.01 for both).
LEARNING_RATES = {
    "rnn": {"sgd": 1e-4, "momentum": 1e-4, "rmsprop": 3e-3, "adagrad": 3e-2, "adam": 3e-3},
    "lstm": {"sgd": 1e-4, "momentum": 1e-4, "rmsprop": 3e-2, "adagrad": 0.1, "adam": 1e-2},
}
HIDDEN_SIZE = 32


def sequence_training(cell: str) -> TrainConfig:
    """The training settings of an RNN or LSTM (`cell`) on a series."""
    return dataclasses.replace(SEQUENCE_TRAINING, learning_rates=LEARNING_RATES[cell])


def tensors(windows: Windows) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(windows.x), torch.from_numpy(windows.y)


def fit_sequence(series: Series, cell: str, config: TrainConfig
                 ) -> tuple[SequenceRNN, History, dict[str, Windows], np.ndarray, dict]:
    """Returns the model, its history, the windows of each part, the test predictions and
    the metrics."""
    parts = chronological_split(series)
    torch.manual_seed(config.seed)  # the initial weights
    model = SequenceRNN(cell, HIDDEN_SIZE).fit_scale(torch.from_numpy(training_values(series)))
    history = fit(model, F.mse_loss, tensors(parts["train"]), tensors(parts["validation"]),
                  config)
    test = parts["test"]
    predicted = predict(model, torch.from_numpy(test.x))
    metrics = {
        "test": {"rmse": rmse(predicted, test.y), "naive_rmse": rmse(naive_forecast(test), test.y),
                 "mae": float(np.mean(np.abs(predicted - test.y))), "windows": len(test.y)},
        "split": {part: len(w.y) for part, w in parts.items()},
        "training": history.epoch_record(config.seed, model.config()),
        "data": {"series": series.name, "sequences": series.values.shape[0],
                 "steps": series.values.shape[1], "window": series.window, "unit": series.unit},
    }
    metrics["test"]["beats_naive"] = metrics["test"]["rmse"] < metrics["test"]["naive_rmse"]
    return model, history, parts, predicted, metrics


def as_typed(values) -> list[float]:
    """float32 values as the shortest decimals that read back to them (190.2, not
    190.1999969...): what a person types, so the range's own bounds pass the app's check."""
    return [float(np.format_float_positional(np.float32(v), trim="-")) for v in values]


def sequence_schema(series: Series) -> dict:
    return {
        "format": "pocketml-schema/1",
        "model": f"sequence-{series.name}",
        "task": "regression",
        "input": {"name": "window", "dtype": "float32", "shape": [-1, series.window, 1],
                  "range": as_typed([series.values.min(), series.values.max()]),
                  "unit": series.unit, "meaning": "the last values, oldest first",
                  # what the app's chart opens on: the newest window the data holds
                  "recent": as_typed(series.values[-1, -series.window:])},
        "output": {"name": "next_value", "dtype": "float32", "shape": [-1, 1],
                   "unit": series.unit},
    }


def plot_forecast(path: Path, test: Windows, predicted: np.ndarray, title: str) -> None:
    """Left: the held-out targets in time order with both forecasts; right: predicted vs actual."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(test.y[:, 0], "k-", lw=1.5, label="actual")
    left.plot(predicted[:, 0], "-", label="model")
    left.plot(naive_forecast(test)[:, 0], ":", label="naive (last value)")
    left.set_xlabel("held-out window (time order)")
    left.legend()
    right.scatter(test.y[:, 0], predicted[:, 0], s=10)
    lo, hi = float(test.y.min()), float(test.y.max())
    right.plot([lo, hi], [lo, hi], "k:", lw=1)
    right.set_xlabel("actual")
    right.set_ylabel("predicted")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def train_sequence(out: Path, cell: str = "lstm", series: str = "sunspots",
                   config: TrainConfig | None = None, log=print,
                   finish: Callable[[Path], None] | None = None, force: bool = False) -> dict:
    """Train and write the folder `out`, replaced whole on success (`finish`: see train_kidney;
    `force`: replace `out` even if it holds files pocketml did not write;
    `config`: sequence_training(cell) when None)."""
    started = time.perf_counter()
    config = sequence_training(cell) if config is None else config
    check_run_options(config.device, config.seed, config.optimizer)
    with replace_folder(out, "--out", finish=finish, force=force) as folder:
        data = load_series(series)
        model, history, parts, predicted, metrics = fit_sequence(data, cell, config)
        metrics["seconds"] = round(time.perf_counter() - started, 1)
        test = parts["test"]
        artifacts.save_model(model, folder)
        artifacts.save_test_set(folder, test.x, test.y)
        artifacts.save_arrays(folder, artifacts.CALIBRATION, x=parts["train"].x)
        artifacts.write_json(folder / artifacts.SCHEMA, sequence_schema(data))
        artifacts.write_json(folder / artifacts.METRICS, metrics)
        record_training(folder)
        plot_forecast(folder / "predicted_vs_actual.png", test, predicted,
                      f"{cell.upper()} on {series}: held-out RMSE {metrics['test']['rmse']:.3g} "
                      f"(naive {metrics['test']['naive_rmse']:.3g})")
        plot_training_curves(folder / "training_curves.png", history.train_loss,
                             history.val_loss, history.best_epoch)
    t = metrics["test"]
    log(f"{cell.upper()} on {series}: held-out RMSE {t['rmse']:.4g} vs naive {t['naive_rmse']:.4g}"
        f" ({'beats' if t['beats_naive'] else 'does NOT beat'} the naive forecast); "
        f"{metrics['training']['epochs_run']} epochs in {metrics['seconds']} s; wrote {out}")
    return metrics
