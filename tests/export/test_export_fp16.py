"""Half precision on the kidney model: float16 weights (tflite_fp16) must pass on steep models
too, and fp16 arithmetic (a GPU delegate, XNNPACK's FORCE_FP16) is checked, recorded in the
bundle and refused by the app unless it passed."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
import torch

from app_fixtures import APP, GOLDEN, write_manifest
from pocketml.export.runtimes import FP16_ARITHMETIC
from pocketml.export.convert.fp16_layers import weight_layers
from pocketml.export.model_folder import export_folder, verify_folder
from pocketml.export.verify.input_sets import input_sets
from pocketml.export.runtimes import load_runner
from pocketml.folder import artifacts

sys.path.insert(0, str(APP))
from pocketapp.bundle import open_bundle  # noqa: E402
from pocketapp.half_precision import DELEGATES, DesktopLiteRTFp16, Fp16Refused, load_fp16_predictor  # noqa: E402
from pocketapp.predictors import DesktopLiteRT, load_predictor  # noqa: E402

BUNDLED = ("model.tflite", "model.onnx", "schema.json", GOLDEN, DELEGATES)


def all_layers_fp16(folder, to):
    """model.tflite with every weight layer in float16: what tflite_fp16 was before."""
    from ai_edge_quantizer import qtyping, quantizer
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    q = quantizer.Quantizer(str(folder / "model.tflite"))
    q.add_weight_only_config(regex=".*", operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
                             num_bits=16, algorithm_key=AlgorithmName.FLOAT_CASTING)
    q.quantize().export_model(str(to), overwrite=True)


def test_fp16_weights_stay_within_tolerance_on_a_steep_model(kidney_copy, tmp_path):
    # Logits x6 (about -75 to 209), near the kidney model trained on the CKD table repeated to
    # 4,000 rows (-199 to 675), whose all-float16 file missed the tolerance by 0.0087.
    model = artifacts.load_model(kidney_copy)
    model.divide_logit(1 / 6)
    artifacts.save_model(model, kidney_copy)
    assert export_folder(kidney_copy, ["tflite", "tflite_fp16"], log=lambda _: None)
    note = artifacts.read_json(kidney_copy / "export.json")["tflite_fp16"]["note"]
    assert "keep float32 weights" in note and "Linear_0" in note
    parity = artifacts.read_json(kidney_copy / "parity.json")["formats"]["tflite_fp16"]
    assert parity["passed"] and parity["max_abs_diff"] <= 1e-3
    # The same model with every layer in float16 fails: the test reproduces the old failure.
    all_layers_fp16(kidney_copy, tmp_path / "all.tflite")
    x, y = artifacts.load_test_set(kidney_copy)
    sets = input_sets(artifacts.read_json(kidney_copy / "schema.json"),
                      (torch.from_numpy(x[:2]),), (x, y))
    rows = [np.concatenate([s.inputs[0] for s in sets])]
    float32 = load_runner(kidney_copy / "model.tflite", "litert").run(rows)[0]
    every = load_runner(tmp_path / "all.tflite", "litert").run(rows)[0]
    assert np.abs(every - float32).max() > 1e-3
    assert len(weight_layers(kidney_copy / "model.tflite")) == 3


def test_fp16_arithmetic_is_a_row_that_gates_only_fp16_delegates(kidney_folder):
    parity = artifacts.read_json(kidney_folder / "parity.json")
    tflite = parity["formats"]["tflite"]
    row = tflite["runtimes"][FP16_ARITHMETIC]
    assert row["gates"] == "fp16 delegates in the app"
    # Specific gravity (1.005-1.025) in half precision moves by a fifth of its std.
    assert not row["passed"] and row["max_abs_diff"] > 0.05
    assert any(c["limit"] == "<= 0.001" and not c["passed"] for c in row["checks"])
    assert parity["passed"] and tflite["passed"] and tflite["max_abs_diff"] <= 1e-5


def test_a_failed_fp16_arithmetic_row_sends_nobody_to_diagnose(kidney_copy):
    """The gate row fails on the kidney model while every file passes: verify passes and
    points at no file to diagnose."""
    lines = []
    assert verify_folder(kidney_copy, log=lines.append)
    assert any(line.startswith("parity: PASSED") for line in lines)
    assert not any("pocketml diagnose" in line for line in lines), lines[-3:]


@pytest.fixture
def bundle_copy(kidney_bundle, tmp_path):
    return shutil.copytree(kidney_bundle, tmp_path / "model")


def test_the_app_refuses_fp16_arithmetic_the_bundle_saw_fail(kidney_bundle):
    record = json.loads((kidney_bundle / DELEGATES).read_text())["fp16_arithmetic"]
    assert record["passed"] is False and record["max_abs_diff"] > 0.05
    bundle = open_bundle(kidney_bundle)
    with pytest.raises(Fp16Refused, match="failed the fp16 arithmetic check.*max abs diff"):
        load_fp16_predictor(bundle, "desktop")
    assert isinstance(load_predictor(bundle, "desktop"), DesktopLiteRT)  # float32 still runs


def test_a_bundle_without_the_fp16_record_is_refused_fp16(bundle_copy):
    (bundle_copy / DELEGATES).unlink()
    write_manifest(bundle_copy, BUNDLED[:-1])
    with pytest.raises(Fp16Refused, match="has no delegates.json"):
        load_fp16_predictor(open_bundle(bundle_copy), "desktop")


def test_fp16_arithmetic_runs_when_the_bundle_says_it_passed(bundle_copy, kidney_test_set,
                                                             kidney_schema):
    (bundle_copy / DELEGATES).write_text(json.dumps({"fp16_arithmetic": {"passed": True}}))
    write_manifest(bundle_copy, BUNDLED)
    bundle = open_bundle(bundle_copy)
    half = load_fp16_predictor(bundle, "desktop")
    assert isinstance(half, DesktopLiteRTFp16)
    columns = [c["name"] for c in kidney_schema["columns"]]
    rows = kidney_test_set[columns].to_numpy(np.float32)
    full = DesktopLiteRT.load(bundle)
    fp16 = np.array([half.predict(list(row)) for row in rows])
    fp32 = np.array([full.predict(list(row)) for row in rows])
    # Really half precision: the same rows, other figures, as verify measured.
    assert 1e-3 < np.abs(fp16 - fp32).max() < 0.5
