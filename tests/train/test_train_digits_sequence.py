"""Smoke runs of `train digits` and `train sequence` (a couple of epochs): the model folder has
everything export/ and the app read, and the saved model reproduces the reported metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pocketml.folder.artifacts import load_model, load_test_set, read_json
from pocketml.train.digits.train import train_digits
from pocketml.train.loop import TrainConfig
from pocketml.train.sequence.train import train_sequence
from pocketml.train.sequence.data import rmse

SMOKE = TrainConfig(epochs=2, patience=2, progress=False, device="cpu")
FOLDER_FILES = {"model.safetensors", "model.json", "schema.json", "metrics.json",
                "test_set.npz", "training_curves.png"}


def test_train_digits_writes_a_complete_folder(tmp_path):
    folder = tmp_path / "digits"
    metrics = train_digits(folder, None, SMOKE, log=lambda _: None)
    assert FOLDER_FILES | {"confusion_matrix.png"} <= {p.name for p in folder.iterdir()}
    schema = read_json(folder / "schema.json")
    assert schema["input"] == {**schema["input"], "name": "image", "shape": [-1, 1, 28, 28],
                               "range": [0, 255]}
    assert schema["classes"] == [str(d) for d in range(10)]
    x, y = load_test_set(folder)
    assert x.shape == (1000, 1, 28, 28) and x.dtype == np.float32 and x.max() == 255
    assert np.bincount(y.astype(int)).tolist() == [100] * 10
    with torch.no_grad():
        probabilities = load_model(folder)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    accuracy = float((probabilities.argmax(axis=1) == y).mean())
    assert accuracy == pytest.approx(metrics["test"]["accuracy"])
    assert accuracy > 0.8  # two epochs already learn real digits
    assert np.trace(np.array(metrics["test"]["confusion_matrix"])) == round(accuracy * 1000)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_train_sequence_writes_a_complete_folder(tmp_path, cell):
    folder = tmp_path / cell
    metrics = train_sequence(folder, cell, "sunspots", SMOKE, log=lambda _: None)
    assert FOLDER_FILES | {"predicted_vs_actual.png"} <= {p.name for p in folder.iterdir()}
    schema = read_json(folder / "schema.json")
    assert schema["task"] == "regression" and schema["input"]["shape"] == [-1, 11, 1]
    # the range as a person types it, and the newest window (2008 back to 1998) for the app
    assert schema["input"]["range"] == [0.0, 190.2]
    x, y = load_test_set(folder)
    newest = np.append(x[-1, 1:, 0], y[-1, 0])  # the last test window moved on by its target
    assert schema["input"]["recent"] == [float(f"{v:g}") for v in newest]
    assert schema["input"]["recent"][-3:] == [15.2, 7.5, 2.9]
    assert x.shape == (46, 11, 1) and y.shape == (46, 1)
    with torch.no_grad():
        predicted = load_model(folder)(torch.from_numpy(x)).numpy()
    assert rmse(predicted, y) == pytest.approx(metrics["test"]["rmse"], rel=1e-5)
