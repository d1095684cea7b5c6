"""Why this prediction: exact Shapley values of the form's fields in log-odds, against the
training population's reference patient, computed with the bundled model; they add up to the
patient's log-odds minus the reference's, `pocketml explain` and the app give the same numbers,
and every exported format explains like PyTorch."""

from __future__ import annotations

import itertools
import json
import math
import sys

import numpy as np
import pytest
import torch

from app_fixtures import APP, form_answers, in_range, keep_screenshots, run_driver
from pocketml.cli import main
from pocketml.export.formats import DEFAULT_FORMATS
from pocketml.export.tolerances import FP16, FP32, INT8
from pocketml.folder.manifest import UNLISTED

sys.path.insert(0, str(APP))
from pocketapp.bundle import open_bundle  # noqa: E402
from pocketapp.explain import (LOG_ODDS_CAP, explain, log_odds, odds_text, percent,  # noqa: E402
                               probability_of, with_reference)
from pocketapp.predictors import load_predictor  # noqa: E402

ROW = "sg=1.015,al=1,sod=137,hemo=11.2,pc=normal,htn=yes,dm=no"


def test_the_schema_carries_the_training_populations_reference_values(kidney_folder):
    from pocketml.folder.artifacts import load_arrays, read_json

    schema = read_json(kidney_folder / "schema.json")
    rows = load_arrays(kidney_folder, "calibration.npz")["x"]
    names = [c["name"] for c in schema["columns"]]
    assert schema["reference"]["hemo"] == pytest.approx(float(
        __import__("numpy").median(rows[:, names.index("hemo")])), abs=1e-4)
    assert schema["reference"]["htn"] == "no"  # most training patients have no hypertension
    assert set(schema["reference"]) == {"sg", "al", "sod", "hemo", "pc", "htn", "dm"}


def encoded(form, answers: dict[str, str]) -> list[float]:
    row, errors = form.encode(answers)
    assert not errors
    return row


def patient_row(form, schema, patient) -> list[float]:
    return encoded(form, form_answers(schema, patient))


def plausible(test_set, schema):
    return test_set[np.array([in_range(schema, r) for _, r in test_set.iterrows()])]


def sure_patient(test_set, schema):
    """The first held-out patient in range whom the model puts above 99.9 % (below float32's
    1.0, where log-odds are capped)."""
    rows = plausible(test_set, schema)
    return rows[(rows["p_ckd"] > 0.999) & (rows["p_ckd"] < 1)].iloc[0]


def least_sure_patient(test_set, schema):
    rows = plausible(test_set, schema)
    return rows.loc[(rows["p_ckd"] - 0.5).abs().idxmin()]


def by_permutations(form, row, predict) -> dict[str, float]:
    """Shapley values the textbook way, independently of explain(): each field's change of
    the log-odds when it joins, averaged over all 7! orders the fields can join in."""
    fields = form.fields
    cache = {}

    def value(kept: frozenset) -> float:
        if kept not in cache:
            p = predict(with_reference(form, row, [f for f in fields if f.name not in kept]))
            cache[kept] = math.log(p) - math.log1p(-p)
        return cache[kept]

    totals = dict.fromkeys((f.name for f in fields), 0.0)
    orders = list(itertools.permutations(f.name for f in fields))
    for order in orders:
        kept = frozenset()
        for name in order:
            totals[name] += value(kept | {name}) - value(kept)
            kept = kept | {name}
    return {name: total / len(orders) for name, total in totals.items()}


def test_shapley_values_add_up_to_the_change_in_log_odds(kidney_bundle):
    bundle = open_bundle(kidney_bundle)
    form, predictor = bundle.form, load_predictor(bundle, "desktop")
    row = encoded(form, dict(pair.split("=") for pair in ROW.split(",")))
    explanation = explain(form, row, predictor.predict)
    p = predictor.predict(row)
    reference = predictor.predict(with_reference(form, row, form.fields))
    assert explanation.log_odds == pytest.approx(math.log(p / (1 - p)), abs=1e-9)
    assert explanation.reference_log_odds == pytest.approx(
        math.log(reference / (1 - reference)), abs=1e-9)
    assert sum(c.log_odds for c in explanation.contributions) == pytest.approx(
        explanation.log_odds - explanation.reference_log_odds, abs=1e-9)
    assert not explanation.capped
    expected = by_permutations(form, row, predictor.predict)
    assert {c.field: c.log_odds for c in explanation.contributions} == pytest.approx(
        expected, abs=1e-9)
    sizes = [abs(c.log_odds) for c in explanation.contributions]
    assert sizes == sorted(sizes, reverse=True)
    by_field = {c.field: c for c in explanation.contributions}
    assert by_field["hemo"].answer == "11.2 g/dL" and by_field["hemo"].reference == "12.7 g/dL"
    assert by_field["htn"].line().startswith("hypertension yes: odds x")
    # an answer equal to the typical patient's changes nothing in any coalition
    assert by_field["pc"].answer == by_field["pc"].reference and by_field["pc"].log_odds == 0


def test_a_patient_the_model_is_sure_of_still_gets_bars(kidney_bundle, kidney_schema,
                                                        kidney_test_set):
    """Above 99.9 % every one-answer-swapped probability moves by under a point; in log-odds
    the answers keep their weight, and still add up."""
    bundle = open_bundle(kidney_bundle)
    form, predictor = bundle.form, load_predictor(bundle, "desktop")
    row = patient_row(form, kidney_schema, sure_patient(kidney_test_set, kidney_schema))
    assert predictor.predict(row) > 0.999
    explanation = explain(form, row, predictor.predict)
    moved = [c for c in explanation.contributions if abs(c.log_odds) > 0.5]
    assert len(moved) >= 3, [c.line() for c in explanation.contributions]
    assert sum(c.log_odds for c in explanation.contributions) == pytest.approx(
        explanation.log_odds - explanation.reference_log_odds, abs=1e-9)
    assert "x" in moved[0].line() and "points" not in moved[0].line()


def test_odds_and_probabilities_read_as_a_person_reads_them():
    assert odds_text(math.log(3.2)) == "odds x3.2 (+1.16)"
    assert odds_text(-math.log(41)) == "odds ÷41 (-3.71)"
    assert odds_text(math.log(16662)) == "odds x17,000 (+9.72)"
    assert odds_text(0.0) == "odds x1.00 (+0.00)"
    assert percent(0.26) == "26.0 %" and percent(0.99998) == "99.998 %"
    assert log_odds(1.0) == (LOG_ODDS_CAP, True) and log_odds(0.5) == (0.0, False)
    assert probability_of(LOG_ODDS_CAP) == pytest.approx(1 - 2 ** -24)


# Log-odds, per field. Near 1 a float32 probability moves in steps of 6e-8, which at 99.999 %
# is a step of 0.006 in log-odds: two float32 computations of a sure coalition differ by
# about 0.01 (measured: 0.014 at most over the float32 files).
EXPLANATION_TOLERANCE = {FP32: 0.02, FP16: 0.05, INT8: 0.25}


@pytest.mark.parametrize("fmt", DEFAULT_FORMATS)
def test_each_exported_format_explains_like_pytorch(kidney_folder, kidney_schema,
                                                    kidney_test_set, fmt):
    """The same patients explained through PyTorch and through each exported file, in its
    first runtime: the Shapley values agree within the format's tolerance, in log-odds (a
    float32 file within 0.02, float16 0.05, int8 0.25)."""
    from pocketml.export.formats import FORMATS
    from pocketml.export.runtimes import load_runner
    from pocketml.folder.artifacts import load_model

    form = open_bundle(kidney_folder, unlisted=UNLISTED).form  # a model folder, its reports too
    module = load_model(kidney_folder)
    runner = load_runner(kidney_folder / FORMATS[fmt].filename, FORMATS[fmt].runtimes[0])

    def through_pytorch(row):
        with torch.no_grad():
            return float(module(torch.tensor([row], dtype=torch.float32))[0, 0])

    def through_file(row):
        return float(runner.run([np.asarray([row], np.float32)])[0][0, 0])

    tolerance = EXPLANATION_TOLERANCE[FORMATS[fmt].tolerance]
    for patient in (least_sure_patient(kidney_test_set, kidney_schema),
                    sure_patient(kidney_test_set, kidney_schema)):
        row = patient_row(form, kidney_schema, patient)
        ours = {c.field: c.log_odds for c in explain(form, row, through_file).contributions}
        theirs = {c.field: c.log_odds for c in explain(form, row, through_pytorch).contributions}
        assert ours == pytest.approx(theirs, abs=tolerance), fmt


def test_the_command_line_gives_the_same_numbers(kidney_bundle, kidney_folder, capsys):
    bundle = open_bundle(kidney_bundle)
    row = encoded(bundle.form, dict(pair.split("=") for pair in ROW.split(",")))
    predictor = load_predictor(bundle, "desktop")
    expected = explain(bundle.form, row, predictor.predict).as_dict()
    for folder in (kidney_bundle, kidney_folder):
        assert main(["explain", str(folder), "--row", ROW, "--json"]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert printed["contributions"] == expected["contributions"]
        assert printed["total"] == expected["total"]
        assert printed["probability"] == predictor.predict(row)
    assert main(["explain", str(kidney_bundle), "--row", ROW]) == 0
    out = capsys.readouterr().out
    assert "Probability of ckd: " in out and "a model explanation, not a medical one" in out
    assert "All answers together: odds x" in out and "the typical patient's" in out


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
    """A held-out patient the model is sure of (> 99.9 %), typed into the real window: the
    bars are the command line's numbers, the largest fills its half, and the total is shown."""
    answers = form_answers(kidney_schema, sure_patient(kidney_test_set, kidney_schema))
    report = run_driver(display, tmp_path, "patient", kidney_bundle, answers=answers,
                        tag="explained")
    row = ",".join(f"{name}={value}" for name, value in answers.items())
    assert main(["explain", str(kidney_bundle), "--row", row, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert report["probability"] == printed["probability"] > 0.999
    assert report["explanation"] == {k: v for k, v in printed.items()
                                     if k not in ("probability", "label")}  # the same numbers
    contributions = printed["contributions"]
    largest = max(abs(c["log_odds"]) for c in contributions)
    assert [b["share"] for b in report["bars"]] == pytest.approx(
        [c["log_odds"] / largest for c in contributions])
    assert sum(abs(b["share"]) > 0.1 for b in report["bars"]) >= 3  # informative when sure
    for bar, contribution in zip(report["bars"], contributions):
        assert bar["text"] == (f"{contribution['label']} {contribution['answer']}: "
                               f"{odds_text(contribution['log_odds'])}")
    assert report["explanation_texts"][-1] == printed["total"]  # after the bars
    [shot] = [s for s in keep_screenshots(report) if s.name == "app_result_explained.png"]
    assert shot.stat().st_size > 10_000
