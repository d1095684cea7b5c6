"""`pocketml train kidney` end to end: the folder it writes, the issue's accuracy targets,
reproducibility, devices, and that bad input or a failed run never leaves a broken folder."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from pocketml.cli import main
from pocketml.folder.errors import UserError
from pocketml.folder.artifacts import load_model, load_test_set
from pocketml.train.kidney.fetch import CSV_NAME, shipped_file
from pocketml.train.kidney import outputs
from pocketml.train.kidney.options import KidneyOptions
from pocketml.train.kidney.train import train_kidney
from pocketml.train.loop import resolve_device
from pocketml.train.metrics import binary_metrics

CSV = shipped_file(CSV_NAME)
CSV_SHA256 = "6e29d2a1a45469383bf12bf5f497d36a039fa98950259f225fc3881df1bb28b0"
LECTURE_10 = ["sg", "al", "sod", "hemo", "pc_abnormal", "pc_normal",
              "htn_no", "htn_yes", "dm_no", "dm_yes"]
METRIC_NAMES = ["accuracy", "roc_auc", "f1", "sensitivity", "specificity", "brier"]
SILENT = dict(log=lambda _: None)


def leftovers(folder: Path) -> list[str]:
    """Temporary or backup folders a run might have left beside `folder`."""
    return sorted(p.name for p in folder.parent.glob(f".{folder.name}.*"))


def tree_digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One run of the real command line, in-process: the lecture's 10 features, seed 0."""
    folder = tmp_path_factory.mktemp("cli") / "kidney"
    assert main(["train", "kidney", "--data", str(CSV), "--out", str(folder),
                 "--no-progress"]) == 0
    return folder


@pytest.fixture(scope="module")
def metrics(trained) -> dict:
    return json.loads((trained / "metrics.json").read_text())


@pytest.fixture(scope="module")
def second_run(tmp_path_factory) -> tuple[Path, dict]:
    """The same training again (same seed), through the Python API."""
    folder = tmp_path_factory.mktemp("again") / "kidney"
    result = train_kidney(KidneyOptions(out=folder, data=CSV, progress=False), **SILENT)
    return folder, result


# --------------------------------------------------------------------------- the folder

def test_cli_writes_the_whole_folder(trained):
    names = {p.name for p in trained.iterdir()}
    assert {"model.safetensors", "model.json", "schema.json", "metrics.json", "test_set.npz",
            "roc.png", "confusion_matrix.png", "training_curves.png", "calibration.png",
            "permutation_importance.png", "feature_ranking.csv"} <= names
    assert not any(n.endswith((".pt", ".pth", ".pkl", ".pickle")) for n in names)
    assert leftovers(trained) == []


def test_schema_lists_the_lecture_features_for_the_app(trained):
    schema = json.loads((trained / "schema.json").read_text())
    columns = schema["columns"]
    assert [c["name"] for c in columns] == LECTURE_10
    for column in columns:
        if column["kind"] == "one_hot":
            assert column["name"] == f"{column['field']}_{column['choice']}"
            assert column["field"] in ("pc", "htn", "dm")
        else:
            assert column["kind"] == "numeric" and column["field"] == column["name"]
            low, high = column["range"]
            assert low < high
        assert column["label"]
    assert {c["name"] for c in columns if c["kind"] == "numeric"} == {"sg", "al", "sod", "hemo"}
    assert schema["classes"] == ["notckd", "ckd"] and schema["positive_class"] == "ckd"
    assert 0 < schema["threshold"] < 1
    assert schema["input"]["shape"] == [-1, 10]


def test_metrics_json_has_the_documented_keys(metrics):
    assert set(metrics["test"]) >= set(METRIC_NAMES)
    for name in METRIC_NAMES:
        assert 0 <= metrics["test"][name] <= 1
        assert set(metrics["cv"][name]) == {"mean", "std"}
        assert 0 <= metrics["cv"][name]["mean"] <= 1 and metrics["cv"][name]["std"] >= 0
    assert set(metrics["baselines"]) == {"logistic_regression", "random_forest"}
    for baseline in metrics["baselines"].values():
        assert set(baseline["test"]) >= set(METRIC_NAMES)
        assert set(baseline["cv"]) >= set(METRIC_NAMES)
    assert metrics["features"] == LECTURE_10
    assert metrics["data"]["source"] == "--data"
    assert metrics["data"]["sha256"] == CSV_SHA256
    assert metrics["data"]["rows"] == 400
    assert metrics["split"] == {"train_rows": 320, "test_rows": 80, "folds": 5,
                                "cv_rows": 320, "cv_sampled": False, "max_rows": 100_000}


def test_issue_targets_with_the_lecture_features(metrics):
    cv = metrics["cv"]
    assert cv["accuracy"]["mean"] >= 0.98
    assert cv["roc_auc"]["mean"] >= 0.995
    best_baseline = max(b["cv"]["accuracy"]["mean"] for b in metrics["baselines"].values())
    assert cv["accuracy"]["mean"] >= best_baseline - 0.01


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", path
    return struct.unpack(">II", head[16:24])


@pytest.mark.parametrize("name", ["roc.png", "confusion_matrix.png", "training_curves.png",
                                  "calibration.png", "permutation_importance.png"])
def test_plots_are_real_pictures(trained, name):
    import matplotlib.pyplot as plt

    path = trained / name
    width, height = png_size(path)
    assert 300 <= width <= 3000 and 300 <= height <= 3000
    assert 5_000 < path.stat().st_size < 2_000_000
    pixels = plt.imread(path)
    assert pixels.shape[:2] == (height, width) and pixels.std() > 0.01  # not a blank canvas


def test_feature_ranking_table(trained, metrics):
    table = pd.read_csv(trained / "feature_ranking.csv")
    assert list(table.columns) == ["rank", "feature", "score", "in_lecture_10"]
    assert len(table) == 34  # 14 numeric attributes + 10 categorical x 2 choices
    assert table["rank"].tolist() == list(range(1, 35))
    assert table["score"].is_monotonic_decreasing
    assert set(table.loc[table["in_lecture_10"], "feature"]) == set(LECTURE_10)
    assert table["feature"].tolist() == [r["feature"] for r in metrics["ranking"]["table"]]


def test_weights_are_safetensors_and_reproduce_the_test_metrics(trained, metrics, monkeypatch):
    raw = (trained / "model.safetensors").read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + header_len])
    assert {"scale.mean", "scale.std", "body.0.weight"} <= set(header)
    assert set(load_file(str(trained / "model.safetensors"))) == set(header) - {"__metadata__"}

    def no_unpickling(*args, **kwargs):
        raise AssertionError("a model folder must load without unpickling")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    monkeypatch.setattr(torch, "load", no_unpickling)
    model = load_model(trained)
    x, y = load_test_set(trained)
    assert x.shape == (80, 10) and x.dtype == np.float32
    assert sorted(np.bincount(y.astype(int))) == [30, 50]
    with torch.no_grad():
        p = model(torch.from_numpy(x)).numpy()[:, 0]
    assert np.all((p >= 0) & (p <= 1))
    threshold = json.loads((trained / "schema.json").read_text())["threshold"]
    recomputed = binary_metrics(y, p, threshold)
    for name in METRIC_NAMES:
        assert recomputed[name] == pytest.approx(metrics["test"][name], abs=1e-6), name


# --------------------------------------------------------------------------- reproducibility

def test_same_seed_gives_identical_metrics_and_weights(trained, metrics, second_run):
    folder, result = second_run
    again = json.loads((folder / "metrics.json").read_text())
    assert again["test"] == metrics["test"] and result["test"] == metrics["test"]
    assert again["cv"] == metrics["cv"]
    assert again["baselines"] == metrics["baselines"]
    first = load_file(str(trained / "model.safetensors"))
    second = load_file(str(folder / "model.safetensors"))
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key
    np.testing.assert_array_equal(load_test_set(trained)[0], load_test_set(folder)[0])


# --------------------------------------------------------------------------- devices

def test_device_auto_trains_on_cpu_without_cuda(metrics):
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert metrics["training"]["device"] == expected
    assert metrics["training"]["mixed_precision"] is (expected == "cuda")


def test_resolve_device_refuses_cuda_without_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(UserError, match="--device cuda"):
        resolve_device("cuda")


def test_cli_device_cuda_without_cuda_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "kidney"
    code = main(["train", "kidney", "--data", str(CSV), "--out", str(out), "--device", "cuda",
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err[-2000:]
    assert err.startswith("pocketml: error: --device cuda") and "CUDA" in err
    assert not out.exists() and leftovers(out) == []


# --------------------------------------------------------------------------- bad input, failures

def single_class_csv() -> str:
    lines = CSV.read_text().splitlines()
    return "\n".join([lines[0]] + [l for l in lines[1:] if l.rstrip().endswith(",ckd")]) + "\n"


BAD_TRAINING_DATA = [
    ("missing", None, "no such file"),
    ("empty", b"", "empty"),
    ("png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(200)), "not a text file"),
    ("label", lambda: CSV.read_text().replace(",notckd", ",healthy", 1), "'healthy'"),
    ("number", lambda: CSV.read_text().replace(",15.4,", ",fifteen,", 1), "'fifteen'"),
    ("one class only", single_class_csv, "class"),
]


@pytest.mark.parametrize("name,content,expected", BAD_TRAINING_DATA,
                         ids=[case[0] for case in BAD_TRAINING_DATA])
def test_train_with_bad_data_exits_2_and_leaves_nothing(tmp_path, capsys, name, content,
                                                        expected):
    data = tmp_path / "data.csv"
    if content is not None:
        content = content() if callable(content) else content
        data.write_bytes(content.encode() if isinstance(content, str) else content)
    out = tmp_path / "models" / "kidney"
    code = main(["train", "kidney", "--data", str(data), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err[-2000:]
    assert err.startswith("pocketml: error: ") and expected in err and "Traceback" not in err
    assert not out.exists() and leftovers(out) == []


@pytest.mark.parametrize("arguments", [["--folds", "1"], ["--features", "auto", "--k", "0"],
                                       ["--seed", "-1"]], ids=["folds 1", "k 0", "seed -1"])
def test_train_with_bad_options_exits_2_and_leaves_nothing(tmp_path, capsys, arguments):
    out = tmp_path / "kidney"
    code = main(["train", "kidney", "--data", str(CSV), "--out", str(out), "--no-progress",
                 *arguments])
    err = capsys.readouterr().err
    assert code == 2, err[-2000:]
    assert err.startswith("pocketml: error: ") and arguments[-2] in err
    assert not out.exists() and leftovers(out) == []


def test_bad_data_leaves_an_existing_folder_untouched(trained, tmp_path, capsys):
    folder = Path(shutil.copytree(trained, tmp_path / "kidney"))
    before = tree_digest(folder)
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV.read_text().replace(",notckd", ",healthy", 1))
    assert main(["train", "kidney", "--data", str(bad), "--out", str(folder)]) == 2
    assert "'healthy'" in capsys.readouterr().err
    assert tree_digest(folder) == before and leftovers(folder) == []


def test_run_failing_while_writing_keeps_the_previous_folder(trained, tmp_path, monkeypatch):
    folder = Path(shutil.copytree(trained, tmp_path / "kidney"))
    before = tree_digest(folder)
    reached = []

    def broken_plot(path, *args, **kwargs):
        # By now the weights, schema and metrics of the new run are in the temporary folder.
        written = {p.name for p in Path(path).parent.iterdir()}
        reached.append(written)
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(outputs, "plot_training_curves", broken_plot)
    with pytest.raises(OSError, match="simulated"):
        train_kidney(KidneyOptions(out=folder, data=CSV, folds=2, seed=1, progress=False),
                     **SILENT)
    assert reached and {"model.safetensors", "metrics.json", "schema.json"} <= reached[0]
    assert tree_digest(folder) == before
    assert leftovers(folder) == []
