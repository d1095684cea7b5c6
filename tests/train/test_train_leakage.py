"""Proof that no held-out test row reaches anything that is fitted: the imputer, the balancer,
the feature selector (ranking included), the MLP and the baselines.

The held-out rows are marked with sentinel values no real patient has (hemo 99.125, sod
777.625; both exact in float32 too). `train_kidney` then runs on that table with spies on every
`fit`/`fit_resample`, which record what they were given. A sentinel in any recorded fit input
is a leak. As a control, the spies on `transform`/`predict_proba` must see the sentinels: the
marked rows really are the test rows, and the check really can find them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from imblearn.base import BaseSampler
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import RFE, SelectKBest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression

from pocketml.train.kidney.data import CLASSES, TARGET, load_ckd
from pocketml.train.kidney.fetch import CSV_NAME, shipped_file
from pocketml.train.kidney.pipeline import ColumnSelector
from pocketml.train.kidney.cross_validation import split_train_test
from pocketml.train.kidney.options import KidneyOptions
from pocketml.train.kidney.train import train_kidney
from pocketml.train.kidney.classifier import MLPClassifier

CSV = shipped_file(CSV_NAME)
SENTINELS = {"hemo": 99.125, "sod": 777.625}


def numbers_in(x) -> np.ndarray:
    """Every numeric value of a DataFrame or array, flattened (text becomes NaN)."""
    frame = x if isinstance(x, pd.DataFrame) else pd.DataFrame(np.asarray(x))
    if frame.shape[1] == 0:
        return np.array([])
    return np.concatenate([pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
                           for c in frame.columns])


def has_sentinel(x) -> bool:
    return bool(np.isin(numbers_in(x), list(SENTINELS.values())).any())


@pytest.fixture(scope="module")
def marked_csv(tmp_path_factory) -> tuple[Path, pd.Index]:
    """The real data with every held-out row marked; the same split as the original."""
    frame = load_ckd(CSV).frame
    for column, value in SENTINELS.items():
        assert not (frame[column] == value).any()
    options = KidneyOptions()
    test_index = split_train_test(frame, options)[1].index
    marked = frame.copy()
    for column, value in SENTINELS.items():
        marked.loc[test_index, column] = value
    # The split stratifies on the class only, so marking feature values cannot move it.
    x_train, x_test, _, _ = split_train_test(marked, options)
    assert x_test.index.equals(test_index)
    assert not has_sentinel(x_train)
    assert all((x_test[c] == v).all() for c, v in SENTINELS.items())

    path = tmp_path_factory.mktemp("leak") / "marked.csv"
    written = marked.copy()
    written[TARGET] = [CLASSES[i] for i in written[TARGET]]
    written.to_csv(path, index=False)
    pd.testing.assert_frame_equal(load_ckd(path).frame, marked)  # the file reads back as is
    return path, test_index


class Spies:
    """Patches methods on classes so that each call records its input, then runs the original."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch
        self.calls: dict[str, list] = {}

    def watch(self, cls, method: str, label: str) -> None:
        original = getattr(cls, method)
        calls = self.calls.setdefault(label, [])

        def spy(estimator, x, *args, **kwargs):
            calls.append((type(estimator).__name__, len(x), has_sentinel(x)))
            return original(estimator, x, *args, **kwargs)

        self.monkeypatch.setattr(cls, method, spy)


FITTED = {  # label -> (class, method); every fit on data during training
    "imputer": (SimpleImputer, "fit"),
    "balancer": (BaseSampler, "fit_resample"),  # SMOTE, SMOTENC, random over/under
    "seed selector": (ColumnSelector, "fit"),
    "ranking selector": (SelectKBest, "fit"),
    "rfe selector": (RFE, "fit"),
    "mlp": (MLPClassifier, "fit"),
    "random forest": (RandomForestClassifier, "fit"),
    "logistic regression": (LogisticRegression, "fit"),
}
APPLIED = {  # the control: where the held-out rows must show up
    "imputer transform": (SimpleImputer, "transform"),
    "mlp predict_proba": (MLPClassifier, "predict_proba"),
}


@pytest.mark.parametrize("balance,features", [("smote", "seed"), ("smotenc", "seed"),
                                              ("smote", "auto"), ("smotenc", "auto")])
def test_no_test_row_reaches_any_fit(marked_csv, tmp_path, monkeypatch, balance, features):
    path, test_index = marked_csv
    spies = Spies(monkeypatch)
    for label, (cls, method) in {**FITTED, **APPLIED}.items():
        spies.watch(cls, method, label)

    result = train_kidney(KidneyOptions(out=tmp_path / "kidney", data=path, balance=balance,
                                        features=features, progress=False),
                          log=lambda _: None)

    calls = spies.calls
    # The spies saw real work: 5 CV folds + the final fit (+ the ranking). The three models
    # share what comes before them (a cache keyed by the rows), so each of those 6 sets of
    # training rows is imputed, balanced and selected once.
    assert len(calls["imputer"]) >= 2 * 6
    assert len(calls["balancer"]) == 6
    assert {name for name, _, _ in calls["balancer"]} == {"SMOTE" if balance == "smote"
                                                          else "SMOTENC"}
    assert len(calls["mlp"]) == 6 and len(calls["random forest"]) == 6
    assert len(calls["logistic regression"]) >= 6
    if features == "seed":
        assert len(calls["seed selector"]) == 6
    else:
        assert len(calls["ranking selector"]) == 6 + 1
    assert len(calls["ranking selector"]) >= 1  # the reported ranking is fitted too

    leaks = {label: [c for c in calls[label] if c[2]] for label in FITTED}
    assert not any(leaks.values()), leaks
    assert max(rows for _, rows, _ in calls["imputer"]) == 320  # the training rows, no more

    # Control: the held-out rows were transformed and scored, and the check found them there.
    assert any(seen for _, _, seen in calls["imputer transform"])
    assert any(seen for _, _, seen in calls["mlp predict_proba"])
    assert result["split"]["test_rows"] == len(test_index) == 80
    if features == "seed":
        x_test = np.load(tmp_path / "kidney" / "test_set.npz")["x"]
        assert (x_test[:, 3] == SENTINELS["hemo"]).all()  # columns: sg, al, sod, hemo, ...
        assert (x_test[:, 2] == SENTINELS["sod"]).all()
