"""The on-device self-check without a window: the golden cases `pocketml bundle` writes into the
bundle, and the check the app runs on them at every start, in the real desktop runtimes."""

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
from pocketapp.bundle import open_bundle  # noqa: E402
from pocketapp.predictors import DesktopLiteRT, DesktopOnnx, load_predictor  # noqa: E402
from pocketapp.selfcheck import SelfCheckFailed, short, verify_on_device  # noqa: E402


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
    assert golden["format"] == "pocketml-golden/1"
    assert golden["max_abs_diff"] == 1e-5  # the fp32 mark of `pocketml verify`
    assert golden["reference"] == f"PyTorch {torch.__version__}"
    sources = [case["source"] for case in golden["cases"]]
    assert len(sources) == 32 == len(set(sources))
    assert sum(s.startswith("test set row ") for s in sources) == 16
    assert sum(s.startswith("edge case ") for s in sources) == 16


def test_golden_rows_are_parity_rows_with_pytorchs_outputs_at_batch_1(kidney_bundle,
                                                                      kidney_folder):
    from pocketml.export.input_sets import MAX_EDGE_ROWS, edge_rows
    from pocketml.train.artifacts import load_model, load_test_set, read_json

    golden, schema = golden_of(kidney_bundle), read_json(kidney_folder / "schema.json")
    edges, corners = edge_rows(schema, np.random.default_rng(0))
    assert corners <= MAX_EDGE_ROWS  # every corner is taken, so the draw does not matter
    test_x = load_test_set(kidney_folder)[0]
    model = load_model(kidney_folder)
    assert golden["columns"] == [c["name"] for c in schema["columns"]]
    for case in golden["cases"]:
        kind, index = re.fullmatch(r"(test set row|edge case) (\d+)", case["source"]).groups()
        expected_row = (test_x if kind == "test set row" else edges)[int(index)]
        np.testing.assert_array_equal(np.float32(case["input"]), expected_row)
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


def test_a_bundle_without_golden_cases_is_refused(bundle_copy):
    (bundle_copy / GOLDEN).unlink()
    write_manifest(bundle_copy, names=("model.tflite", "model.onnx", "schema.json"))
    with pytest.raises(SelfCheckFailed, match=r"the bundle carries no golden cases \(golden.json "
                                              r"is not in its manifest\).*pocketml bundle"):
        check(bundle_copy)


def test_golden_cases_the_manifest_does_not_list_are_not_trusted(bundle_copy):
    write_manifest(bundle_copy, names=("model.tflite", "model.onnx", "schema.json"))
    assert (bundle_copy / GOLDEN).is_file()
    with pytest.raises(SelfCheckFailed, match="no golden cases"):
        check(bundle_copy)


@pytest.mark.parametrize("change, message", [
    (lambda g: g.update(format="pocketml-golden/0"), "has format 'pocketml-golden/0'"),
    (lambda g: g.update(cases=[]), "lists no golden cases"),
    (lambda g: g.pop("max_abs_diff"), "gives no positive tolerance"),
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
