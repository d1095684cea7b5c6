"""The kidney pipeline (train/kidney/pipeline.py) for any table: impute -> [balance | encode]
-> select -> model, every step fitted on training rows only.

Selection keeps whole fields, not single one-hot columns: a form asks for a choice, so a field
the model takes brings every one of its choices."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
from imblearn.pipeline import Pipeline
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_selection import f_classif, f_regression, mutual_info_regression

from pocketml.folder.errors import UserError
from pocketml.train.kidney.pipeline import build_pipeline, mutual_info_scores, one_hot_name

SELECTORS = ("mutual-info", "f-test")
BALANCERS = ("auto", "smote", "smotenc", "over", "under", "none")
# auto balances a classification target whose smallest class has fewer rows than this share
# of its largest: a milder imbalance costs more in synthetic rows than it helps.
IMBALANCED_BELOW = 0.8


def field_columns(numeric: list[str], choices: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each field's encoded columns, by the names the encoder gives them."""
    groups = {name: [name] for name in numeric}
    for field, values in choices.items():
        groups[field] = [one_hot_name(field, code, choices) for code in range(len(values))]
    return groups


def scorer(method: str, task: str, seed: int):
    """How the encoded columns are scored against the target (higher is better)."""
    if method == "mutual-info":
        if task == "regression":
            return partial(mutual_info_regression, random_state=seed)
        return partial(mutual_info_scores, seed=seed)
    if method == "f-test":
        return lambda x, y: np.nan_to_num((f_regression if task == "regression"
                                           else f_classif)(x, y)[0])
    raise UserError(f"--select {method!r}: choose one of {', '.join(SELECTORS)}.")


class FieldSelector(TransformerMixin, BaseEstimator):
    """Keep the k fields whose best encoded column scores highest, with all their columns."""

    def __init__(self, groups: dict | None = None, k: int = 10, method: str = "mutual-info",
                 task: str = "binary", seed: int = 0):
        self.groups = groups
        self.k = k
        self.method = method
        self.task = task
        self.seed = seed

    def fit(self, x: pd.DataFrame, y):
        scores = dict(zip(x.columns, scorer(self.method, self.task, self.seed)(x.to_numpy(), y)))
        self.field_scores_ = {field: float(max(scores[c] for c in columns))
                              for field, columns in self.groups.items()}
        ranked = sorted(self.field_scores_, key=self.field_scores_.get, reverse=True)
        kept = set(ranked[:self.k])
        # In the encoded order, so the schema's columns follow the data's.
        self.columns_ = [c for c in x.columns
                         if any(c in self.groups[f] for f in kept)]
        self.feature_names_in_ = np.asarray(x.columns, dtype=object)
        return self

    def transform(self, x: pd.DataFrame) -> pd.DataFrame:
        return x[self.columns_]

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.columns_, dtype=object)


def chosen_balance(balance: str, task: str, y: np.ndarray, choices: dict) -> str:
    """The balancer `auto` stands for, checked against the task."""
    if balance not in BALANCERS:
        raise UserError(f"--balance {balance!r}: choose one of {', '.join(BALANCERS)}.")
    if task == "regression":
        if balance not in ("auto", "none"):
            raise UserError(f"--balance {balance}: a regression target has no classes to "
                            "balance; leave --balance out.")
        return "none"
    if balance == "smotenc" and not choices:
        raise UserError("--balance smotenc needs a categorical column; use smote.")
    if balance != "auto":
        return balance
    counts = np.bincount(y)
    if counts.min() >= IMBALANCED_BELOW * counts.max():
        return "none"
    return "smotenc" if choices else "smote"


def build_table_pipeline(model, numeric: list[str], choices: dict, task: str, balance: str,
                         select: str, k: int, seed: int) -> Pipeline:
    """The kidney's pipeline on this table's columns, selecting whole fields."""
    return build_pipeline(model, balance, seed=seed, numeric=numeric, choices=choices,
                          chooser=FieldSelector(field_columns(numeric, choices), k, select,
                                                task, seed))
