"""Export of the trained kidney model: every format written, valid, and proven equal to
PyTorch in every runtime; the manifest catches changed files; parity catches wrong ones."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import onnx
import pytest
import torch

from pocketml.folder.errors import IntegrityError
from pocketml.export.api import export_module
from pocketml.export.formats import DEFAULT_FORMATS, FORMATS
from pocketml.folder.manifest import check_manifest, write_manifest
from pocketml.export.model_folder import bundle_folder, export_folder, verify_folder
from pocketml.export.verify.input_sets import (MAX_BATCH_1_ROWS, MAX_EDGE_ROWS, edge_case_set,
                                        edge_rows, input_sets, one_hot_groups)
from pocketml.export.runtimes import FP16_ARITHMETIC, available_runtimes, load_runner, run_file
from pocketml.folder.artifacts import load_model, load_test_set, read_json

SILENT = dict(log=lambda _: None)


def test_every_default_format_is_written_and_small(kidney_folder):
    exports = read_json(kidney_folder / "export.json")
    assert list(exports) == list(DEFAULT_FORMATS)
    for fmt, entry in exports.items():
        assert entry["error"] is None, fmt
        assert (kidney_folder / FORMATS[fmt].filename).stat().st_size == entry["bytes"] > 0
    # The size target for the float32 files.
    assert exports["onnx"]["bytes"] <= 20 * 1024
    assert exports["tflite"]["bytes"] <= 20 * 1024


def test_onnx_file_is_checked_named_dynamic_and_carries_the_schema(kidney_folder):
    model = onnx.load(str(kidney_folder / "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    (features,), (p_ckd,) = model.graph.input, model.graph.output
    assert (features.name, p_ckd.name) == ("features", "p_ckd")
    batch, width = features.type.tensor_type.shape.dim
    assert batch.dim_param and not batch.dim_value  # symbolic: any batch size
    assert width.dim_value == 10
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["pocketml.schema"]) == read_json(kidney_folder / "schema.json")
    x, _ = load_test_set(kidney_folder)
    for batch_size in (1, 7, 64):
        assert run_file(kidney_folder / "model.onnx", [x[:batch_size]], "onnxruntime")[0].shape == (min(batch_size, len(x)), 1)


def test_parity_passes_in_every_format_and_runtime(kidney_folder):
    parity = read_json(kidney_folder / "parity.json")
    assert parity["passed"] is True
    assert set(parity["formats"]) == set(DEFAULT_FORMATS)
    for fmt, entry in parity["formats"].items():
        # The float32 TFLite file also runs in fp16 arithmetic: a row that decides only the
        # app's fp16 delegates (tests/export/test_export_fp16.py), never the verdict.
        runtimes = set(entry["runtimes"]) - {FP16_ARITHMETIC}
        assert runtimes == set(available_runtimes(kidney_folder / FORMATS[fmt].filename))
        assert (FP16_ARITHMETIC in entry["runtimes"]) == (fmt == "tflite")
        if fmt.startswith("tflite"):  # both TFLite interpreters, LiteRT and TensorFlow's own
            assert runtimes == {"litert", "tensorflow"}
        if fmt.startswith("executorch"):
            assert runtimes == {"executorch"}
        for result in entry["runtimes"].values():
            assert result["passed"] or result["gates"], (fmt, result)
    fp32 = [parity["formats"][f] for f in ("onnx", "tflite", "executorch")]
    assert all(f["max_abs_diff"] <= 1e-5 and f["label_agreement"] == 1.0 for f in fp32)
    assert parity["formats"]["tflite_fp16"]["max_abs_diff"] <= 1e-3
    assert parity["formats"]["tflite_fp16"]["label_agreement"] >= 0.995
    int8 = parity["formats"]["tflite_int8"]
    reference_auc = read_json(kidney_folder / "metrics.json")["test"]["roc_auc"]
    assert int8["label_agreement"] >= 0.98
    assert abs(int8["metrics"]["roc_auc"] - reference_auc) <= 0.01
    assert "✓ pass" in (kidney_folder / "parity.md").read_text()
    # Its rows are tiny, so the random set keeps its full strength under the budget.
    random_set = next(s for s in parity["inputs"] if "random" in s["name"])
    assert random_set["rows"] == 10_000
    assert random_set["note"].startswith("10000 random inputs, chosen for a budget of 64 MB")


def test_outputs_match_pytorch_on_the_test_set_in_each_runtime(kidney_folder):
    x, _ = load_test_set(kidney_folder)
    with torch.no_grad():
        expected = load_model(kidney_folder)(torch.from_numpy(x)).numpy()
    for fmt in ("onnx", "tflite", "executorch"):
        path = kidney_folder / FORMATS[fmt].filename
        for runtime in available_runtimes(path):
            got = run_file(path, [x], runtime)[0]
            np.testing.assert_allclose(got, expected, atol=1e-5, err_msg=f"{fmt} on {runtime}")


def test_calibrated_16x8_integer_layers(kidney_copy):
    assert export_folder(kidney_copy, ("tflite", "tflite_16x8"), **SILENT)
    tensors = load_runner(kidney_copy / "model_16x8.tflite", "litert").interpreter.get_tensor_details()
    dtypes = {t["dtype"] for t in tensors}
    assert np.int8 in dtypes and np.int16 in dtypes  # int8 weights, int16 activations
    entry = read_json(kidney_copy / "parity.json")["formats"]["tflite_16x8"]
    assert entry["passed"] and entry["label_agreement"] >= 0.98


def test_full_integer_int8_calibrated_on_training_rows(kidney_copy):
    assert export_folder(kidney_copy, ("tflite_int8_full",), **SILENT)
    runner = load_runner(kidney_copy / "model_int8_full.tflite", "litert")
    tensors = runner.interpreter.get_tensor_details()
    layers = [t for t in tensors if "linear" in t["name"].lower()]
    assert layers and {t["dtype"] for t in layers} <= {np.int8, np.int32}  # no float layer
    assert runner.outputs[0]["dtype"] == np.int8  # dequantized by the runner, as on a phone
    entry = read_json(kidney_copy / "parity.json")["formats"]["tflite_int8_full"]
    assert entry["passed"] and entry["label_agreement"] >= 0.98
    pytorch_auc = read_json(kidney_copy / "metrics.json")["test"]["roc_auc"]
    assert entry["metrics"]["roc_auc"] == pytest.approx(pytorch_auc, abs=0.01)


def test_a_file_exported_from_other_weights_fails_parity_even_with_a_good_manifest(kidney_copy):
    """The manifest only says the files are the ones exported; parity says they are right."""
    model = load_model(kidney_copy)
    with torch.no_grad():
        model.body[0].weight.mul_(1.01)  # slightly different weights
    other = kidney_copy.parent / "other"  # a right file for the other weights, made with the
    # Python API: `pocketml export` refuses weights training did not write (test_custody.py)
    export_module(model, (torch.from_numpy(load_test_set(kidney_copy)[0][:2]),), other,
                  ("tflite",), **SILENT)
    shutil.copy2(other / "model.tflite", kidney_copy / "model.tflite")
    write_manifest(kidney_copy)  # listed as if it were right
    assert verify_folder(kidney_copy, **SILENT) is False
    parity = read_json(kidney_copy / "parity.json")
    assert parity["passed"] is False
    assert parity["formats"]["tflite"]["passed"] is False
    assert parity["formats"]["onnx"]["passed"] is True
    failing = parity["formats"]["tflite"]["runtimes"]["litert"]["checks"][0]
    assert failing["name"] == "max abs diff" and "worst:" in failing["where"]


@pytest.mark.parametrize("damage", ["change", "delete", "extra"])
def test_manifest_refuses_changed_missing_and_extra_model_files(kidney_copy, damage):
    target = kidney_copy / "model.tflite"
    if damage == "change":
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0x01
        target.write_bytes(bytes(data))
    elif damage == "delete":
        target.unlink()
    else:
        shutil.copy2(target, kidney_copy / "model_extra.tflite")
    with pytest.raises(IntegrityError) as caught:
        verify_folder(kidney_copy, **SILENT)
    message = str(caught.value)
    expected = {"change": "model.tflite does not match its checksum", "delete": "model.tflite is "
                "missing: the manifest lists it", "extra": "model_extra.tflite: not listed in the "
                "manifest"}[damage]
    assert expected in message


def test_manifest_lists_files_versions_seed_and_data(kidney_folder):
    manifest = check_manifest(kidney_folder)
    for name in ("model.safetensors", "model.onnx", "model.tflite", "model_fp16.tflite",
                 "model_int8.tflite", "model.pte", "schema.json", "metrics.json"):
        assert len(manifest["files"][name]["sha256"]) == 64
    for library in ("torch", "onnx", "onnxruntime", "litert-torch", "tensorflow-cpu"):
        assert manifest["versions"][library]
    assert manifest["seed"] == 0
    assert manifest["data_sha256"] == read_json(kidney_folder / "metrics.json")["data"]["sha256"]


def test_bundle_copies_only_what_the_app_needs(kidney_bundle):
    assert sorted(p.name for p in kidney_bundle.iterdir()) == [
        "delegates.json", "golden.json", "manifest.json", "model.onnx", "model.tflite",
        "schema.json"]
    manifest = check_manifest(kidney_bundle)
    assert sorted(manifest["files"]) == ["delegates.json", "golden.json", "model.onnx",
                                         "model.tflite", "schema.json"]


def test_bundle_refuses_a_tampered_folder_and_writes_nothing(kidney_copy, tmp_path):
    (kidney_copy / "schema.json").write_text("{}")
    with pytest.raises(IntegrityError):
        bundle_folder(kidney_copy, tmp_path / "bundle", **SILENT)
    assert not (tmp_path / "bundle").exists()
    assert list(tmp_path.glob(".bundle*")) == []


# --------------------------------------------------------------------------- edge cases

def encoded_feature_names() -> list[str]:
    """All 34 columns the encoder makes from the real data."""
    from sklearn.pipeline import make_pipeline

    from pocketml.train.kidney.data import TARGET, load_ckd
    from pocketml.train.kidney.fetch import CSV_NAME, shipped_file
    from pocketml.train.kidney.pipeline import imputer, one_hot_encoder

    frame = load_ckd(shipped_file(CSV_NAME)).frame.drop(columns=TARGET)
    return list(make_pipeline(imputer(), one_hot_encoder()).fit_transform(frame).columns)


def assert_corners(rows: np.ndarray, schema: dict) -> None:
    """Every row: each numeric column at one of its bounds, exactly one choice per field."""
    columns = schema["columns"]
    for i, column in enumerate(columns):
        if column["kind"] == "numeric":
            assert set(rows[:, i]) <= set(np.float32(column["range"])), column["name"]
    for indices in one_hot_groups(columns).values():
        assert (rows[:, indices].sum(axis=1) == 1).all()


def test_edge_cases_of_the_lecture_features_are_every_corner(kidney_folder):
    schema = read_json(kidney_folder / "schema.json")
    rows, corners = edge_rows(schema, np.random.default_rng(0))
    assert corners == len(rows) == 2**4 * 2**3  # 4 numbers, 3 two-choice fields
    assert len(np.unique(rows, axis=0)) == corners
    assert_corners(rows, schema)
    assert edge_case_set(schema, np.random.default_rng(0)).name == "edge cases"


def test_edge_cases_of_all_34_features_are_a_capped_sample_and_say_so():
    from pocketml.train.kidney.options import ENCODED_COLUMNS
    from pocketml.train.kidney.outputs import kidney_schema

    names = encoded_feature_names()
    assert len(names) == ENCODED_COLUMNS == 34
    schema = kidney_schema(names, np.ones((3, 34)))  # the rows give only reference values
    sets = input_sets(schema, (torch.zeros(2, 34),))
    edge = sets[-1]
    assert edge.name == f"edge cases, {len(edge.inputs[0])} of 16,777,216 corners sampled at random"
    rows = edge.inputs[0]
    assert MAX_EDGE_ROWS - 10 <= len(rows) <= MAX_EDGE_ROWS  # the sample, duplicates dropped
    assert len(np.unique(rows, axis=0)) == len(rows) and rows.nbytes < 1_000_000
    assert_corners(rows, schema)
    # Both bounds of every number, and every choice of every field, are among the sampled.
    for i in range(34):
        assert len(set(rows[:, i])) == 2


def test_the_batch_1_run_of_a_big_test_set_is_capped():
    schema = {"columns": [{"name": "a", "kind": "numeric", "range": [0, 1]}]}
    x, y = np.zeros((2500, 1), np.float32), np.zeros(2500)
    batch_64, batch_1 = input_sets(schema, (torch.zeros(2, 1),), (x, y))[:2]
    assert len(batch_64.inputs[0]) == 2500  # the metrics still see every test row
    assert batch_1.batch_size == 1 and len(batch_1.inputs[0]) == MAX_BATCH_1_ROWS
    assert batch_1.name == f"test set, batch 1 (first {MAX_BATCH_1_ROWS} of 2500 rows)"


def test_verify_of_all_34_features_stays_small_and_reports_the_sampled_corners(tmp_path):
    from pocketml.train.kidney.options import KidneyOptions
    from pocketml.train.kidney.train import train_kidney

    folder = tmp_path / "k34"
    train_kidney(KidneyOptions(out=folder, features="auto", k=34, folds=2, progress=False),
                 log=lambda _: None)
    lines: list[str] = []
    assert export_folder(folder, ("onnx", "tflite"), log=lines.append)
    # The report names the sample: how many corners of how many, as many rows as corners.
    sampled = re.search(r"edge cases, (\d+) of 16,777,216 corners sampled at random "
                        r"\((\d+) rows\)", "\n".join(lines))
    assert sampled and sampled[1] == sampled[2] and int(sampled[1]) <= MAX_EDGE_ROWS
    assert read_json(folder / "parity.json")["passed"] is True
