"""Why this prediction: each field's contribution is the change in the model's probability
when that field alone is replaced by the training population's reference value, computed with
the bundled model; `pocketml explain` gives the same numbers."""

from __future__ import annotations

import json
import sys

import pytest

from app_fixtures import APP, form_answers, in_range, keep_screenshots, run_driver
from pocketml.cli import main

sys.path.insert(0, str(APP))
from pocketapp.bundle import open_bundle  # noqa: E402
from pocketapp.explain import explain  # noqa: E402
from pocketapp.predictors import load_predictor  # noqa: E402

ROW = "sg=1.015,al=1,sod=137,hemo=11.2,pc=normal,htn=yes,dm=no"


def test_the_schema_carries_the_training_populations_reference_values(kidney_folder):
    from pocketml.train.artifacts import load_arrays, read_json

    schema = read_json(kidney_folder / "schema.json")
    rows = load_arrays(kidney_folder, "calibration.npz")["x"]
    names = [c["name"] for c in schema["columns"]]
    assert schema["reference"]["hemo"] == pytest.approx(float(
        __import__("numpy").median(rows[:, names.index("hemo")])), abs=1e-4)
    assert schema["reference"]["htn"] == "no"  # most training patients have no hypertension
    assert set(schema["reference"]) == {"sg", "al", "sod", "hemo", "pc", "htn", "dm"}


def test_each_field_is_replaced_alone_by_its_reference(kidney_bundle):
    bundle = open_bundle(kidney_bundle)
    form, predictor = bundle.form, load_predictor(bundle, "desktop")
    answers = dict(pair.split("=") for pair in ROW.split(","))
    row, errors = form.encode(answers)
    assert not errors
    contributions = explain(form, row, predictor.predict)
    assert sorted(c.field for c in contributions) == sorted(f.name for f in form.fields)
    sizes = [abs(c.points) for c in contributions]
    assert sizes == sorted(sizes, reverse=True)
    p = predictor.predict(row)
    by_field = {c.field: c for c in contributions}
    hemo = form.fields[[f.name for f in form.fields].index("hemo")]
    changed = list(row)
    changed[hemo.column] = form.reference["hemo"]
    assert by_field["hemo"].points == pytest.approx(100 * (p - predictor.predict(changed)))
    assert by_field["hemo"].answer == "11.2 g/dL"
    assert by_field["htn"].answer == "yes" and by_field["htn"].reference == "no"
    assert by_field["htn"].line().startswith("hypertension yes: ")


def test_the_command_line_gives_the_same_numbers(kidney_bundle, kidney_folder, capsys):
    bundle = open_bundle(kidney_bundle)
    answers = dict(pair.split("=") for pair in ROW.split(","))
    row, _ = bundle.form.encode(answers)
    predictor = load_predictor(bundle, "desktop")
    expected = [(c.field, c.points) for c in explain(bundle.form, row, predictor.predict)]
    for folder in (kidney_bundle, kidney_folder):
        assert main(["explain", str(folder), "--row", ROW, "--json"]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert [(c["field"], c["points"]) for c in printed["contributions"]] == expected
        assert printed["probability"] == predictor.predict(row)
    assert main(["explain", str(kidney_bundle), "--row", ROW]) == 0
    out = capsys.readouterr().out
    assert "Probability of ckd: " in out and "a model explanation, not a medical one" in out


@pytest.mark.parametrize("row, message", [
    ("sg=1.015,al=1", "sod: required"),
    ("sg=1.015,al=1,sod=137,hemo=11.2,pc=normal,htn=yes,dm=no,bp=80", "bp is not a field"),
    ("sg", "is not FIELD=VALUE"),
    ("sg=1,02,al=1,sod=137,hemo=11.2,pc=normal,htn=yes,dm=no", "is not FIELD=VALUE"),
    ("sg=9,al=1,sod=137,hemo=11.2,pc=normal,htn=yes,dm=no", "sg: outside the plausible range"),
])
def test_a_bad_row_gets_the_forms_message(kidney_bundle, capsys, row, message):
    assert main(["explain", str(kidney_bundle), "--row", row]) == 2
    assert message in capsys.readouterr().err


def test_the_app_shows_the_same_explanation_as_the_command_line(display, tmp_path,
                                                                kidney_bundle, kidney_schema,
                                                                kidney_test_set, capsys):
    """The held-out patient the model is least sure about, typed into the real window."""
    plausible = kidney_test_set[[in_range(kidney_schema, r) for _, r in kidney_test_set.iterrows()]]
    patient = plausible.loc[(plausible["p_ckd"] - 0.5).abs().idxmin()]
    answers = form_answers(kidney_schema, patient)
    report = run_driver(display, tmp_path, "patient", kidney_bundle, answers=answers,
                        tag="explained")
    row = ",".join(f"{name}={value}" for name, value in answers.items())
    assert main(["explain", str(kidney_bundle), "--row", row, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert report["probability"] == printed["probability"]
    assert report["contributions"] == printed["contributions"]  # the very same numbers
    assert [b["share"] for b in report["bars"]] == pytest.approx(
        [c["points"] / 100 for c in printed["contributions"]])
    for bar, contribution in zip(report["bars"], printed["contributions"]):
        assert bar["text"].startswith(f"{contribution['label']} {contribution['answer']}: ")
        assert bar["text"].endswith(" points")
    [shot] = [s for s in keep_screenshots(report) if s.name == "app_result_explained.png"]
    assert shot.stat().st_size > 10_000
