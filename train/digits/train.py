"""`pocketml train digits`: the lecture's CNN on real handwritten digits.

stratified hold-out of 1,000 digits -> validation split from the rest -> training with small
random rotations, scalings and shifts -> accuracy and confusion matrix on the held-out digits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import train_test_split

from pocketml.folder.custody import record_training
from pocketml.folder.replace import replace_folder
from pocketml.folder import artifacts
from pocketml.train.digits.data import Digits, load_digits, split_digits
from pocketml.train.loop import History, TrainConfig, check_run_options, fit, predict
from pocketml.train.metrics import plot_confusion, plot_training_curves
from pocketml.train.digits.model import DigitsCNN

CLASSES = [str(d) for d in range(10)]
VALIDATION_SIZE = 0.1
CALIBRATION_DIGITS = 256  # training digits kept for the integer formats' calibration
# Chosen on seeds 0-2: held-out accuracy 0.973-0.978 (0.967 for seed 0 without the jitter).
# On a 2-core CPU an epoch of 3,600 digits takes under a second; early stopping ends it sooner.
# The other optimizers' rates: benchmarks/sweep_learning_rates.py's choice by validation loss
# (seed 0, 3e-4 to 0.3, 10 epochs each); AdamW keeps the rate chosen above.
DIGITS_TRAINING = TrainConfig(
    epochs=150, batch_size=32, weight_decay=1e-4, patience=25, description="digits CNN",
    learning_rates={"sgd": 0.3, "momentum": 1e-2, "rmsprop": 3e-3, "adagrad": 1e-2,
                    "adam": 3e-3, "adamw": 1e-3})
MAX_ROTATION = math.radians(12)
MAX_SCALE = 0.1
MAX_SHIFT = 2 / 14  # 2 pixels, in affine_grid's [-1, 1] coordinates (14 pixels per unit)


def jitter(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each digit slightly rotated, scaled and shifted, as handwriting varies; drawn on the
    CPU generator so a run is reproducible on any device."""
    def uniform(limit: float) -> torch.Tensor:  # one draw per image in [-limit, limit]
        return (torch.rand(len(images), generator=generator) * 2 - 1) * limit

    angle, scale = uniform(MAX_ROTATION), 1 + uniform(MAX_SCALE)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, uniform(MAX_SHIFT)], 1),
                         torch.stack([sin, cos, uniform(MAX_SHIFT)], 1)], 1)
    grid = F.affine_grid(theta.to(images.device), list(images.shape), align_corners=False)
    # Zero padding is the background colour of raw MNIST pixels.
    return F.grid_sample(images, grid, align_corners=False)


def probability_nll(probabilities: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on the model's softmax output (the clamp keeps log finite)."""
    return F.nll_loss(torch.log(probabilities.clamp_min(1e-12)), labels)


def as_images(images: np.ndarray) -> torch.Tensor:
    """uint8 [N,28,28] -> float32 [N,1,28,28] raw pixels, the model's input."""
    return torch.from_numpy(images.astype(np.float32)).unsqueeze(1)


def fit_digits(digits: Digits, config: TrainConfig
               ) -> tuple[DigitsCNN, History, tuple[np.ndarray, np.ndarray, np.ndarray], dict]:
    """Returns the model, its history, the held-out (images, labels, predicted labels) and
    the metrics."""
    (x_train, y_train), (x_test, y_test) = split_digits(digits, seed=config.seed)
    x_fit, x_val, y_fit, y_val = train_test_split(x_train, y_train, test_size=VALIDATION_SIZE,
                                                  stratify=y_train, random_state=config.seed)
    torch.manual_seed(config.seed)  # the initial weights
    model = DigitsCNN().fit_scale(as_images(x_fit))
    history = fit(model, probability_nll, (as_images(x_fit), torch.from_numpy(y_fit)),
                  (as_images(x_val), torch.from_numpy(y_val)), config, augment=jitter)
    predicted = predict(model, as_images(x_test)).argmax(axis=1)
    metrics = {
        "test": {"accuracy": float((predicted == y_test).mean()),
                 "confusion_matrix": confusion_matrix(y_test, predicted).tolist(),
                 "digits": len(y_test)},
        "split": {"train": len(y_fit), "validation": len(y_val), "test": len(y_test)},
        "training": history.epoch_record(config.seed, model.config()),
        "data": {"source": digits.source, "digits": len(digits.labels)},
    }
    return model, history, (x_test, y_test, predicted), metrics


def digits_schema() -> dict:
    return {
        "format": "pocketml-schema/1",
        "model": "digits",
        "task": "multiclass_classification",
        "input": {"name": "image", "dtype": "float32", "shape": [-1, 1, 28, 28],
                  "range": [0, 255], "meaning": "grey levels, 0 = background, 255 = ink"},
        "output": {"name": "probabilities", "dtype": "float32", "shape": [-1, 10]},
        "classes": CLASSES,
    }


def train_digits(out: Path, data_dir: Path | None = None,
                 config: TrainConfig = DIGITS_TRAINING, log=print,
                 finish: Callable[[Path], None] | None = None, force: bool = False) -> dict:
    """Train and write the folder `out`, replaced whole on success (`finish`: see train_kidney;
    `force`: replace `out` even if it holds files pocketml did not write)."""
    started = time.perf_counter()
    check_run_options(config.device, config.seed, config.optimizer)
    with replace_folder(out, "--out", finish=finish, force=force) as folder:
        digits = load_digits(data_dir)
        log(digits.describe())
        model, history, (x_test, y_test, predicted), metrics = fit_digits(digits, config)
        metrics["seconds"] = round(time.perf_counter() - started, 1)
        (x_train, _), _ = split_digits(digits, seed=config.seed)  # the split fit_digits trained on
        artifacts.save_model(model, folder)
        artifacts.save_test_set(folder, as_images(x_test).numpy(), y_test)
        artifacts.save_arrays(folder, artifacts.CALIBRATION,
                              x=as_images(x_train[:CALIBRATION_DIGITS]).numpy())
        artifacts.write_json(folder / artifacts.SCHEMA, digits_schema())
        artifacts.write_json(folder / artifacts.METRICS, metrics)
        record_training(folder)
        plot_confusion(folder / "confusion_matrix.png", y_test, predicted, CLASSES)
        plot_training_curves(folder / "training_curves.png", history.train_loss,
                             history.val_loss, history.best_epoch)
    log(f"digits CNN: accuracy {metrics['test']['accuracy']:.4f} on {len(y_test)} "
        f"held-out digits; {metrics['training']['epochs_run']} epochs on "
        f"{history.device} in {metrics['seconds']} s; wrote {out}")
    return metrics

