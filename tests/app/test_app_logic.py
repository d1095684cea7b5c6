"""The app's logic without a window: input validation (property-based), the form a schema
describes, the bundle's integrity check, desktop predictions against PyTorch and against the
runtimes `pocketml verify` uses, and the row packing, size checks and output decoding that every
platform's predictor goes through (RowCodec)."""

from __future__ import annotations

import ast
import shutil
import struct
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app_fixtures import APP, OTHER_COLUMNS, flip_byte, write_bundle, write_manifest

sys.path.insert(0, str(APP))
from pocketapp import predictors  # noqa: E402
from pocketapp.predictors import (FLOAT32, DesktopLiteRT, DesktopOnnx, ModelMismatch,  # noqa: E402
                                  RowCodec)
from pocketapp.bundle import BundleError, open_bundle  # noqa: E402
from pocketapp.form import ChoiceField, FormSpec, NumericField  # noqa: E402
from pocketapp.validation import Invalid, parse_number  # noqa: E402

SCHEMA_COLUMNS = ["sg", "al", "sod", "hemo", "pc_abnormal", "pc_normal", "htn_no", "htn_yes",
                  "dm_no", "dm_yes"]


# --- validation -----------------------------------------------------------------------------

PLAIN_NUMBER_CHARACTERS = set("0123456789.+-eE")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_no_string_crashes_validation(text):
    try:
        value = parse_number(text, 100, 170)
    except Invalid as err:
        assert str(err)  # every refusal says why
    else:  # what passes is a plain ASCII decimal, read exactly, finite and in range
        assert set(text.strip()) <= PLAIN_NUMBER_CHARACTERS
        assert value == float(text) and 100 <= value <= 170


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=1.005, max_value=1.025), st.sampled_from([repr, str, "{:.4f}".format]))
def test_valid_floats_in_range_pass(value, spell):
    text = spell(value)
    if 1.005 <= float(text) <= 1.025:  # "{:.4f}" may round just outside the range
        assert parse_number(f" {text} ", 1.005, 1.025) == float(text)


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not 3 <= v <= 20))
def test_every_number_outside_the_range_gets_a_message(value):
    with pytest.raises(Invalid):
        parse_number(repr(value), 3, 20)


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1).filter(lambda t: set(t.strip()) - PLAIN_NUMBER_CHARACTERS))
def test_any_other_character_gets_a_message(text):
    with pytest.raises(Invalid):
        parse_number(text, -1e308, 1e308)


@pytest.mark.parametrize("text, message", [
    ("", "required"), ("   ", "required"), ("abc", "not a number"), ("nan", "not a number"),
    ("NaN", "not a number"), ("inf", "not a number"), ("-Infinity", "not a number"),
    ("1,02", "use a dot for decimals: 1.02"), ("1_000", "not a number"),
    ("١٢٣", "not a number"), ("1e999", "too large"), ("999", "outside the plausible range"),
    ("1.0.2", "not a number"), ("0x10", "not a number"),
])
def test_each_bad_input_gets_its_message(text, message):
    with pytest.raises(Invalid, match=message):
        parse_number(text, 100, 170)


# --- the form a schema describes ------------------------------------------------------------

def test_the_kidney_form_has_one_field_per_feature_and_maps_choices_to_one_hot(kidney_bundle):
    form = open_bundle(kidney_bundle).form
    assert [f.name for f in form.fields] == ["sg", "al", "sod", "hemo", "pc", "htn", "dm"]
    assert [type(f) for f in form.fields] == [NumericField] * 4 + [ChoiceField] * 3
    assert form.fields[2].hint == "mEq/L, range 100 to 170"
    assert form.fields[4].choices == ["abnormal", "normal"]
    row, errors = form.encode({"sg": "1.02", "al": "1", "sod": "135", "hemo": "9.5",
                               "pc": "abnormal", "htn": "yes", "dm": "no"})
    assert errors == {}
    assert dict(zip(SCHEMA_COLUMNS, row)) == {
        "sg": 1.02, "al": 1.0, "sod": 135.0, "hemo": 9.5, "pc_abnormal": 1.0, "pc_normal": 0.0,
        "htn_no": 0.0, "htn_yes": 1.0, "dm_no": 1.0, "dm_yes": 0.0}


def test_invalid_answers_never_produce_a_row(kidney_bundle):
    form = open_bundle(kidney_bundle).form
    row, errors = form.encode({"sg": "1,02", "al": "nan", "sod": "inf", "hemo": "",
                               "pc": None, "htn": "maybe"})
    assert row is None
    assert set(errors) == {"sg", "al", "sod", "hemo", "pc", "htn", "dm"}
    assert errors["pc"] == "choose one: abnormal or normal"


def test_threshold_decides_the_class(kidney_bundle):
    form = open_bundle(kidney_bundle).form
    assert form.decide(0.5).label == "ckd" and form.decide(0.4999).label == "notckd"
    for impossible in (float("nan"), -0.1, 1.5):
        with pytest.raises(ValueError, match="not a probability"):
            form.decide(impossible)


@pytest.mark.parametrize("p, shown", [(0.87349, "87.3%"), (0.99999, "> 99.9%"), (1.0, "> 99.9%"),
                                      (0.0004, "< 0.1%"), (0.001, "0.1%"), (0.5, "50.0%")])
def test_a_probability_is_never_shown_as_a_flat_0_or_100_percent(kidney_bundle, p, shown):
    assert open_bundle(kidney_bundle).form.decide(p).percent == shown


def test_another_schema_gives_another_form(tmp_path):
    schema = {"format": "pocketml-schema/1", "columns": OTHER_COLUMNS,
              "classes": ["notckd", "ckd"], "positive_class": "ckd", "threshold": 0.5}
    form = FormSpec(schema)
    assert [(f.name, type(f).__name__) for f in form.fields] == [
        ("age", "NumericField"), ("bp", "NumericField"), ("appet", "ChoiceField"),
        ("ane", "ChoiceField")]
    row, _ = form.encode({"age": "48", "bp": "80", "appet": "poor", "ane": "yes"})
    assert row == [48.0, 80.0, 0.0, 1.0, 0.0, 1.0]


# --- integrity ------------------------------------------------------------------------------

@pytest.fixture
def bundle_copy(kidney_bundle, tmp_path):
    return shutil.copytree(kidney_bundle, tmp_path / "model")


@pytest.mark.parametrize("name", ["model.tflite", "model.onnx", "schema.json"])
def test_a_file_with_one_byte_changed_is_refused(bundle_copy, name):
    flip_byte(bundle_copy / name)
    with pytest.raises(BundleError, match=f"{name} does not match its checksum"):
        open_bundle(bundle_copy)  # so no runtime is ever given the file


def test_a_swapped_model_is_refused(bundle_copy, tmp_path):
    other = write_bundle(tmp_path / "other", OTHER_COLUMNS)
    shutil.copy(other / "model.tflite", bundle_copy / "model.tflite")
    with pytest.raises(BundleError, match="model.tflite does not match"):
        open_bundle(bundle_copy)


def test_missing_bundle_file_or_manifest_entry_is_refused(bundle_copy):
    (bundle_copy / "model.onnx").unlink()
    with pytest.raises(BundleError, match="model.onnx is missing"):
        open_bundle(bundle_copy)
    write_manifest(bundle_copy, names=("schema.json",))
    with pytest.raises(BundleError, match="does not list model.tflite"):
        open_bundle(bundle_copy)
    (bundle_copy / "manifest.json").unlink()
    with pytest.raises(BundleError, match="no model bundle"):
        open_bundle(bundle_copy)


def test_a_manifest_that_is_not_json_is_refused(bundle_copy):
    (bundle_copy / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="cannot be read"):
        open_bundle(bundle_copy)


# --- predictions ----------------------------------------------------------------------------

def predict_all(predictor, table):
    return np.array([predictor.predict(row) for row in table[SCHEMA_COLUMNS].to_numpy()])


def test_desktop_predictions_equal_pytorch_for_the_whole_test_set(kidney_bundle, kidney_test_set):
    predictor = predictors.load_predictor(open_bundle(kidney_bundle))
    assert isinstance(predictor, predictors.DesktopLiteRT)
    assert list(kidney_test_set.columns[:10]) == SCHEMA_COLUMNS
    p = predict_all(predictor, kidney_test_set)
    np.testing.assert_allclose(p, kidney_test_set["p_ckd"], atol=1e-5)
    decided = (p >= 0.5) == (kidney_test_set["p_ckd"] >= 0.5)
    assert decided.all()


def test_desktop_predictions_equal_pocketml_verify(kidney_bundle, kidney_test_set):
    """`pocketml verify` runs the same files in LiteRT and ONNX Runtime: same numbers."""
    from pocketml.export.runtimes import run_file

    x = kidney_test_set[SCHEMA_COLUMNS].to_numpy(np.float32)
    bundle = open_bundle(kidney_bundle)
    litert = run_file(kidney_bundle / "model.tflite", [x], "litert")[0][:, 0]
    onnx = run_file(kidney_bundle / "model.onnx", [x], "onnxruntime")[0][:, 0]
    np.testing.assert_array_equal(predict_all(predictors.DesktopLiteRT.load(bundle),
                                              kidney_test_set).astype(np.float32), litert)
    np.testing.assert_allclose(predict_all(predictors.DesktopOnnx.load(bundle), kidney_test_set),
                               onnx, atol=1e-6)


def test_onnx_runtime_is_the_fallback_when_litert_is_not_installed(kidney_bundle, kidney_test_set,
                                                                   monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # import now raises ImportError
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    predictor = predictors.load_predictor(open_bundle(kidney_bundle))
    assert isinstance(predictor, predictors.DesktopOnnx)
    np.testing.assert_allclose(predict_all(predictor, kidney_test_set),
                               kidney_test_set["p_ckd"], atol=1e-5)


@pytest.mark.parametrize("environ, platform", [
    ({"ANDROID_ARGUMENT": "/data/app"}, "android"), ({"KIVY_BUILD": "ios"}, "ios"), ({}, "desktop")])
def test_platform_detection(monkeypatch, environ, platform):
    for name in ("ANDROID_ARGUMENT", "KIVY_BUILD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert predictors.detect_platform() == platform


# --- what crosses into a native runtime: the part of every predictor that runs here -------

def test_a_row_is_packed_as_float32_in_column_order():
    row = [1.02, 1.0, 135.0, 9.5, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0]
    codec = RowCodec.check(10, FLOAT32, 10, FLOAT32, 1, 4, tensors=(1, 1))
    assert codec.pack(row) == np.array(row, np.float32).tobytes()
    assert codec.input_bytes == 40
    assert codec.unpack(struct.pack("=f", 0.25)) == 0.25


def test_a_row_of_the_wrong_length_never_reaches_the_runtime():
    codec = RowCodec.check(10, FLOAT32, 10, FLOAT32, 1, 4, tensors=(1, 1))
    for row in ([1.0] * 9, [1.0] * 11):
        with pytest.raises(ValueError, match=f"a row of {len(row)} values for a model that "
                                             "takes 10"):
            codec.pack(row)


@pytest.mark.parametrize("returned", [b"", b"\0\0\0", b"\0" * 8])
def test_only_exactly_the_output_bytes_are_decoded(returned):
    with pytest.raises(ValueError, match=f"returned {len(returned)} output bytes, expected 4"):
        RowCodec.check(10, FLOAT32, 10, FLOAT32, 1, 4, tensors=(1, 1)).unpack(returned)


@pytest.mark.parametrize("tensors, message", [
    (("INT8", 10, FLOAT32, 1, 4), "takes INT8 input, but the form gives FLOAT32 values"),
    ((FLOAT32, 6, FLOAT32, 1, 4), "takes 6 values per row, but schema.json lists 10 columns"),
    ((FLOAT32, 10, FLOAT32, 2, 8), r"gives 2 FLOAT32 value\(s\) \(8 bytes\) per row"),
    ((FLOAT32, 10, "FLOAT16", 1, 2), r"gives 1 FLOAT16 value\(s\) \(2 bytes\) per row"),
])
def test_a_model_whose_tensors_do_not_fit_the_form_is_refused_at_load(tensors, message):
    with pytest.raises(ModelMismatch, match=message + ".*rebuild the bundle"):
        RowCodec.check(10, *tensors, tensors=(1, 1))


def test_a_model_with_another_number_of_inputs_is_refused_by_both_desktop_runtimes(
        bundle_copy, tmp_path):
    other = write_bundle(tmp_path / "other", OTHER_COLUMNS)
    for name in ("model.tflite", "model.onnx"):
        shutil.copy(other / name, bundle_copy / name)
    write_manifest(bundle_copy)
    bundle = open_bundle(bundle_copy)
    for runtime in (DesktopLiteRT, DesktopOnnx):
        with pytest.raises(ModelMismatch, match="takes 6 values per row, but schema.json lists "
                                                "10 columns"):
            runtime.load(bundle)


@pytest.mark.parametrize("runtime", [DesktopLiteRT, DesktopOnnx])
def test_the_desktop_predictors_refuse_a_short_row(kidney_bundle, runtime):
    predictor = runtime.load(open_bundle(kidney_bundle))
    row = [1.02, 1.0, 135.0, 9.5, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0]
    predictor.predict(row)
    with pytest.raises(ValueError, match="a row of 9 values"):
        predictor.predict(row[:9])  # never the previous row's probability


# --- self-containment -----------------------------------------------------------------------

def test_the_app_imports_nothing_that_is_not_on_the_phone():
    """buildozer packages only mobile_app/: no pocketml, train, export, torch."""
    forbidden = {"pocketml", "train", "export", "torch", "tensorflow", "litert_torch"}
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not {n.split(".")[0] for n in names} & forbidden, path


def test_the_model_bundle_is_not_committed():
    ignored = (APP.parent / ".gitignore").read_text().splitlines()
    assert "mobile_app/model/" in ignored  # produced by `pocketml all`, never checked in
