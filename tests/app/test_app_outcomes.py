"""What the app makes of a model's output, by the task the schema declares (pocketapp/form.py,
outcome.py), and what crosses from the runtime (RowCodec): one probability per class for a
multi-class model, a value in its unit for a regressor. A model whose output does not fit is
refused, never shown."""

from __future__ import annotations

import struct

import pytest

from pocketml.pocketapp.form import FormSpec, SchemaError
from pocketml.pocketapp.predictors import FLOAT32, ModelMismatch, RowCodec
from pocketml.pocketapp.selfcheck import output_problem

COLUMNS = [{"name": "alcohol", "field": "alcohol", "kind": "numeric", "label": "alcohol",
            "unit": "%", "range": [8, 16]},
           {"name": "colour_deep", "field": "colour", "kind": "one_hot", "choice": "deep"},
           {"name": "colour_pale", "field": "colour", "kind": "one_hot", "choice": "pale"}]


def schema(task: str, **extra) -> dict:
    return {"format": "pocketml-schema/1", "model": "wine", "task": task,
            "input": {"name": "features", "dtype": "float32", "shape": [-1, 3]},
            "output": {"name": "value", "shape": [-1, 1]}, "columns": COLUMNS, **extra}


MULTICLASS = schema("multiclass_classification", classes=["barbera", "barolo", "grignolino"])
REGRESSION = schema("regression", target={"name": "y", "label": "disease progression",
                                          "unit": "points", "range": [20, 360]})


def test_a_multiclass_form_ranks_the_classes():
    form = FormSpec(MULTICLASS)
    assert form.n_outputs == 3 and form.heading == "wine: which of 3 classes"
    ranking = form.decide([0.1, 0.2, 0.7])
    assert ranking.label == "grignolino"
    assert ranking.lines == ["Most likely: grignolino", "grignolino: 70.0%", "barolo: 20.0%",
                             "barbera: 10.0%"]


@pytest.mark.parametrize("output, words", [
    ([0.5, 0.5], "returned 2 values for 3 classes"),
    ([0.5, 0.5, 0.5], "not probabilities"),
    ([float("nan"), 0.5, 0.5], "not probabilities"),
    ([1.2, -0.1, -0.1], "not probabilities"),
])
def test_a_multiclass_output_that_is_not_probabilities_is_refused(output, words):
    with pytest.raises(ValueError, match=words):
        FormSpec(MULTICLASS).decide(output)


def test_a_regression_form_gives_a_value_with_its_unit():
    form = FormSpec(REGRESSION)
    assert form.n_outputs == 1 and form.classes == []
    assert form.heading == "wine: disease progression (points)"
    estimate = form.decide(152.34)
    assert estimate.label is None
    assert estimate.lines == ["Predicted disease progression: 152.3 points"]
    with pytest.raises(ValueError, match="not a value"):
        form.decide(float("inf"))


def test_a_task_the_app_cannot_show_is_refused():
    with pytest.raises(SchemaError, match="task 'segmentation'"):
        FormSpec(schema("segmentation"))


def test_a_multiclass_model_crosses_the_runtime_as_one_float_per_class():
    codec = RowCodec.check(3, FLOAT32, 3, FLOAT32, 3, 12, tensors=(1, 1), outputs=3)
    assert codec.unpack(struct.pack("=3f", 0.25, 0.5, 0.25)) == [0.25, 0.5, 0.25]
    with pytest.raises(ModelMismatch, match=r"gives 1 FLOAT32 value\(s\) \(4 bytes\) per row; "
                                            r"the app reads 3 FLOAT32 probabilities"):
        RowCodec.check(3, FLOAT32, 3, FLOAT32, 1, 4, tensors=(1, 1), outputs=3)


@pytest.mark.parametrize("form, output, label, problem", [
    (MULTICLASS, [0.2, 0.8], "barolo", "the output is not 3 numbers"),
    (MULTICLASS, [0.2, 0.7, 0.1], "merlot", "the label 'merlot' is not one of"),
    (MULTICLASS, [0.2, 0.7, 0.1], "barolo", ""),
    (REGRESSION, [152.3], None, ""),
    (REGRESSION, [152.3], "barolo", "a regression has no label"),
    (REGRESSION, [1.0, 2.0], None, "the output is not one number"),
])
def test_golden_outputs_must_fit_the_task(form, output, label, problem):
    found = output_problem(output, label, FormSpec(form))
    assert found.startswith(problem) and bool(found) == bool(problem)
