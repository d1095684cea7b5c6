"""The app renders what a table model's bundle declares, in a real Kivy Window under Xvfb at a
phone's size: a multi-class model (wine cultivars) shows its top classes with probabilities, a
regressor (diabetes progression) a value with its unit; both pass the self-check at start and
explain the answer with Shapley values. `pocketml bundle` refuses a schema the app cannot show
before it verifies anything.

Screenshots are kept in artifacts/screenshots-test/ (app_*_wine_*.png, app_*_diabetes_*.png; `make
screenshots` refreshes the committed ones)."""

from __future__ import annotations

import json
import re
import shutil
import time

import pytest

from app_fixtures import keep_screenshots, phone_metrics, run_driver
from pocketml.cli import main
from pocketml.export.model_folder import bundle_folder
from pocketml.folder.manifest import write_manifest
from pocketml.folder import artifacts

# 16 held-out rows, and up to 16 edge cases the form can type
# A colour image classifier's schema (an ImageNet model from the ecosystem set): no columns, an
# input the app has no screen for (its pad takes one 28x28 grey image).
COLOUR_IMAGES = {"format": "pocketml-schema/1", "model": "mobilenet",
                 "task": "multiclass_classification", "classes": ["cat", "dog"],
                 "input": {"name": "image", "dtype": "float32", "shape": [-1, 3, 224, 224]},
                 "output": {"name": "probabilities", "dtype": "float32", "shape": [-1, 2]}}
VERIFIED = r"verified on this device: (\d+)/\1, max diff (0|\d(\.\d)?e-\d+)"
PHONE = "360x740"


@pytest.fixture(scope="module")
def wine_bundle(wine_folder, tmp_path_factory):
    bundle = tmp_path_factory.mktemp("wine_app") / "model"
    bundle_folder(wine_folder, bundle, log=lambda _: None)
    return bundle


@pytest.fixture(scope="module")
def diabetes_bundle(diabetes_folder, tmp_path_factory):
    bundle = tmp_path_factory.mktemp("diabetes_app") / "model"
    bundle_folder(diabetes_folder, bundle, log=lambda _: None)
    return bundle


def golden_case(bundle, source: str = "test set row") -> dict:
    """A held-out row as a person types it, with PyTorch's output (the bundle's golden.json)."""
    cases = json.loads((bundle / "golden.json").read_text())["cases"]
    return next(c for c in cases if c["source"].startswith(source))


def drive(display, tmp_path, bundle, case: dict, tag: str) -> dict:
    report = run_driver(display, tmp_path, "patient", bundle, metrics=phone_metrics(),
                        answers=case["values"], size=PHONE, tag=f"{tag}_{PHONE}")
    assert report["screen"] == "FormScreen", report.get("message")
    verified = re.fullmatch(VERIFIED, report["footer"].split("\n")[0])
    assert verified and int(verified[1]) >= 16, report["footer"]
    assert report["log"][0].startswith("pocketml: self-check passed on LiteRT (desktop) (")
    assert f": {verified[1]}/{verified[1]} golden rows" in report["log"][0]
    assert not any(report["messages"].values())
    # the answer, then one run per coalition of fields (exact Shapley values)
    assert report["predictions"] == 1 + 2 ** len(report["fields"])
    assert len(report["bars"]) == len(report["fields"])
    for name, audit in report["audits"].items():
        assert not audit["problems"], (name, audit["problems"])
    keep_screenshots(report)
    return report


def test_a_multiclass_table_shows_its_top_classes(display, tmp_path, wine_bundle):
    case = golden_case(wine_bundle)
    report = drive(display, tmp_path, wine_bundle, case, "wine")
    schema = json.loads((wine_bundle / "schema.json").read_text())
    assert report["fields"][0] == {"name": "colour", "title": "colour", "kind": "ChoiceEntry",
                                   "choices": ["deep", "pale"], "own_row": False}
    probabilities = report["outputs"][0]  # what the app computed for this row
    assert probabilities == pytest.approx(case["output"], abs=1e-5)
    ranked = sorted(zip(schema["classes"], probabilities), key=lambda c: -c[1])
    lines = report["result"].split("\n")
    assert lines[0] == f"Most likely: {case['label']}" and ranked[0][0] == case["label"]
    for line, (name, p) in zip(lines[1:], ranked):
        assert line == f"{name}: {100 * p:.1f}%"
    assert report["explanation_texts"][0].startswith(f"The odds of {case['label']}: ")
    assert report["explanation_texts"][-1].startswith("All answers together: odds ")
    assert "typical row's" in report["explanation_texts"][-1]  # rows, not the kidney's patients
    assert "patient" not in " ".join(report["explanation_texts"])


def test_a_regression_table_shows_a_value_with_its_unit(display, tmp_path, diabetes_bundle):
    case = golden_case(diabetes_bundle)
    report = drive(display, tmp_path, diabetes_bundle, case, "diabetes")
    value = report["outputs"][0]
    assert value == pytest.approx(case["output"][0], rel=1e-5)
    assert report["result"] == f"Predicted disease progression after one year: {value:.4g} points"
    assert "label" not in case  # a value has no decision
    texts = report["explanation_texts"]
    assert texts[0].startswith("How the model weighs each answer: each bar is how much")
    assert re.fullmatch(r"All answers together: [+-][\d.]+ points: the typical row's [\d.]+ "
                        r"becomes [\d.]+ points", texts[-1]), texts[-1]
    # Shapley values add up to the whole change from the reference row, in points
    explanation = report["explanation"]
    total = sum(c["log_odds"] for c in explanation["contributions"])
    assert total == pytest.approx(explanation["log_odds"] - explanation["reference_log_odds"],
                                  abs=1e-3)


def test_bundle_refuses_a_schema_the_app_cannot_show_before_verifying(wine_folder, tmp_path,
                                                                      capsys):
    folder = shutil.copytree(wine_folder, tmp_path / "colour")
    artifacts.write_json(folder / artifacts.SCHEMA, COLOUR_IMAGES)  # a schema with no screen
    write_manifest(folder)
    started = time.perf_counter()
    assert main(["bundle", str(folder), "--to", str(tmp_path / "app")]) == 2
    seconds = time.perf_counter() - started
    out, err = capsys.readouterr()
    assert "the app cannot build its form from" in err and "[-1, 3, 224, 224]" in err
    assert "a drawing pad for one [1, 28, 28] grey image" in err and "shape [-1, W, 1]" in err
    assert "verifying" not in out and seconds < 10  # refused before a minute of parity
    assert not (tmp_path / "app").exists()
