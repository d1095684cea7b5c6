"""The on-device self-check without a window: the golden cases `pocketml bundle` writes into the
bundle (form values, PyTorch's row and output), and the check the app runs on them at every
start, through the form's own encoder and the real desktop runtimes."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys

import numpy as np
import pytest
import torch

from app_fixtures import APP, GOLDEN, write_bundle, write_manifest

sys.path.insert(0, str(APP))
from pocketapp.bundle import BundleError, open_bundle  # noqa: E402
from pocketapp.predictors import DesktopLiteRT, DesktopOnnx, load_predictor  # noqa: E402
from pocketapp.form import FormSpec  # noqa: E402
from pocketapp.selfcheck import TOLERANCE, SelfCheckFailed, short, verify_on_device  # noqa: E402


@pytest.fixture
def bundle_copy(kidney_bundle, tmp_path):
    return shutil.copytree(kidney_bundle, tmp_path / "model")


def golden_of(bundle) -> dict:
    return json.loads((bundle / GOLDEN).read_text())


def rewrite_golden(bundle, golden: dict) -> None:
    """Change golden.json and write the manifest to match, as a careful forger would."""
    (bundle / GOLDEN).write_text(json.dumps(golden))
    write_manifest(bundle)


def check(bundle):
    opened = open_bundle(bundle)  # the integrity check passes first in every test here
    return verify_on_device(opened, load_predictor(opened))


# --- the golden cases in the bundle ---------------------------------------------------------

def test_the_bundle_carries_32_golden_rows_listed_with_their_sha256(kidney_bundle):
    manifest = json.loads((kidney_bundle / "manifest.json").read_text())
    data = (kidney_bundle / GOLDEN).read_bytes()
    assert manifest["files"][GOLDEN] == {"sha256": hashlib.sha256(data).hexdigest(),
                                         "bytes": len(data)}
    golden = json.loads(data)
    assert golden["format"] == "pocketml-golden/2"
    assert "max_abs_diff" not in golden  # the app's tolerance is its own
    assert golden["reference"] == f"PyTorch {torch.__version__}"
    sources = [case["source"] for case in golden["cases"]]
    assert len(sources) == 32 == len(set(sources))
    assert sum(s.startswith("test set row ") for s in sources) == 16
    assert sum(s.startswith("edge case ") for s in sources) == 16


def test_golden_rows_are_parity_rows_with_pytorchs_outputs_at_batch_1(kidney_bundle,
                                                                      kidney_folder):
    from pocketml.export.verify.input_sets import MAX_EDGE_ROWS, edge_rows
    from pocketml.folder.artifacts import load_model, load_test_set, read_json

    golden, schema = golden_of(kidney_bundle), read_json(kidney_folder / "schema.json")
    edges, corners = edge_rows(schema, np.random.default_rng(0))
    assert corners <= MAX_EDGE_ROWS  # every corner is taken, so the draw does not matter
    test_x = load_test_set(kidney_folder)[0]
    model = load_model(kidney_folder)
    assert golden["columns"] == [c["name"] for c in schema["columns"]]
    form = FormSpec(schema)
    for case in golden["cases"]:
        kind, index = re.fullmatch(r"(test set row|edge case) (\d+)", case["source"]).groups()
        expected_row = (test_x if kind == "test set row" else edges)[int(index)]
        np.testing.assert_array_equal(np.float32(case["input"]), expected_row)
        # what a person types: the shortest decimal text of each float32 number, one word
        # per choice; the form encodes it back to exactly PyTorch's row
        assert sorted(case["values"]) == sorted(f.name for f in form.fields)
        assert case["values"]["sg"] == np.format_float_positional(
            expected_row[[c["name"] for c in schema["columns"]].index("sg")], trim="-")
        assert case["values"]["htn"] in ("yes", "no")
        row, errors = form.encode(case["values"])
        assert errors == {} and np.float32(row).tolist() == expected_row.tolist()
        with torch.no_grad():
            p = model(torch.tensor([case["input"]], dtype=torch.float32)).numpy()[0]
        assert np.float32(case["output"]).tolist() == p.tolist()  # exactly PyTorch's float32
        assert case["label"] == ("ckd" if p[0] >= schema["threshold"] else "notckd")


def test_golden_rows_span_the_output_range_and_avoid_the_threshold(kidney_bundle):
    outputs = np.array([case["output"][0] for case in golden_of(kidney_bundle)["cases"]])
    labels = {case["label"] for case in golden_of(kidney_bundle)["cases"]}
    assert labels == {"ckd", "notckd"}
    assert outputs.min() < 0.01 and outputs.max() > 0.99
    assert ((outputs > 0.05) & (outputs < 0.95)).sum() >= 8  # not only saturated sigmoids
    assert np.abs(outputs - 0.5).min() > 1e-5  # no row a correct runtime could decide either way


# --- the self-check ---------------------------------------------------------------------------

@pytest.mark.parametrize("runtime", [DesktopLiteRT, DesktopOnnx])
def test_a_good_bundle_passes_in_each_desktop_runtime(kidney_bundle, runtime):
    bundle = open_bundle(kidney_bundle)
    verification = verify_on_device(bundle, runtime.load(bundle))
    assert verification.rows == 32 and verification.runtime == runtime.runtime
    assert 0 <= verification.max_diff <= 1e-5 == verification.tolerance
    assert re.fullmatch(r"verified on this device: 32/32, max diff (0|\d(\.\d)?e-\d+)",
                        verification.summary), verification.summary
    assert f"32/32 golden rows match PyTorch {torch.__version__} within 1e-5" in \
        verification.log_line


def test_altered_golden_outputs_with_the_manifest_rewritten_are_refused(bundle_copy):
    golden = golden_of(bundle_copy)
    golden["cases"][6]["output"][0] += 1e-3
    rewrite_golden(bundle_copy, golden)
    with pytest.raises(SelfCheckFailed, match=r"1 of 32 golden rows differ\. First: row 7 "
                                              rf"\({golden['cases'][6]['source']}\): .* "
                                              r"diff 1e-3 \(tolerance 1e-5\)"):
        check(bundle_copy)


def test_a_changed_decision_is_refused_even_within_the_tolerance(bundle_copy):
    golden = golden_of(bundle_copy)
    case = golden["cases"][0]
    case["label"] = "ckd" if case["label"] == "notckd" else "notckd"
    rewrite_golden(bundle_copy, golden)
    decided = "ckd" if case["label"] == "notckd" else "notckd"
    with pytest.raises(SelfCheckFailed, match=f"row 1 .*; decision {decided}, PyTorch's "
                                              f"{case['label']}"):
        check(bundle_copy)


def test_a_model_of_the_same_shape_but_other_weights_is_refused(bundle_copy, tmp_path):
    """Every file matches the manifest and the model loads: only the self-check can tell."""
    columns = json.loads((bundle_copy / "schema.json").read_text())["columns"]
    other = write_bundle(tmp_path / "other", columns)
    shutil.copy(other / "model.tflite", bundle_copy / "model.tflite")
    write_manifest(bundle_copy)
    with pytest.raises(SelfCheckFailed, match=r"does not reproduce PyTorch: \d+ of 32 golden "
                                              r"rows differ"):
        check(bundle_copy)


def test_a_golden_file_cannot_loosen_the_apps_own_tolerance(bundle_copy, tmp_path):
    """golden.json raising its own tolerance to 10 does not let a damaged model through: the
    app compares at verify's float32 tolerance, whatever the bundle says."""
    from pocketml.export.formats import FORMATS

    assert TOLERANCE == FORMATS["tflite"].tolerance.max_abs_diff == 1e-5
    columns = json.loads((bundle_copy / "schema.json").read_text())["columns"]
    shutil.copy(write_bundle(tmp_path / "other", columns) / "model.tflite",
                bundle_copy / "model.tflite")
    golden = golden_of(bundle_copy)
    golden["max_abs_diff"] = golden["tolerance"] = 10.0
    rewrite_golden(bundle_copy, golden)
    with pytest.raises(SelfCheckFailed, match=r"golden rows differ\. First: .*\(tolerance 1e-5\)"):
        check(bundle_copy)


def edit_schema(bundle, change) -> None:
    """Apply `change` to schema.json's columns and rewrite the manifest (unsigned), as someone
    editing the bundle would."""
    schema = json.loads((bundle / "schema.json").read_text())
    change(schema["columns"])
    (bundle / "schema.json").write_text(json.dumps(schema, indent=2))
    write_manifest(bundle)


def swap(columns: list[dict], first: str, second: str, key: str | None = None) -> None:
    """Exchange two columns' `key` (their places in the row when None)."""
    i, j = (next(k for k, c in enumerate(columns) if c["name"] == n) for n in (first, second))
    if key is None:
        columns[i], columns[j] = columns[j], columns[i]
    else:
        columns[i][key], columns[j][key] = columns[j][key], columns[i][key]


def test_a_schema_with_its_yes_no_columns_swapped_fails_the_self_check(bundle_copy):
    """Every file matches the manifest, the model is the verified one and the schema is sound:
    only the form's values in the golden cases show that "yes" now means "no"."""
    edit_schema(bundle_copy, lambda columns: swap(columns, "htn_no", "htn_yes", "choice"))
    bundle = open_bundle(bundle_copy)
    names = [c["name"] for c in json.loads((bundle_copy / "schema.json").read_text())["columns"]]
    htn = next(f for f in bundle.form.fields if f.name == "htn")
    # "yes" now sets the column trained as htn_no: the app before this check said 32/32
    assert htn.columns == {"yes": names.index("htn_no"), "no": names.index("htn_yes")}
    with pytest.raises(SelfCheckFailed, match=(
            r"This form does not encode answers as the model was trained: 32 of 32 golden cases "
            r"differ\. First: row 1 \(.+\): htn = '(yes|no)' gives \[(1, 0|0, 1)\], training "
            r"gave \[(0, 1|1, 0)\]\..*schema\.json was changed after training")):
        verify_on_device(bundle, load_predictor(bundle))


def test_a_schema_with_two_numeric_columns_swapped_fails_the_self_check(bundle_copy):
    edit_schema(bundle_copy, lambda columns: swap(columns, "sod", "hemo"))
    with pytest.raises(SelfCheckFailed, match=r"First: row 1 \(.+\): hemo = '[\d.]+' gives "
                                              r"\[[\d.]+\], training gave \[[\d.]+\]; sod ="):
        check(bundle_copy)


def test_form_values_the_form_refuses_fail_the_self_check(bundle_copy):
    golden = golden_of(bundle_copy)
    golden["cases"][4]["values"]["sg"] = "1,02"
    rewrite_golden(bundle_copy, golden)
    with pytest.raises(SelfCheckFailed, match=r"1 of 32 golden cases differ\. First: row 5 "
                                              r"\(.+\): the form refuses sg = '1,02' \(use a dot"):
        check(bundle_copy)


def test_a_bundle_without_golden_cases_is_refused(bundle_copy):
    (bundle_copy / GOLDEN).unlink()
    write_manifest(bundle_copy, names=("model.tflite", "model.onnx", "schema.json"))
    with pytest.raises(SelfCheckFailed, match=r"the bundle carries no golden cases \(golden.json "
                                              r"is not in its manifest\).*pocketml bundle"):
        check(bundle_copy)


def test_golden_cases_the_manifest_does_not_list_are_not_trusted(bundle_copy):
    write_manifest(bundle_copy, names=("model.tflite", "model.onnx", "schema.json"))
    assert (bundle_copy / GOLDEN).is_file()
    with pytest.raises(BundleError, match=f"{GOLDEN}: not listed in the manifest"):
        check(bundle_copy)  # a file the manifest does not list is refused before any use
    (bundle_copy / GOLDEN).unlink()
    with pytest.raises(SelfCheckFailed, match="no golden cases"):
        check(bundle_copy)


@pytest.mark.parametrize("change, message", [
    (lambda g: g.update(format="pocketml-golden/1"), "has format 'pocketml-golden/1', expected "
                                                     "'pocketml-golden/2'"),
    (lambda g: g.update(cases=[]), "lists no golden cases"),
    (lambda g: g["cases"][2]["values"].pop("htn"), "row 3: the values are not one text per form"),
    (lambda g: g["cases"][2]["values"].update(sg=1.02), "row 3: the values are not one text per"),
    (lambda g: g["cases"][5].update(output=[1.5]), "row 6: the output 1.5 is not a probability"),
    (lambda g: g["cases"][5].update(output=[-0.01]), "row 6: the output -0.01 is not a probab"),
    (lambda g: g["cases"][3]["input"].pop(), "row 4: the input is not 10 numbers"),
    (lambda g: g["cases"][3]["input"].__setitem__(0, "1.02"), "row 4: the input is not 10"),
    (lambda g: g["cases"][5].update(output=[0.1, 0.9]), "row 6: the output is not one number"),
    (lambda g: g["cases"][5].update(label="maybe"), "row 6: the label 'maybe' is not one of"),
])
def test_a_malformed_golden_file_is_refused(bundle_copy, change, message):
    golden = golden_of(bundle_copy)
    change(golden)
    rewrite_golden(bundle_copy, golden)
    with pytest.raises(SelfCheckFailed, match=f"golden.json {re.escape(message)}"):
        check(bundle_copy)


def test_golden_json_that_is_not_json_is_refused(bundle_copy):
    (bundle_copy / GOLDEN).write_text("{not json")
    write_manifest(bundle_copy)
    with pytest.raises(SelfCheckFailed, match="golden.json cannot be read"):
        check(bundle_copy)


@pytest.mark.parametrize("value, shown", [(2.9e-7, "2.9e-7"), (1e-5, "1e-5"), (1.04e-3, "1e-3"),
                                          (0.0, "0"), (float("nan"), "nan")])
def test_figures_are_short_enough_for_a_phone(value, shown):
    assert short(value) == shown
