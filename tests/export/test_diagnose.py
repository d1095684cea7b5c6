"""`pocketml diagnose`: the file's intermediate tensors, captured with each runtime's own hooks
and mapped to PyTorch's modules, name the first layer where a file drifts; and parity's
decision and calibration figures."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from pocketml.cli import main
from pocketml.export.verify.decisions import DecisionTally
from pocketml.export.diagnose.drift import diagnose_folder
from pocketml.export.formats import DEFAULT_FORMATS, FORMATS
from pocketml.export.tolerances import FP32
from pocketml.folder.reference import calibration_figures


def scale_weights(folder, name: str, factor: float) -> None:
    model = onnx.load(str(folder / "model.onnx"))
    [weights] = [i for i in model.graph.initializer if i.name == name]
    weights.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weights) * factor, name))
    onnx.save(model, str(folder / "model.onnx"))


def test_a_changed_layer_is_named_with_the_layers_after_it(kidney_copy, capsys):
    """The second hidden layer's weights of the ONNX file grown by 5 %: verify fails and points
    at diagnose; diagnose finds body.3 (the layers before it agree to float32 rounding),
    through ONNX Runtime's extra outputs named by torch.onnx's module scopes."""
    scale_weights(kidney_copy, "body.3.weight", 1.05)
    (kidney_copy / "manifest.json").unlink()  # verify's integrity check is not under test
    from pocketml.folder.manifest import write_manifest

    write_manifest(kidney_copy)
    assert main(["verify", str(kidney_copy)]) == 1
    assert f"pocketml diagnose {kidney_copy} --format onnx" in capsys.readouterr().out
    report = diagnose_folder(kidney_copy, "onnx", log=lambda _: None)
    errors = {layer["module"]: layer["error"] for layer in report["layers"]}
    assert report["first"] == "body.3"
    assert all(errors[m] <= 1e-5 for m in ("scale", "body.0", "body.1")), errors
    assert errors["body.3"] > 0.01 and errors["output"] > 1e-5
    assert all(layer["mapped_by"] == "name" for layer in report["layers"])
    text = (kidney_copy.with_name("kidney-diagnosis") / "onnx" / "diagnosis.md").read_text()
    assert "first layer past the tolerance 1e-05: body.3 (Linear)" in text
    assert "| 6 | body.6 | Linear |" in text  # the layers after it, with their errors
    plot = kidney_copy.with_name("kidney-diagnosis") / "onnx" / "error_per_layer.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tflite_tensors_are_named_by_the_module_that_made_them(kidney_copy):
    """The dynamic-range int8 file: LiteRT's preserved tensors carry litert-torch's module
    scopes; a fused Linear+ReLU tensor is the ReLU's output, so the Linear is compared with
    its PyTorch output through the ReLU, never with the pre-activation values."""
    report = diagnose_folder(kidney_copy, "tflite_int8", log=lambda _: None)
    mapped = {layer["module"]: layer["mapped_by"] for layer in report["layers"]}
    fused = "name, with its fused RELU"
    assert mapped == {"scale": "name", "body.0": fused, "body.1": "name", "body.3": fused,
                      "body.4": "name", "body.6": "name", "output": "name"}
    errors = {layer["module"]: layer["error"] for layer in report["layers"]}
    assert errors["scale"] < 1e-6 < errors["body.1"] < 0.05  # int8 weights after the scaling
    assert report["first"] is None  # it passes parity, and no layer drifts past 0.05
    text = (kidney_copy.with_name("kidney-diagnosis") / "tflite_int8" / "diagnosis.md").read_text()
    assert "Not mapped: every layer was mapped" in text


def test_executorch_is_tapped_through_its_delegate(kidney_copy):
    """ExecuTorch's intermediate-output taps, lowered to XNNPACK as export lowers it."""
    report = diagnose_folder(kidney_copy, "executorch", log=lambda _: None)
    layers = {layer["module"]: layer for layer in report["layers"]}
    assert {m for m, layer in layers.items() if layer["mapped_by"]} >= {
        "scale", "body.0", "body.3", "body.6", "output"}
    assert all(layer["error"] <= FP32.max_abs_diff for layer in layers.values()
               if layer["error"] is not None)
    assert report["first"] is None


@pytest.mark.parametrize("argv, message", [
    (["--format", "coreml"], "--format 'coreml': choose one of onnx"),
    (["--format", "tflite_int8_full"], "pocketml export"),
])
def test_a_bad_format_is_refused(kidney_copy, capsys, argv, message):
    assert main(["diagnose", str(kidney_copy), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not kidney_copy.with_name("kidney-diagnosis").exists()


def test_decisions_are_tallied_near_the_threshold():
    tally = DecisionTally({"task": "binary_classification", "threshold": 0.5})
    want = np.array([[0.45], [0.55], [0.9], [0.1]])
    got = np.array([[0.52], [0.55], [0.3], [0.1]])
    labels = np.array([0, 1, 1, 0])
    tally.add_test(got[:2], want[:2], labels[:2])  # in two chunks, as parity may feed them
    tally.add_test(got[2:], want[2:], labels[2:])
    tally.add_random(np.array([[0.41], [0.59], [0.7], [0.95]]),
                     np.array([[0.55], [0.58], [0.3], [0.95]]))
    summary = tally.summary()
    assert (summary["test_flipped"], summary["test_rows"]) == (2, 4)
    assert (summary["near_flipped"], summary["near_rows"]) == (1, 2)  # 0.3, 0.95 not near
    assert summary["brier"] == pytest.approx(calibration_figures(labels, got[:, 0])["brier"])
    assert summary["ece_pytorch"] == pytest.approx(calibration_figures(labels, want[:, 0])["ece"])
    assert DecisionTally({"task": "regression"}).summary() is None


def test_parity_reports_flips_and_calibration_for_every_format(kidney_folder):
    document = json.loads((kidney_folder / "parity.json").read_text())
    for fmt in DEFAULT_FORMATS:
        decisions = document["formats"][fmt]["decisions"]
        assert decisions["test_rows"] == 80 and decisions["near_rows"] > 0
        if FORMATS[fmt].tolerance is FP32:  # float32 files decide exactly as PyTorch does
            assert decisions["test_flipped"] == decisions["near_flipped"] == 0
            assert decisions["brier"] == pytest.approx(decisions["brier_pytorch"], abs=1e-6)
    table = (kidney_folder / "parity.md").read_text()
    assert "| decisions flipped | Brier, ECE (test set) |" in table
    assert "0/80 test; 0/" in table
