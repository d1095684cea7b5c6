"""The real app in a real Kivy Window under Xvfb: a test-set patient gets the model's
prediction, each bad input gets a message on its field and never reaches the model, a
damaged bundle is refused on screen, and another schema gives another form.

Each test runs tests/app_driver.py in a subprocess (one Kivy Window per process). Screenshots
are kept in artifacts/screenshots/."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from app_fixtures import (OTHER_COLUMNS, flip_byte, form_answers, in_range, keep_screenshots,
                          run_driver, virtual_display, write_bundle)

BAD_INPUTS = ["", "abc", "nan", "inf", "1,02", "1e999", "9999", "-5"]


@pytest.fixture(scope="session")
def display():
    """A virtual X server for the whole session."""
    with virtual_display() as name:
        yield name


@pytest.fixture(scope="module")
def schema(kidney_bundle):
    return json.loads((kidney_bundle / "schema.json").read_text())


@pytest.fixture(scope="module")
def patient(kidney_test_set, schema):
    """The first held-out CKD patient whose values all lie in the form's plausible ranges."""
    plausible = kidney_test_set[[in_range(schema, row) for _, row in kidney_test_set.iterrows()]]
    return plausible[plausible["class"] == 1].iloc[0]


def test_a_test_set_patient_gets_the_models_prediction(display, tmp_path, kidney_bundle,
                                                       schema, patient):
    report = run_driver(display, tmp_path, "patient", kidney_bundle,
                        answers=form_answers(schema, patient))
    assert report["screen"] == "FormScreen"
    assert [f["name"] for f in report["fields"]] == ["sg", "al", "sod", "hemo", "pc", "htn", "dm"]
    assert report["fields"][3]["hint"] == "g/dL, range 3 to 20"
    assert report["fields"][4]["choices"] == ["abnormal", "normal"]
    assert not any(report["messages"].values())
    shown = re.fullmatch(r"Probability of ckd: ([<> \d.]+)%\nPredicted class: (\w+) "
                         r"\(threshold 50%\)\nA screening aid, not a diagnosis: .*", report["result"])
    assert shown, report["result"]
    p = float(patient["p_ckd"])
    assert report["probability"] == pytest.approx(p, abs=1e-5)  # what the app computed
    expected = "> 99.9" if p > 0.999 else "< 0.1" if p < 0.001 else f"{100 * p:.1f}"
    assert shown[1] == expected
    assert shown[2] == ("ckd" if p >= 0.5 else "notckd")
    assert report["predictions"] == 1
    keep_screenshots(report)


def test_each_bad_input_gets_a_message_on_its_field(display, tmp_path, kidney_bundle, schema,
                                                    patient):
    report = run_driver(display, tmp_path, "bad_inputs", kidney_bundle,
                        answers=form_answers(schema, patient), bad=BAD_INPUTS,
                        showcase=["1,02", "nan", "", "99"])
    assert report["field"] == "sg"
    messages = {case["text"]: case["message"] for case in report["bad"]}
    assert messages == {
        "": "required: enter a number", "abc": "not a number: abc", "nan": "not a number: nan",
        "inf": "not a number: inf", "1,02": "use a dot for decimals: 1.02",
        "1e999": "number too large", "9999": "outside the plausible range 1.005 to 1.025",
        "-5": "outside the plausible range 1.005 to 1.025"}
    for case in report["bad"]:
        assert case["result"] == "Fix 1 field first: urine specific gravity.", case
        assert not case["reached_model"], case
    assert report["predictions"] == 0
    keep_screenshots(report)


def test_a_damaged_model_is_refused_on_screen(display, tmp_path, kidney_bundle):
    bundle = shutil.copytree(kidney_bundle, tmp_path / "model")
    flip_byte(bundle / "model.tflite")
    report = run_driver(display, tmp_path / "run", "refused", bundle)
    assert report["screen"] == "ErrorScreen"
    assert report["model_loaded"] is False
    assert "model.tflite does not match its checksum" in report["message"]
    keep_screenshots(report)


def test_another_bundle_gives_another_form(display, tmp_path):
    bundle = write_bundle(tmp_path / "other", OTHER_COLUMNS)
    report = run_driver(display, tmp_path / "run", "patient", bundle,
                        answers={"age": "48", "bp": "80", "appet": "poor", "ane": "yes"})
    assert [(f["name"], f["kind"]) for f in report["fields"]] == [
        ("age", "NumericEntry"), ("bp", "NumericEntry"), ("appet", "ChoiceEntry"),
        ("ane", "ChoiceEntry")]
    assert report["fields"][1]["hint"] == "mm Hg, range 50 to 180"
    assert report["result"].startswith("Probability of ckd: ")
