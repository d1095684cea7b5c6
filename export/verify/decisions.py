"""What a clinic cares about after quantization, beyond label agreement: how many decisions
flip, above all near the threshold where a small error changes them, and whether the
probabilities stay calibrated (Brier score and expected calibration error on the held-out
test set, the format's beside PyTorch's).

Parity feeds a DecisionTally chunk by chunk (the test set's rows with their labels, the random
rows without), so it works whether the outputs of a set arrive whole or in pieces."""

from __future__ import annotations

import numpy as np

from pocketml.folder.reference import calibration_figures

NEAR = 0.1  # "near the threshold": PyTorch's probability within +-NEAR of it


class DecisionTally:
    """Binary classifiers only (the schema's threshold decides); other tasks tally nothing."""

    def __init__(self, schema: dict | None):
        self.threshold = (schema or {}).get("threshold", 0.5)
        self.binary = (schema or {}).get("task") == "binary_classification"
        self.test_flipped = self.test_rows = self.near_flipped = self.near_rows = 0
        self.got, self.want, self.labels = [], [], []

    def add_test(self, got: np.ndarray, want: np.ndarray, labels: np.ndarray) -> None:
        """Rows of the held-out test set: the format's output 0, PyTorch's, the true labels."""
        if not self.binary:
            return
        got, want = got[:, 0].astype(np.float64), want[:, 0].astype(np.float64)
        self.test_flipped += int(((got >= self.threshold) != (want >= self.threshold)).sum())
        self.test_rows += len(got)
        self.got.append(got)
        self.want.append(want)
        self.labels.append(np.asarray(labels).reshape(-1))

    def add_random(self, got: np.ndarray, want: np.ndarray) -> None:
        """Random in-range rows: only those PyTorch puts within NEAR of the threshold count."""
        if not self.binary:
            return
        got, want = got[:, 0].astype(np.float64), want[:, 0].astype(np.float64)
        near = np.abs(want - self.threshold) <= NEAR
        self.near_rows += int(near.sum())
        self.near_flipped += int(((got[near] >= self.threshold)
                                  != (want[near] >= self.threshold)).sum())

    def summary(self) -> dict | None:
        if not self.binary or not self.test_rows:
            return None
        y = np.concatenate(self.labels)
        ours = calibration_figures(y, np.clip(np.concatenate(self.got), 0, 1))
        theirs = calibration_figures(y, np.concatenate(self.want))
        return {"threshold": self.threshold,
                "test_flipped": self.test_flipped, "test_rows": self.test_rows,
                "near_threshold": NEAR, "near_flipped": self.near_flipped,
                "near_rows": self.near_rows,
                "brier": ours["brier"], "ece": ours["ece"],
                "brier_pytorch": theirs["brier"], "ece_pytorch": theirs["ece"]}


def decisions_cells(decisions: dict | None) -> tuple[str, str]:
    """parity.md's two columns: flips, and calibration beside PyTorch's."""
    if not decisions:
        return "—", "—"
    flips = (f"{decisions['test_flipped']}/{decisions['test_rows']} test; "
             f"{decisions['near_flipped']}/{decisions['near_rows']} random within "
             f"±{decisions['near_threshold']:g}")
    calibration = (f"Brier {decisions['brier']:.4f} (PyTorch {decisions['brier_pytorch']:.4f}), "
                   f"ECE {decisions['ece']:.4f} (PyTorch {decisions['ece_pytorch']:.4f})")
    return flips, calibration
