"""The lecture's preprocessing, feature engineering, balancing and feature selection, as one
imbalanced-learn Pipeline.

Because every step lives inside the pipeline, `cross_validate` and `fit` only ever fit the
imputer, the balancer and the selector on the training rows they are given: leakage of test
rows into preprocessing is impossible by construction, not by care.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
from imblearn.over_sampling import SMOTE, SMOTENC, RandomOverSampler
from imblearn.pipeline import Pipeline
from imblearn.under_sampling import RandomUnderSampler
from joblib import Memory
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import RFE, SelectKBest, chi2, mutual_info_classif
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, OneHotEncoder

from pocketml.folder.errors import UserError
from pocketml.train.kidney.choices import BALANCERS, SELECTORS
from pocketml.train.kidney.data import ATTRIBUTE_BY_NAME, CATEGORICAL, NUMERIC

# The lecture's 10 features; the app's form is built on them.
SEED_FEATURES = ("sg", "al", "sod", "hemo", "pc_abnormal", "pc_normal",
                 "htn_no", "htn_yes", "dm_no", "dm_yes")
# Mutual information's nearest-neighbour estimate costs n log n per feature (140 s for 370,000
# rows) while it stops changing long before: past this many rows it is taken on a sample.
MUTUAL_INFO_ROWS = 20_000
# Each field's choices in the order of its one-hot columns; a choice's code is its index here.
CHOICES = {c: sorted(ATTRIBUTE_BY_NAME[c].choices) for c in CATEGORICAL}


def with_categories(frame: pd.DataFrame, choices: dict = CHOICES) -> pd.DataFrame:
    """The table with each categorical column as a pandas Categorical of its documented
    choices: a byte per value instead of a Python string (57 MB instead of 317 MB for 463,200
    rows). It is a fixed mapping, nothing fitted: converting all rows at once leaks nothing."""
    return frame.assign(**{c: pd.Categorical(frame[c], categories=values)
                           for c, values in choices.items()})


def category_codes(frame: pd.DataFrame, choices: dict = CHOICES) -> pd.DataFrame:
    """Each choice as its code (NaN when missing), from the data dictionary, so nothing is fitted.

    Imputing and encoding numbers runs in numpy; on strings scikit-learn loops in Python,
    which took 20 s per fold on a 370,000-row table.
    """
    codes = {c: pd.Categorical(frame[c], categories=choices[c]).codes.astype(np.float64)
             for c in frame.columns}
    for column in codes.values():
        column[column < 0] = np.nan
    return pd.DataFrame(codes, index=frame.index)


def one_hot_name(field: str, code, choices: dict = CHOICES) -> str:
    """`pc_abnormal` for code 0 of pc. (OneHotEncoder first tries it on a dummy field.)"""
    return f"{field}_{choices[field][int(code)]}" if field in choices else f"{field}_{code}"


def imputer(numeric: list[str] = NUMERIC, choices: dict = CHOICES) -> ColumnTransformer:
    """Numeric median, categorical most frequent (as codes); keeps column names (pandas output).

    Codes follow the sorted choices, so a tie goes to the same choice as it did on strings.
    `choices`: each categorical column's choices (the kidney data dictionary's by default).
    """
    categorical = make_pipeline(FunctionTransformer(category_codes, kw_args={"choices": choices},
                                                    feature_names_out="one-to-one"),
                                SimpleImputer(strategy="most_frequent"))
    return ColumnTransformer(
        [("numeric", SimpleImputer(strategy="median"), list(numeric)),
         ("categorical", categorical, list(choices))],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")


def one_hot_encoder(choices: dict = CHOICES) -> ColumnTransformer:
    """One-hot columns named `<field>_<choice>` (pc_abnormal, htn_yes, ...), numbers passed on.

    Categories come from the data dictionary, not from the fold, so every fold has the same
    columns even when a rare choice is absent from it.
    """
    categories = [np.arange(len(values), dtype=np.float64) for values in choices.values()]
    return ColumnTransformer(
        [("categorical", OneHotEncoder(categories=categories, sparse_output=False,
                                       dtype=np.float64,
                                       feature_name_combiner=partial(one_hot_name,
                                                                     choices=choices)),
          list(choices))],
        remainder="passthrough", verbose_feature_names_out=False,
    ).set_output(transform="pandas")


def neighbours() -> NearestNeighbors:
    """SMOTE's neighbour search: a ball tree. The default picks brute force for the 34 encoded
    columns, which compares every minority row with every other: quadratic in the rows."""
    return NearestNeighbors(n_neighbors=6, algorithm="ball_tree")  # the row itself + SMOTE's 5


def balancer(name: str, seed: int, categorical: list[str] = CATEGORICAL):
    if name == "smote":
        return SMOTE(k_neighbors=neighbours(), random_state=seed)
    if name == "smotenc":
        # SMOTENC runs before one-hot encoding, on the categorical columns by name, so that
        # synthetic patients get real categories instead of interpolated one-hot fractions.
        # It searches neighbours in its own sparse encoding, where scikit-learn has only
        # brute force: its cost grows with the square of the minority rows.
        return SMOTENC(categorical_features=list(categorical), random_state=seed)
    if name == "over":
        return RandomOverSampler(random_state=seed)
    if name == "under":
        return RandomUnderSampler(random_state=seed)
    if name == "none":
        return "passthrough"
    raise UserError(f"--balance {name!r}: choose one of {', '.join(BALANCERS)}.")


class ColumnSelector(TransformerMixin, BaseEstimator):
    """Keep a fixed list of named columns (the lecture's seed features)."""

    def __init__(self, columns: tuple[str, ...] = SEED_FEATURES):
        self.columns = columns

    def fit(self, x: pd.DataFrame, y=None):
        missing = [c for c in self.columns if c not in x.columns]
        if missing:
            raise UserError(f"features {', '.join(missing)} are not columns of the encoded "
                            f"data; known: {', '.join(x.columns)}.")
        self.feature_names_in_ = np.asarray(x.columns, dtype=object)
        return self

    def transform(self, x: pd.DataFrame) -> pd.DataFrame:
        return x[list(self.columns)]

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.columns, dtype=object)


def mutual_info_scores(x, y, seed: int = 0) -> np.ndarray:
    """mutual_info_classif on at most MUTUAL_INFO_ROWS rows, a stratified sample of (x, y)."""
    if len(y) > MUTUAL_INFO_ROWS:
        x, _, y, _ = train_test_split(x, y, train_size=MUTUAL_INFO_ROWS, stratify=y,
                                      random_state=seed)
    return mutual_info_classif(x, y, random_state=seed)


def ranker(method: str, k: int | str, seed: int):
    """A selector that scores every encoded feature and keeps the best k (k="all" keeps all)."""
    if method == "chi2":
        # chi2 needs non-negative inputs; raw clinical values and one-hot columns are.
        return SelectKBest(chi2, k=k)
    if method == "mutual-info":
        return SelectKBest(partial(mutual_info_scores, seed=seed), k=k)
    if method == "rfe":
        # The scaler only helps the logistic regression rank; RFE still passes raw columns on,
        # because the network (and the exported graph) takes raw clinical values.
        scaled_lr = make_pipeline(MinMaxScaler(), LogisticRegression(max_iter=2000))
        return RFE(scaled_lr, n_features_to_select=1 if k == "all" else k,
                   importance_getter="named_steps.logisticregression.coef_")
    raise UserError(f"--select {method!r}: choose one of {', '.join(SELECTORS)}.")


def selector(features: str, method: str, k: int, seed: int):
    if features == "seed":
        return ColumnSelector(SEED_FEATURES)
    if features == "auto":
        return ranker(method, k, seed)
    raise UserError(f"--features {features!r}: choose seed or auto.")


def build_pipeline(model, balance: str = "smote", features: str = "seed",
                   select: str = "chi2", k: int = 10, seed: int = 0,
                   memory: Memory | None = None, *, numeric: list[str] = NUMERIC,
                   choices: dict = CHOICES, chooser=None) -> Pipeline:
    """impute -> [balance | encode] -> select -> model, with SMOTENC placed before encoding.

    With `memory`, pipelines that differ only in their model fit the steps before it once
    per set of training rows: the cache is keyed by the steps' settings and the rows.
    `numeric`, `choices` and `chooser` (a selector in place of `features`/`select`/`k`'s)
    describe another table than the kidney's (train/table/).
    """
    steps = [("impute", imputer(numeric, choices))]
    if balance == "smotenc":
        steps += [("balance", balancer(balance, seed, list(choices))),
                  ("encode", one_hot_encoder(choices))]
    else:
        steps += [("encode", one_hot_encoder(choices)), ("balance", balancer(balance, seed))]
    steps += [("select", chooser or selector(features, select, k, seed)), ("model", model)]
    return Pipeline(steps, memory=memory)


def rank_features(x: pd.DataFrame, y: np.ndarray, method: str, seed: int) -> pd.DataFrame:
    """Score every encoded feature on training rows only; one row per feature, best first."""
    encoded = make_pipeline(imputer(), one_hot_encoder()).fit_transform(x)
    fitted = ranker(method, "all", seed).fit(encoded, y)
    # SelectKBest scores (higher is better); RFE ranks (1 is best).
    scores = fitted.scores_ if hasattr(fitted, "scores_") else -fitted.ranking_.astype(float)
    table = pd.DataFrame({"feature": encoded.columns, "score": scores})
    table = table.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table["in_lecture_10"] = table["feature"].isin(SEED_FEATURES)
    return table
