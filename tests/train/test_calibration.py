"""Probabilities that mean what they say: calibration measured on out-of-fold predictions, a
temperature fitted there (never on the test rows), kept only when it lowers the out-of-fold
Brier score and then baked into the model, so every format and the phone give it; and the
permutation importance of each field on the test rows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from pocketml.folder.artifacts import load_test_set, read_json
from pocketml.folder.reference import calibration_figures, expected_calibration_error
from pocketml.train.calibration import calibrate, fit_temperature


def test_expected_calibration_error_by_hand():
    y = np.array([0, 0, 1, 1, 1, 1, 0, 1])
    p = np.array([0.05, 0.05, 0.95, 0.95, 0.55, 0.55, 0.55, 0.55])
    # bin 0: rate 0 vs 0.05; bin 9: rate 1 vs 0.95; bin 5: rate 0.75 vs 0.55
    expected = 2 / 8 * 0.05 + 2 / 8 * 0.05 + 4 / 8 * 0.20
    assert expected_calibration_error(y, p) == pytest.approx(expected)
    assert calibration_figures(y, p)["brier"] == pytest.approx(np.mean((p - y) ** 2))


def test_a_known_overconfidence_is_found_and_undone():
    rng = np.random.default_rng(0)
    honest = rng.normal(0, 2, 20_000)
    y = (rng.random(honest.size) < expit(honest)).astype(int)
    overconfident = 3 * honest  # says 99 % where 88 % is true
    assert fit_temperature(y, overconfident) == pytest.approx(3, rel=0.05)
    result = calibrate(y, overconfident)
    assert result["kept"] and result["temperature"] == result["temperature_fitted"]
    assert result["out_of_fold_calibrated"]["brier"] < result["out_of_fold"]["brier"]
    assert result["out_of_fold_calibrated"]["ece"] < result["out_of_fold"]["ece"] / 3


def test_a_temperature_that_does_not_help_is_not_kept():
    rng = np.random.default_rng(1)
    honest = rng.normal(0, 2, 200)
    y = (rng.random(honest.size) < expit(honest)).astype(int)
    for logits in (honest, -honest, honest + 3):
        result = calibrate(y, logits)
        better = result["out_of_fold_calibrated"]["brier"] < result["out_of_fold"]["brier"]
        assert result["kept"] is better
        assert result["temperature"] == (result["temperature_fitted"] if better else 1.0)


def test_the_kidney_model_records_calibration_for_the_mlp_and_both_baselines(kidney_folder):
    calibration = read_json(kidney_folder / "metrics.json")["calibration"]
    assert calibration["rows"] == 320  # out of fold: the training rows, never the 80 test rows
    mlp = calibration["mlp"]
    for figures in (mlp["out_of_fold"], mlp["out_of_fold_calibrated"],
                    calibration["logistic_regression"]["out_of_fold"],
                    calibration["random_forest"]["out_of_fold"]):
        assert 0 <= figures["brier"] < 0.05 and 0 <= figures["ece"] < 0.1
    assert mlp["kept"] is (mlp["out_of_fold_calibrated"]["brier"] < mlp["out_of_fold"]["brier"])
    assert 0.2 < mlp["temperature_fitted"] < 5


def test_the_temperature_divides_the_logit_of_the_model_every_format_is_exported_from(
        kidney_folder):
    """The same seed trains the same network; its last layer is then divided by T."""
    from pocketml.train.kidney.classifier import MLPClassifier

    x, y = load_test_set(kidney_folder)
    raw = MLPClassifier(seed=3).fit(x, y)
    calibrated = MLPClassifier(seed=3, temperature=2.5).fit(x, y)
    np.testing.assert_allclose(calibrated.decision_function(x), raw.decision_function(x) / 2.5,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(calibrated.predict(x), raw.predict(x))  # no decision moves
    # The kidney folder's model is the calibrated one, and it is what every format proves.
    temperature = read_json(kidney_folder / "metrics.json")["calibration"]["mlp"]["temperature"]
    assert read_json(kidney_folder / "metrics.json")["training"]["temperature"] == temperature
    assert read_json(kidney_folder / "parity.json")["passed"]


def test_permutation_importance_of_each_field_on_the_test_rows(kidney_folder):
    importance = read_json(kidney_folder / "metrics.json")["permutation_importance"]
    assert importance["metric"] == "roc_auc" and importance["rows"] == 80
    drop = importance["drop"]
    assert list(drop) == ["sg", "al", "sod", "hemo", "pc", "htn", "dm"]  # one per field
    assert all(np.isfinite(d["mean"]) and d["std"] >= 0 for d in drop.values())
    # hemoglobin and specific gravity carry the model: shuffling either costs the most
    assert set(sorted(drop, key=lambda f: -drop[f]["mean"])[:2]) == {"hemo", "sg"}
