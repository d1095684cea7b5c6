"""ExecuTorch on the kidney model: the .pte files run in ExecuTorch's own Python runtime,
computed as PyTorch computes them at any batch, with a dynamic batch, and each file says what
XNNPACK ran; the int8 file is calibrated on the training rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pocketml.export.model_folder import export_folder
from pocketml.export.runtimes import load_runner
from pocketml.folder.artifacts import load_model, load_test_set, read_json

SILENT = dict(log=lambda _: None)


def test_executorch_file_matches_pytorch_at_any_batch(kidney_folder):
    runner = load_runner(kidney_folder / "model.pte", "executorch")
    assert runner.batch_limit == 64  # planned for up to 64 rows at once
    x, _ = load_test_set(kidney_folder)
    x = np.concatenate([x, x])  # 160 rows: more than one call holds
    with torch.no_grad():
        expected = load_model(kidney_folder)(torch.from_numpy(x)).numpy()
    for batch in (1, 7, 64, 160):
        got = runner.run([x[:batch]])[0]
        np.testing.assert_allclose(got, expected[:batch], atol=1e-5, err_msg=f"batch {batch}")


def test_the_mlp_runs_entirely_on_xnnpack_and_parity_says_so(kidney_folder):
    result = read_json(kidney_folder / "parity.json")["formats"]["executorch"]["runtimes"][
        "executorch"]
    assert result["passed"] and result["max_abs_diff"] <= 1e-5
    assert result["dimensions"] == {"batch": "dynamic up to 64"}
    lowering = result["lowering"]
    assert lowering["subgraphs"] == 1 and lowering["not_delegated"] == {}
    assert lowering["delegated"]["aten_linear_default"] == 3  # the MLP's three layers
    assert "XNNPACK: " in (kidney_folder / "parity.md").read_text()


def test_int8_executorch_is_calibrated_on_training_rows_and_keeps_the_roc_auc(kidney_copy):
    assert export_folder(kidney_copy, ("executorch_int8",), **SILENT)
    entry = read_json(kidney_copy / "parity.json")["formats"]["executorch_int8"]
    assert entry["passed"] and entry["label_agreement"] >= 0.98
    pytorch_auc = read_json(kidney_copy / "metrics.json")["test"]["roc_auc"]
    assert entry["metrics"]["roc_auc"] == pytest.approx(pytorch_auc, abs=0.01)
    delegated = entry["runtimes"]["executorch"]["lowering"]["delegated"]
    # int8 activations and weights: XNNPACK runs the quantize/dequantize pairs around the layers
    assert delegated["quantized_decomposed_quantize_per_tensor_default"] >= 3
    assert delegated["quantized_decomposed_dequantize_per_channel_default"] == 3
    assert entry["max_abs_diff"] > 1e-4  # really quantized, not a float copy
