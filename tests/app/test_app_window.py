"""The real app in a real Kivy Window under Xvfb: at start it shows its on-device verification
figure, a test-set patient gets the model's prediction, each bad input gets a message on its
field and never reaches the model, a damaged bundle or altered golden cases are refused on
screen, and another schema gives another form.

Each test runs tests/app/app_driver.py in a subprocess (one Kivy Window per process). Screenshots
are kept in artifacts/screenshots/."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from app_fixtures import (GOLDEN, OTHER_COLUMNS, flip_byte, form_answers, keep_screenshots,
                          run_driver, write_bundle, write_manifest)

BAD_INPUTS = ["", "abc", "nan", "inf", "1,02", "1e999", "9999", "-5"]
VERIFIED = r"verified on this device: 32/32, max diff (0|\d(\.\d)?e-\d+)"


def test_a_test_set_patient_gets_the_models_prediction(display, tmp_path, kidney_bundle,
                                                       kidney_schema, kidney_patient):
    report = run_driver(display, tmp_path, "patient", kidney_bundle,
                        answers=form_answers(kidney_schema, kidney_patient))
    assert report["screen"] == "FormScreen"
    verified, runtime = report["footer"].split("\n")
    assert re.fullmatch(VERIFIED, verified) and runtime == "LiteRT (desktop), offline, unsigned"
    [logged] = report["log"]  # the self-check's result also goes to the app's log
    assert logged.startswith("pocketml: self-check passed on LiteRT (desktop) (ai-edge-litert ")
    assert "): 32/32 golden rows" in logged and logged.endswith("; bundle unsigned")
    assert [f["name"] for f in report["fields"]] == ["sg", "al", "sod", "hemo", "pc", "htn", "dm"]
    assert report["fields"][3]["hint"] == "g/dL, range 3 to 20"
    assert report["fields"][4]["choices"] == ["abnormal", "normal"]
    assert not any(f.get("own_row") for f in report["fields"])  # wide enough beside the titles
    assert not any(report["messages"].values())
    shown = re.fullmatch(r"Probability of ckd: ([<> \d.]+)%\nPredicted class: (\w+) "
                         r"\(threshold 50%\)\nA screening aid, not a diagnosis: .*", report["result"])
    assert shown, report["result"]
    p = float(kidney_patient["p_ckd"])
    assert report["probability"] == pytest.approx(p, abs=1e-5)  # what the app computed
    expected = "> 99.9" if p > 0.999 else "< 0.1" if p < 0.001 else f"{100 * p:.1f}"
    assert shown[1] == expected
    assert shown[2] == ("ckd" if p >= 0.5 else "notckd")
    # the prediction, then one run per coalition of fields for its explanation
    # (exact Shapley values, tests/cli/test_explain.py)
    assert report["predictions"] == 1 + 2 ** len(report["fields"])
    assert len(report["bars"]) == len(report["fields"])
    keep_screenshots(report)


def test_each_bad_input_gets_a_message_on_its_field(display, tmp_path, kidney_bundle,
                                                    kidney_schema, kidney_patient):
    report = run_driver(display, tmp_path, "bad_inputs", kidney_bundle,
                        answers=form_answers(kidney_schema, kidney_patient), bad=BAD_INPUTS,
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


def test_altered_golden_cases_are_refused_on_screen(display, tmp_path, kidney_bundle):
    bundle = shutil.copytree(kidney_bundle, tmp_path / "model")
    golden = json.loads((bundle / GOLDEN).read_text())
    golden["cases"][2]["output"][0] += 0.01
    (bundle / GOLDEN).write_text(json.dumps(golden))
    write_manifest(bundle)  # every checksum matches: only the self-check can tell
    report = run_driver(display, tmp_path / "run", "refused", bundle)
    assert report["screen"] == "ErrorScreen"
    assert report["model_loaded"] is False  # the app will not predict
    assert re.search(r"1 of 32 golden rows differ\. First: row 3 \(.+\): .* diff 1e-2 "
                     r"\(tolerance 1e-5\)", report["message"]), report["message"]
    assert report["log"] == [f"pocketml: refused {bundle}: {report['message']}"]
    report["screenshots"] = [shutil.copy(report["screenshots"][0],
                                         tmp_path / "app_refused_self_check.png")]
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
