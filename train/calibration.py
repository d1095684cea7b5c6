"""Probabilities that mean what they say: does "90 %" come true nine times in ten?

Measured on out-of-fold predictions (every training row predicted by a model that never saw
it; the test rows are never used): the Brier score, the expected calibration error, and a
reliability diagram. Temperature scaling divides the logit by one fitted scalar T; it keeps
every decision and the ROC curve (the order of the probabilities does not change) and only
moves how sure the model says it is. It is kept only when it lowers the out-of-fold Brier score.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_expit
from sklearn.calibration import CalibrationDisplay

from pocketml.folder.reference import BINS, calibration_figures


def fit_temperature(y: np.ndarray, logits: np.ndarray) -> float:
    """The T > 0 that minimises the log loss of sigmoid(logit / T)."""
    y = y.astype(float)

    def log_loss(log_t: float) -> float:
        z = logits / np.exp(log_t)
        return -float(np.mean(y * log_expit(z) + (1 - y) * log_expit(-z)))

    return float(np.exp(minimize_scalar(log_loss, bounds=(-5, 5), method="bounded").x))


def calibrate(y: np.ndarray, logits: np.ndarray) -> dict:
    """The temperature for these out-of-fold logits, and whether it is worth keeping."""
    temperature = fit_temperature(y, logits)
    before = calibration_figures(y, expit(logits))
    after = calibration_figures(y, expit(logits / temperature))
    kept = after["brier"] < before["brier"]
    return {"temperature_fitted": temperature, "kept": kept,
            "temperature": temperature if kept else 1.0,
            "out_of_fold": before, "out_of_fold_calibrated": after}


def plot_reliability(path, y: np.ndarray, probabilities: dict[str, np.ndarray]) -> None:
    """Observed rate against predicted probability, per model (the diagonal is perfect), over
    how many rows fall in each bin: with a confident model most rows sit at 0 and 1, and the
    middle bins' points rest on a handful of patients."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 7), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    edges = np.linspace(0, 1, BINS + 1)
    for name, p in probabilities.items():
        figures = calibration_figures(y, p)
        display = CalibrationDisplay.from_predictions(
            y, p, n_bins=BINS, ax=top, name=f"{name} (Brier {figures['brier']:.3f}, "
                                             f"ECE {figures['ece']:.3f})")
        bottom.hist(p, bins=edges, histtype="step", lw=1.5, color=display.line_.get_color())
    top.set(title="Reliability on out-of-fold predictions", xlabel="",
            ylabel="observed share of positives")
    top.legend(loc="upper left", fontsize=8)
    bottom.set(yscale="log", xlabel="predicted probability of the positive class",
               ylabel="rows per bin")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
