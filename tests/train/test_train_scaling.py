"""What keeps `pocketml train kidney` linear in the rows, on the real data: --max-rows
cross-validates on a stratified sample while the final models see every row, folds run in
worker processes with the same figures, the models share their preprocessing, and the
categorical columns become codes without changing a single encoded value."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from imblearn.base import BaseSampler

from pocketml.cli import main
from pocketml.train.kidney import train as kidney
from pocketml.train.kidney.classifier import MLPClassifier
from pocketml.train.kidney.data import CATEGORICAL, NUMERIC, load_ckd
from pocketml.train.kidney.fetch import CSV_NAME, shipped_file
from pocketml.train.kidney.pipeline import (build_pipeline, imputer, mutual_info_scores,
                                            one_hot_encoder, with_categories)
from pocketml.train.kidney import cross_validation, outputs
from pocketml.train.kidney.cross_validation import split_train_test
from pocketml.train.kidney.options import KidneyOptions
from pocketml.train.kidney.train import train_kidney

CSV = shipped_file(CSV_NAME)
STEPS = ["load", "rank features", "cross-validate mlp", "cross-validate logistic_regression",
         "cross-validate random_forest", "final fit", "permutation importance"]


def record_fits(monkeypatch, cls, method: str) -> list[Counter]:
    """Patch cls.method to record the class counts of every y it is given."""
    calls: list[Counter] = []
    original = getattr(cls, method)

    def spy(estimator, x, y, *args, **kwargs):
        calls.append(Counter(np.asarray(y).astype(int).tolist()))
        return original(estimator, x, y, *args, **kwargs)

    monkeypatch.setattr(cls, method, spy)
    return calls


@pytest.fixture(scope="module")
def sequential(tmp_path_factory) -> dict:
    """Two folds on the real data, in this process (320 rows: too few for workers)."""
    out = tmp_path_factory.mktemp("sequential") / "kidney"
    return train_kidney(KidneyOptions(out=out, data=CSV, folds=2, progress=False),
                        log=lambda _: None)


def test_max_rows_samples_cross_validation_but_the_final_fit_sees_every_row(tmp_path,
                                                                            monkeypatch):
    balanced = record_fits(monkeypatch, BaseSampler, "fit_resample")
    lines: list[str] = []
    result = train_kidney(KidneyOptions(out=tmp_path / "kidney", data=CSV, max_rows=200,
                                        progress=False), log=lines.append)
    # 200 of the 320 training rows (120 notckd, 200 ckd), stratified: 75 and 125; each of the
    # 5 folds trains on 4/5 of them. Only the final fit is given all 320.
    folds = [c for c in balanced if sum(c.values()) == 160]
    assert folds and all(c == Counter({0: 60, 1: 100}) for c in folds)
    assert balanced[-1] == Counter({0: 120, 1: 200})
    assert all(sum(c.values()) in (160, 320) for c in balanced)
    assert result["split"] == {"train_rows": 320, "test_rows": 80, "folds": 5, "cv_rows": 200,
                               "cv_sampled": True, "max_rows": 200}
    saved = json.loads((tmp_path / "kidney" / "metrics.json").read_text())
    assert saved["split"] == result["split"]
    log = "\n".join(lines)
    assert ("a stratified sample of 200 of the 320 training rows (--max-rows 200); "
            "the final models train on all 320") in log
    # The exported MLP passed over all of them: 400 after SMOTE, less its 15 % validation.
    assert saved["training"]["samples_per_check"] == 340


def test_without_a_big_table_every_training_row_is_cross_validated(sequential):
    assert sequential["split"]["cv_rows"] == 320 and sequential["split"]["cv_sampled"] is False


@pytest.mark.parametrize("value,expected", [
    ("0", "--max-rows 0: give the most training rows to cross-validate on, a positive number"),
    ("-5", "--max-rows -5: give the most training rows"),
    ("12", "--max-rows 12: the sample has too few rows of class notckd"),
])
def test_bad_max_rows_exits_2_and_leaves_nothing(tmp_path, capsys, value, expected):
    out = tmp_path / "kidney"
    code = main(["train", "kidney", "--data", str(CSV), "--out", str(out), "--no-progress",
                 "--max-rows", value])
    err = capsys.readouterr().err
    assert code == 2, err[-2000:]
    assert err.startswith("pocketml: error: ") and expected in err and "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_too_small_sample_names_the_smallest_that_works(tmp_path, capsys):
    assert main(["train", "kidney", "--data", str(CSV), "--out", str(tmp_path / "k"),
                 "--no-progress", "--max-rows", "12"]) == 2
    assert "Use --max-rows 27 or more." in capsys.readouterr().err  # 2 x 5 / (120/320)
    assert main(["train", "kidney", "--data", str(CSV), "--out", str(tmp_path / "k"),
                 "--no-progress", "--max-rows", "27", "--folds", "5"]) == 0


def test_max_rows_that_is_not_a_number_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["train", "kidney", "--data", str(CSV), "--out", str(tmp_path / "k"),
              "--max-rows", "many"])
    assert stopped.value.code == 2
    assert "--max-rows: invalid int value: 'many'" in capsys.readouterr().err
    assert not (tmp_path / "k").exists()


def test_parallel_folds_give_the_same_figures_as_sequential_ones(sequential, tmp_path,
                                                                 monkeypatch):
    for module in (kidney, cross_validation):  # the log line and the folds themselves
        monkeypatch.setattr(module, "worker_processes", lambda rows, tasks: 2)
    here = record_fits(monkeypatch, MLPClassifier, "fit")
    lines: list[str] = []
    parallel = train_kidney(KidneyOptions(out=tmp_path / "kidney", data=CSV, folds=2,
                                          progress=False), log=lines.append)
    # Every fold ran in a worker process; only the final fit (400 rows balanced) ran here.
    assert here == [Counter({0: 200, 1: 200})]
    assert "2 worker process(es)" in "\n".join(lines)
    assert parallel["cv"] == sequential["cv"] and parallel["test"] == sequential["test"]
    assert parallel["baselines"] == sequential["baselines"]


def test_metrics_say_how_long_each_step_took_and_how_the_mlp_was_bounded(sequential):
    assert list(sequential["seconds_per_step"]) == STEPS + ["write"]
    assert all(t >= 0 for t in sequential["seconds_per_step"].values())
    training = sequential["training"]
    assert training["batch_size"] == 32  # 272 rows: the smallest batch
    assert training["stopped_by"] in ("patience", "epochs")
    assert training["samples_seen"] == training["checks"] * training["samples_per_check"]


def test_models_share_their_preprocessing_through_the_cache(tmp_path, monkeypatch):
    balanced = record_fits(monkeypatch, BaseSampler, "fit_resample")
    train_kidney(KidneyOptions(out=tmp_path / "kidney", data=CSV, folds=2, progress=False),
                 log=lambda _: None)
    # 2 folds + the final fit, each balanced once for all three models.
    assert len(balanced) == 3


@pytest.mark.parametrize("balance", ["smote", "smotenc", "over", "under", "none"])
def test_balancing_counts_are_what_the_balancer_did(balance):
    frame = with_categories(load_ckd(CSV).frame)
    x_train, _, y_train, _ = split_train_test(frame, KidneyOptions())
    pipeline = build_pipeline(MLPClassifier(epochs=1), balance).fit(x_train, y_train)
    counts = outputs.class_counts_after_balancing(pipeline, y_train)
    if balance == "none":
        expected = Counter(y_train.tolist())
    else:
        head = pipeline[:[n for n, _ in pipeline.steps].index("balance") + 1]
        expected = Counter(head.fit_resample(x_train, y_train)[1].tolist())
    assert counts["after"] == outputs.class_names(expected)
    assert counts["before"] == {"notckd": 120, "ckd": 200}


@pytest.mark.parametrize("categories", [False, True], ids=["strings", "categoricals"])
def test_codes_give_the_one_hot_columns_of_the_strings(categories):
    frame = load_ckd(CSV).frame
    x_train, x_test, _, _ = split_train_test(frame, KidneyOptions())
    steps = [imputer(), one_hot_encoder()]
    fitted_on = with_categories(x_train) if categories else x_train
    encoded = steps[1].fit(steps[0].fit_transform(fitted_on)).transform(
        steps[0].transform(with_categories(x_test) if categories else x_test))
    for field in CATEGORICAL:
        values = x_train[field].dropna()
        counts = values.value_counts()
        most_frequent = min(counts[counts == counts.max()].index)  # ties: the first in order
        filled = x_test[field].astype(object).where(x_test[field].notna(), most_frequent)
        for choice in sorted(set(values) | {most_frequent}):
            np.testing.assert_array_equal(encoded[f"{field}_{choice}"].to_numpy(),
                                          (filled == choice).to_numpy(dtype=float))
    medians = x_train[NUMERIC].median()
    pd.testing.assert_frame_equal(encoded[NUMERIC], x_test[NUMERIC].fillna(medians))


def test_categoricals_take_a_fraction_of_the_memory_of_strings():
    frame = load_ckd(CSV).frame
    converted = with_categories(frame)
    assert (converted[CATEGORICAL].memory_usage(deep=True).sum()
            < frame[CATEGORICAL].memory_usage(deep=True).sum() / 5)
    for column in CATEGORICAL:  # the same values, missing ones included
        as_text = converted[column].astype(object)
        assert as_text.where(as_text.notna(), None).tolist() == \
            frame[column].astype(object).where(frame[column].notna(), None).tolist()


def test_mutual_information_is_unchanged_below_its_sample_size():
    from sklearn.feature_selection import mutual_info_classif

    x = np.random.default_rng(0).normal(size=(500, 3))
    y = (x[:, 0] > 0).astype(int)
    np.testing.assert_array_equal(mutual_info_scores(x, y, seed=0),
                                  mutual_info_classif(x, y, random_state=0))


def test_the_forest_grows_each_tree_on_a_bounded_sample():
    assert cross_validation.candidate_models(KidneyOptions(), 320)["random_forest"].max_samples is None
    rows = 50_000
    x = np.random.default_rng(0).normal(size=(rows, 4))
    forest = cross_validation.candidate_models(KidneyOptions(), rows)["random_forest"]
    forest.set_params(n_estimators=3).fit(x, x[:, 0] > 0)
    # Each tree's bootstrap: FOREST_ROWS draws, whatever the size of the table.
    assert [t.tree_.weighted_n_node_samples[0] for t in forest.estimators_] == \
        [cross_validation.FOREST_ROWS] * 3
