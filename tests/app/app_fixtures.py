"""Helpers for the app tests: a small bundle made from scratch for any list of schema columns
(the app must build its form from whatever schema it is given), and running the app driver
under Xvfb.

The kidney bundle and test set themselves come from tests/conftest.py (`kidney_bundle`,
`kidney_test_set`), made from the real trained model."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from pocketml.pocketapp.contract import DELEGATES, GOLDEN  # noqa: F401  (the tests import them from here)

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "mobile_app"
DRIVER = Path(__file__).with_name("app_driver.py")
# The test run keeps its screenshots in an ignored folder, so a clone stays clean after `make
# test`; `make screenshots` refreshes the committed ones (artifacts/screenshots) on purpose.
SCREENSHOTS = Path(os.environ.get("POCKETML_SCREENSHOTS") or ROOT / "artifacts" / "screenshots-test")

# A second model with other features (from the same UCI data set), for "another bundle gives
# another form": two numeric fields and two choices, six model columns.
OTHER_COLUMNS = [
    {"name": "age", "field": "age", "kind": "numeric", "label": "age", "unit": "years",
     "range": [2, 90]},
    {"name": "bp", "field": "bp", "kind": "numeric", "label": "blood pressure",
     "unit": "mm Hg", "range": [50, 180]},
    {"name": "appet_good", "field": "appet", "kind": "one_hot", "label": "appetite",
     "choice": "good"},
    {"name": "appet_poor", "field": "appet", "kind": "one_hot", "label": "appetite",
     "choice": "poor"},
    {"name": "ane_no", "field": "ane", "kind": "one_hot", "label": "anemia", "choice": "no"},
    {"name": "ane_yes", "field": "ane", "kind": "one_hot", "label": "anemia", "choice": "yes"},
]


def write_bundle(folder: Path, columns: list[dict], seed: int = 0) -> Path:
    """A bundle as `pocketml bundle` writes it, for an untrained MLP over `columns`."""
    import litert_torch
    import torch
    from torch import nn

    from pocketml.export.verify.golden import golden_cases

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    n = len(columns)
    model = nn.Sequential(nn.Linear(n, 16), nn.ReLU(), nn.Linear(16, 1), nn.Sigmoid()).eval()
    example = (torch.zeros(1, n),)
    litert_torch.convert(model, example).export(str(folder / "model.tflite"))
    torch.onnx.export(model, example, str(folder / "model.onnx"), dynamo=False,
                      input_names=["features"], output_names=["p_ckd"],
                      dynamic_axes={"features": {0: "batch"}, "p_ckd": {0: "batch"}})
    schema = {"format": "pocketml-schema/1", "model": "other", "task": "binary_classification",
              "input": {"name": "features", "dtype": "float32", "shape": [-1, n]},
              "output": {"name": "p_ckd", "dtype": "float32", "shape": [-1, 1],
                         "meaning": "probability of class 'ckd'"},
              "columns": columns, "classes": ["notckd", "ckd"], "positive_class": "ckd",
              "threshold": 0.5}
    (folder / "schema.json").write_text(json.dumps(schema, indent=2))
    golden = golden_cases(model, schema, example=example)  # edge cases: there is no test set
    (folder / GOLDEN).write_text(json.dumps(golden, indent=2))
    write_manifest(folder)
    return folder


def write_manifest(folder: Path,
                   names=("model.tflite", "model.onnx", "schema.json", GOLDEN)) -> None:
    """A manifest of `names`, and of delegates.json when the folder has one, as `pocketml
    bundle` lists it (an unlisted file is refused before any other check)."""
    if (folder / DELEGATES).is_file() and DELEGATES not in names:
        names = (*names, DELEGATES)
    files = {name: {"sha256": hashlib.sha256((folder / name).read_bytes()).hexdigest(),
                    "bytes": (folder / name).stat().st_size} for name in names}
    (folder / "manifest.json").write_text(json.dumps(
        {"format": "pocketml-manifest/1", "files": files, "versions": {}, "seed": 0,
         "data_sha256": None}, indent=2))


def flip_byte(path: Path, offset: int | None = None) -> None:
    """Change one byte (in the middle by default): same size, different sha256."""
    data = bytearray(path.read_bytes())
    offset = len(data) // 2 if offset is None else offset
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def form_answers(schema: dict, row) -> dict[str, str]:
    """What a person would enter for one patient: numbers as typed, one word per choice."""
    answers: dict[str, str] = {}
    for column in schema["columns"]:
        value = float(row[column["name"]])
        if column["kind"] == "numeric":
            answers[column["field"]] = str(np.float32(value))  # the shortest exact float32 text
        elif value == 1.0:
            answers[column["field"]] = column["choice"]
    return answers


def in_range(schema: dict, row) -> bool:
    """Whether every numeric value of the row lies in its column's plausible range."""
    return all(c["range"][0] <= row[c["name"]] <= c["range"][1]
               for c in schema["columns"] if c["kind"] == "numeric")


@contextmanager
def virtual_display() -> Iterator[str]:
    """An Xvfb server on a display number it picks itself (no clash with a running X); ":N"."""
    assert shutil.which("Xvfb"), ("the app tests need a virtual X server: run them with "
                                  "`make test`, which installs it, or apt-get install xvfb "
                                  "xauth libgl1 libgl1-mesa-dri xclip")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0",
                               "1280x1024x24", "-nolisten", "tcp"], pass_fds=[write_end],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as announced:
        number = announced.readline().strip()
    try:
        assert number, "Xvfb did not start"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def driver_env(display: str, kivy_home: Path) -> dict[str, str]:
    """The app driver's environment: that display, a private Kivy home, quiet logs."""
    env = {**os.environ, "DISPLAY": display, "KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1",
           "KIVY_NO_FILELOG": "1", "KIVY_HOME": str(kivy_home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("POCKETML_BUNDLE", None)  # the bundle is always the one given on the command line
    return env


def phone_metrics(fontscale: float = 1.0) -> dict[str, str]:
    """Kivy's metrics of a phone screen at density 1 (1 dp = 1 px) and that font scale."""
    return {"KIVY_METRICS_DENSITY": "1", "KIVY_METRICS_FONTSCALE": str(fontscale)}


def run_driver(display: str, out: Path, scenario: str, bundle: Path,
               metrics: dict[str, str] | None = None, **options) -> dict:
    """Run the real app on `display` through tests/app/app_driver.py; its JSON report.

    `options` become the driver's flags (answers=... -> --answers JSON; strings as they are)."""
    out.mkdir(parents=True, exist_ok=True)
    env = {**driver_env(display, out / "kivy_home"), **(metrics or {})}
    command = [sys.executable, str(DRIVER), scenario, "--bundle", str(bundle), "--out", str(out)]
    for name, value in options.items():
        command += [f"--{name.replace('_', '-')}",
                    value if isinstance(value, str) else json.dumps(value)]
    done = subprocess.run(command, env=env, cwd=out, capture_output=True, text=True, timeout=90)
    report = out / "report.json"
    assert done.returncode == 0 and report.is_file(), (
        f"the app driver failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    result = json.loads(report.read_text())
    assert "driver_error" not in result, result["driver_error"]
    return result


def keep_screenshots(report: dict) -> list[Path]:
    """Copy the run's screenshots to SCREENSHOTS, where people look at them."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(shot, SCREENSHOTS / Path(shot).name)) for shot in report["screenshots"]]
