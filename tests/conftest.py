"""Fixtures shared across the suite: the real CKD files shipped with pocketml, one kidney model
trained, exported and bundled once per session (about 20 s) for the export and app tests, the
virtual display the app's window tests share, and users' own model code written to a file and
imported as `pocketml export --model` finds it."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")



@pytest.fixture
def write_user_module(tmp_path, monkeypatch):
    """write_user_module(name, code): the code in tmp_path/<name>.py, tmp_path the current
    folder (where --model looks), and the module imported for the Python API."""
    def write(name: str, code: str):
        (tmp_path / f"{name}.py").write_text(code)
        monkeypatch.chdir(tmp_path)
        monkeypatch.syspath_prepend(str(tmp_path))
        sys.modules.pop(name, None)
        return importlib.import_module(name)
    return write


@pytest.fixture(scope="session")
def ckd_csv() -> Path:
    from pocketml.train.kidney.fetch import CSV_NAME, shipped_file

    return shipped_file(CSV_NAME)


@pytest.fixture(scope="session")
def ckd_arff() -> Path:
    from pocketml.train.kidney.fetch import shipped_file

    return shipped_file()


@pytest.fixture(scope="session")
def kidney_folder(tmp_path_factory, ckd_csv) -> Path:
    """A kidney model folder, trained and exported (all default formats), parity verified."""
    from pocketml.export.formats import DEFAULT_FORMATS
    from pocketml.export.model_folder import export_folder
    from pocketml.train.kidney.options import KidneyOptions
    from pocketml.train.kidney.train import train_kidney

    folder = tmp_path_factory.mktemp("artifacts") / "kidney"
    train_kidney(KidneyOptions(out=folder, data=ckd_csv, progress=False), log=lambda _: None)
    assert export_folder(folder, DEFAULT_FORMATS, log=lambda _: None)
    return folder


@pytest.fixture(scope="session")
def wine_folder(tmp_path_factory) -> Path:
    """A multi-class table model (tests/table_data.py): every field kept, the categorical one
    among them (with 10, mutual information drops colour); trained, exported, verified."""
    from table_data import trained_and_exported, wine_csv

    folder = tmp_path_factory.mktemp("wine")
    return trained_and_exported(wine_csv(folder), folder / "model", "--target", "target",
                                "--k", "14")


@pytest.fixture(scope="session")
def diabetes_folder(tmp_path_factory) -> Path:
    """A regression table model with a sidecar's units; trained, exported, verified."""
    from table_data import DIABETES_SIDECAR, diabetes_csv, trained_and_exported

    folder = tmp_path_factory.mktemp("diabetes")
    sidecar = folder / "diabetes.json"
    sidecar.write_text(json.dumps(DIABETES_SIDECAR))
    return trained_and_exported(diabetes_csv(folder), folder / "model", "--target", "target",
                                "--sidecar", str(sidecar))


@pytest.fixture
def kidney_copy(kidney_folder, tmp_path) -> Path:
    """A private copy of the exported folder, for tests that damage files."""
    return Path(shutil.copytree(kidney_folder, tmp_path / "kidney"))


@pytest.fixture(scope="session")
def kidney_bundle(kidney_folder, tmp_path_factory) -> Path:
    """What `pocketml bundle` puts in mobile_app/model: TFLite, ONNX, schema, manifest."""
    from pocketml.export.model_folder import bundle_folder

    bundle = tmp_path_factory.mktemp("app") / "model"
    bundle_folder(kidney_folder, bundle, log=lambda _: None)
    return bundle


@pytest.fixture(scope="session")
def kidney_test_set(kidney_folder) -> pd.DataFrame:
    """The held-out patients: the model's columns, `class` (1 = ckd) and PyTorch's `p_ckd`."""
    import torch

    from pocketml.folder.artifacts import load_model, load_test_set, read_json

    x, y = load_test_set(kidney_folder)
    columns = [c["name"] for c in read_json(kidney_folder / "schema.json")["columns"]]
    with torch.no_grad():
        p = load_model(kidney_folder)(torch.from_numpy(x)).numpy()[:, 0]
    table = pd.DataFrame(x, columns=columns)
    table["class"] = y.astype(int)
    table["p_ckd"] = p.astype(np.float32)
    return table


@pytest.fixture(scope="session")
def display():
    """A virtual X server for the app's window tests, one for the whole session."""
    from app_fixtures import virtual_display

    with virtual_display() as name:
        yield name


@pytest.fixture(scope="session")
def kidney_schema(kidney_bundle) -> dict:
    import json

    return json.loads((kidney_bundle / "schema.json").read_text())


@pytest.fixture(scope="session")
def kidney_patient(kidney_test_set, kidney_schema) -> pd.Series:
    """The first held-out CKD patient whose values all lie in the form's plausible ranges."""
    from app_fixtures import in_range

    plausible = kidney_test_set[[in_range(kidney_schema, row)
                                 for _, row in kidney_test_set.iterrows()]]
    return plausible[plausible["class"] == 1].iloc[0]
