"""`pocketml train table` on CSVs it has never seen, built here from scikit-learn's bundled real
data sets with a categorical column, tab/space noise and missing values added: wine (3
cultivars, multi-class), diabetes (disease progression, regression) and breast cancer
(binary). Each trains, and the multi-class and regression folders export and prove parity."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

from pocketml.cli import main
from pocketml.folder.custody import check_signed
from pocketml.export.model_folder import verify_folder
from pocketml.pocketapp.signature import SIGNATURE
from pocketml.folder import artifacts
from table_data import CULTIVARS, noisy, train, wine_csv


def test_a_multiclass_table_trains_with_its_types_shown(wine_folder, capsys):
    schema = artifacts.read_json(wine_folder / artifacts.SCHEMA)
    assert schema["task"] == "multiclass_classification"
    assert schema["classes"] == ["barbera", "barolo", "grignolino"]  # "barolo\t" cleaned
    assert schema["output"]["shape"] == [-1, 3]
    colour = [c for c in schema["columns"] if c["field"] == "colour"]
    assert [c["choice"] for c in colour] == ["deep", "pale"]  # " Deep\t" is deep
    assert [c["name"] for c in colour] == ["colour_deep", "colour_pale"]
    metrics = artifacts.read_json(wine_folder / artifacts.METRICS)
    assert metrics["test"]["accuracy"] > 0.85  # three cultivars, chance is 0.40
    assert metrics["balancing"] == "smotenc"  # barbera 48 rows against grignolino 71
    assert set(metrics["baselines"]) == {"logistic_regression", "random_forest"}
    for name in ("training_record.json", "test_set.npz", "calibration.npz", "manifest.json",
                 "confusion_matrix.png", "permutation_importance.png", "feature_ranking.csv"):
        assert (wine_folder / name).is_file(), name


def test_the_log_shows_the_inferred_types_and_the_folder_is_signed(tmp_path, capsys):
    csv = wine_csv(tmp_path)
    key = tmp_path / "signing.pem"
    assert main(["keygen", str(key), "--no-app"]) == 0
    assert train(csv, tmp_path / "out", "--target", "target", "--k", "3", "--folds", "2",
                 "--sign", str(key)) == 0
    assert (tmp_path / "out" / SIGNATURE).is_file()
    check_signed(tmp_path / "out", [key.with_suffix(".pub.pem").read_bytes()])  # or raises
    log = capsys.readouterr().out
    assert "target 'target': multiclass, classes barbera=48, barolo=59, grignolino=71" in log
    assert "colour               categorical: deep, pale" in log
    assert "alcohol              numeric, range" in log
    schema = artifacts.read_json(tmp_path / "out" / artifacts.SCHEMA)
    assert len({c["field"] for c in schema["columns"]}) == 3  # --k 3 keeps three fields whole


def test_the_multiclass_folder_exports_and_proves_parity(wine_folder):
    # exported in every default format by the fixture (tests/conftest.py)
    parity = artifacts.read_json(wine_folder / "parity.json")
    assert parity["passed"] is True
    assert {"onnx", "tflite", "tflite_int8", "executorch"} <= set(parity["formats"])
    assert verify_folder(wine_folder, log=lambda _: None)


def test_a_regression_table_keeps_the_sidecar_units(diabetes_folder):
    schema = artifacts.read_json(diabetes_folder / artifacts.SCHEMA)
    assert schema["task"] == "regression" and "classes" not in schema
    assert schema["target"]["unit"] == "points"
    assert schema["output"]["unit"] == "points"
    by_field = {c["field"]: c for c in schema["columns"]}
    if "bmi" in by_field:
        assert by_field["bmi"]["range"] == [15, 50] and by_field["bmi"]["unit"] == "kg/m²"
    metrics = artifacts.read_json(diabetes_folder / artifacts.METRICS)
    y = load_diabetes().target
    # Better than predicting the mean, like the linear baseline (real data: r2 about 0.4-0.5).
    assert metrics["test"]["root_mean_squared_error"] < 0.9 * y.std()
    assert metrics["test"]["r2"] > 0.2
    assert (diabetes_folder / "predicted_vs_actual.png").is_file()
    assert artifacts.read_json(diabetes_folder / "parity.json")["passed"] is True


def test_a_binary_table_is_calibrated(tmp_path):
    data = load_breast_cancer(as_frame=True).frame
    data["target"] = data["target"].map({0: "malignant", 1: "benign"})
    csv = tmp_path / "cancer.csv"
    noisy(data.iloc[:, -12:], 2).to_csv(csv, index=False)
    sidecar = tmp_path / "cancer.json"
    sidecar.write_text(json.dumps({"target": {"positive": "malignant"}}))
    assert train(csv, tmp_path / "out", "--target", "target", "--sidecar", str(sidecar),
                 "--folds", "3") == 0
    schema = artifacts.read_json(tmp_path / "out" / artifacts.SCHEMA)
    assert schema["classes"] == ["benign", "malignant"]
    assert schema["positive_class"] == "malignant" and schema["threshold"] == 0.5
    metrics = artifacts.read_json(tmp_path / "out" / artifacts.METRICS)
    assert metrics["calibration"]["temperature_fitted"] > 0
    assert metrics["test"]["roc_auc"] > 0.9
    assert set(metrics["test"]) >= set(metrics["cv"]) and "brier" not in metrics["test"]
    assert (tmp_path / "out" / "roc.png").is_file()


@pytest.mark.parametrize("edit, words", [
    (lambda f: f.assign(ash=f["ash"].astype(object).where(f.index != 6, "2.3a")),
     ["line 8, column 'ash'", "'2.3a' is not a number", "? for missing"]),
    (lambda f: f.assign(hue=""), ["column 'hue' has no values", "ignore"]),
    (lambda f: f.assign(batch=[f"b{i}" for i in range(len(f))]),
     ["column 'batch' has 178 different words", "ignore"]),
    (lambda f: f.assign(target=np.where(f.index < 5, "rare", f["target"])),
     ["too few rows of class rare=5", "--folds"]),
])
def test_bad_data_is_named_and_nothing_is_written(tmp_path, capsys, edit, words):
    data = load_wine(as_frame=True).frame
    data["target"] = data["target"].map(CULTIVARS)
    csv = tmp_path / "bad.csv"
    edit(data).to_csv(csv, index=False)
    out = tmp_path / "out"
    assert train(csv, out, "--target", "target") == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and str(csv) in error
    for word in words:
        assert word in error
    assert not out.exists()


def test_an_unknown_target_names_the_columns(tmp_path, capsys):
    csv = wine_csv(tmp_path)
    assert train(csv, tmp_path / "out", "--target", "cultivar") == 2
    error = capsys.readouterr().err
    assert "no column 'cultivar' to predict" in error and "alcohol" in error
    assert not (tmp_path / "out").exists()
