"""The table MLP as scikit-learn estimators, one per task, so it sits in the same Pipeline,
cross-validation and split as the baselines. Each changes only what differs from the kidney's
binary MLPClassifier: the targets the loss takes, the network, the loss, and what it predicts."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import RegressorMixin
from torch.nn import functional as F

from pocketml.train.kidney.classifier import MLPClassifier
from pocketml.train.loop import predict, torch_threads
from pocketml.train.table.model import TableMLP


class BinaryMLP(MLPClassifier):
    """The kidney classifier on a network that records its task (architecture table_mlp)."""

    def _network(self, n_features: int, targets: np.ndarray) -> TableMLP:
        return TableMLP(n_features, tuple(self.hidden), self.activation, self.dropout, "binary")


class MulticlassMLP(MLPClassifier):
    """Softmax over the classes 0..C-1 (the labels' codes), trained on cross-entropy."""

    def _targets(self, y: np.ndarray) -> np.ndarray:
        self.classes_ = np.unique(y)
        return y.astype(np.int64)

    def _network(self, n_features: int, targets: np.ndarray) -> TableMLP:
        return TableMLP(n_features, tuple(self.hidden), self.activation, self.dropout,
                        "multiclass", len(self.classes_))

    @staticmethod
    def _loss(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.nll_loss(torch.log(p.clamp_min(1e-12)), y)

    def predict_proba(self, x) -> np.ndarray:
        with torch_threads(1):
            return predict(self.model_, torch.from_numpy(np.asarray(x, dtype=np.float32)))

    def predict(self, x) -> np.ndarray:
        return self.classes_[self.predict_proba(x).argmax(axis=1)]


class RegressionMLP(RegressorMixin, MLPClassifier):
    """A value in the target's unit; the loss is the squared error of the standardized value,
    so targets of any size train alike."""

    def _targets(self, y: np.ndarray) -> np.ndarray:
        return y.astype(np.float32)[:, None]

    def _strata(self, y):
        return None

    def _network(self, n_features: int, targets: np.ndarray) -> TableMLP:
        network = TableMLP(n_features, tuple(self.hidden), self.activation, self.dropout,
                           "regression")
        network.target.fit(torch.from_numpy(targets))
        return network

    def _loss(self, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        scale = self.model_.target
        return F.mse_loss(scale(p), scale(y))

    def predict(self, x) -> np.ndarray:
        return self._run(x)
