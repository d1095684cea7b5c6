"""The PyTorch MLP as a scikit-learn classifier, so it sits in the same Pipeline, the same
cross-validation and the same split as the baselines."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from torch.nn import functional as F

from pocketml.train.loop import TrainConfig, fit, predict, torch_threads
from pocketml.train.kidney.model import MLP


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """Binary classifier; `model_` is the trained torch MLP taking the raw selected features.

    `epochs`, `max_samples`, `batch_size` and `max_steps_per_epoch` bound the work as in
    TrainConfig: the real patients (272 per fit) train for up to 300 epochs at batch 32,
    2,700 rows at batch 170, and from 16,000 rows on 3 M samples at batch 1,024: about
    3,000 steps, whatever the size of the table.
    """

    def __init__(self, hidden=(32, 16), activation="relu", dropout=0.1, epochs=300,
                 max_samples=3_000_000, batch_size=32, max_steps_per_epoch=16,
                 optimizer="adamw", lr=None, weight_decay=1e-4, patience=30,
                 validation_fraction=0.15, device="auto", seed=0, progress=False,
                 description="MLP", position=0, temperature=1.0):
        self.hidden = hidden
        self.activation = activation
        self.dropout = dropout
        self.epochs = epochs
        self.max_samples = max_samples
        self.batch_size = batch_size
        self.max_steps_per_epoch = max_steps_per_epoch
        self.optimizer = optimizer
        self.lr = lr  # None: the optimizer's rate (TrainConfig.learning_rate)
        self.weight_decay = weight_decay
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.device = device
        self.seed = seed
        self.progress = progress
        self.description = description
        self.position = position
        self.temperature = temperature  # fitted on out-of-fold logits, never on these rows

    def fit(self, x, y):
        if hasattr(x, "columns"):
            self.feature_names_in_ = np.asarray(x.columns, dtype=object)
        x = np.asarray(x, dtype=np.float32)
        targets = self._targets(np.asarray(y))
        # Early stopping watches a (stratified) slice of the training rows, never test rows.
        x_fit, x_val, y_fit, y_val = train_test_split(
            x, targets, test_size=self.validation_fraction, stratify=self._strata(y),
            random_state=self.seed)
        torch.manual_seed(self.seed)
        self.model_ = self._network(x.shape[1], y_fit)
        self.model_.scale.fit(torch.from_numpy(x_fit))
        config = TrainConfig(epochs=self.epochs, max_samples=self.max_samples,
                             batch_size=self.batch_size,
                             max_steps_per_epoch=self.max_steps_per_epoch,
                             optimizer=self.optimizer, lr=self.lr,
                             weight_decay=self.weight_decay, patience=self.patience,
                             device=self.device, threads=1, seed=self.seed,
                             progress=self.progress, description=self.description,
                             position=self.position)
        self.history_ = fit(self.model_, self._loss,
                            (torch.from_numpy(x_fit), torch.from_numpy(y_fit)),
                            (torch.from_numpy(x_val), torch.from_numpy(y_val)), config)
        self.model_.divide_logit(self.temperature)
        return self

    # What a classifier of another task (train/table/estimators.py) changes: the targets as
    # the loss takes them, the labels the validation slice is stratified by, the network.
    def _targets(self, y: np.ndarray) -> np.ndarray:
        self.classes_ = np.array([0, 1])
        return y.astype(np.float32)[:, None]

    def _strata(self, y):
        return y

    def _network(self, n_features: int, targets: np.ndarray) -> MLP:
        return MLP(n_features, tuple(self.hidden), self.activation, self.dropout)

    @staticmethod
    def _loss(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy(p.clamp(1e-7, 1 - 1e-7), y)

    def predict_proba(self, x) -> np.ndarray:
        p = self._run(x)
        return np.column_stack([1 - p, p])

    def decision_function(self, x) -> np.ndarray:
        """The logit, not yet squashed by the sigmoid: what temperature scaling is fitted on."""
        return self._run(x, "logits")

    def _run(self, x, output: str | None = None) -> np.ndarray:
        with torch_threads(1):  # as in training: faster for so small a network
            return predict(self.model_, torch.from_numpy(np.asarray(x, dtype=np.float32)),
                           output=output)[:, 0]

    def predict(self, x) -> np.ndarray:
        return (self.predict_proba(x)[:, 1] >= 0.5).astype(int)
