"""Binary-classification metrics and the pictures people read them from."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only: training runs on servers and in CI without a display

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import (ConfusionMatrixDisplay, RocCurveDisplay, accuracy_score,
                             brier_score_loss, f1_score, make_scorer, recall_score,
                             roc_auc_score)

BINARY_METRICS = ("accuracy", "roc_auc", "f1", "sensitivity", "specificity", "brier")

# The same definitions, as scorers for cross_validate (brier is negated there: higher = better).
SCORERS = {
    "accuracy": "accuracy",
    "roc_auc": "roc_auc",
    "f1": "f1",
    "sensitivity": make_scorer(recall_score, pos_label=1),
    "specificity": make_scorer(recall_score, pos_label=0),
    "brier": "neg_brier_score",
}


def binary_metrics(y_true: np.ndarray, p_positive: np.ndarray, threshold: float = 0.5) -> dict:
    y_pred = (p_positive >= threshold).astype(int)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "roc_auc": float(roc_auc_score(y_true, p_positive)),
        "f1": float(f1_score(y_true, y_pred)),
        "sensitivity": float(recall_score(y_true, y_pred, pos_label=1)),
        "specificity": float(recall_score(y_true, y_pred, pos_label=0)),
        "brier": float(brier_score_loss(y_true, p_positive)),
    }


def summarize_cv(scores: dict) -> dict:
    """cross_validate's test_* arrays -> {metric: {mean, std}}, brier back to a loss."""
    summary = {}
    for name in SCORERS:
        values = np.asarray(scores[f"test_{name}"], dtype=float)
        values = -values if name == "brier" else values
        summary[name] = {"mean": float(values.mean()), "std": float(values.std())}
    return summary


def plot_roc(path, y_true: np.ndarray, probabilities: dict[str, np.ndarray]) -> None:
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, p in probabilities.items():
        RocCurveDisplay.from_predictions(y_true, p, name=name, ax=ax)
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set_title("ROC on the held-out test set")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_confusion(path, y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> None:
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ConfusionMatrixDisplay.from_predictions(y_true, y_pred, display_labels=labels, ax=ax,
                                            colorbar=False, cmap="Blues")
    ax.set_title("Confusion matrix (test set)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_training_curves(path, train_loss: list[float], val_loss: list[float],
                         best_epoch: int) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(train_loss, label="training loss")
    ax.plot(val_loss, label="validation loss")
    ax.axvline(best_epoch, color="gray", ls="--", lw=1, label=f"best epoch ({best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title("Training curves")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_importance(path, importance: dict[str, dict[str, float]], metric: str) -> None:
    """Horizontal bars, largest first: how much `metric` drops when one input is shuffled."""
    names = sorted(importance, key=lambda n: importance[n]["mean"])
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(names) + 1.2))
    ax.barh(names, [importance[n]["mean"] for n in names],
            xerr=[importance[n]["std"] for n in names], color="tab:blue", alpha=0.8)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel(f"drop in test {metric} when the input is shuffled")
    ax.set_title("Permutation importance (test set)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
