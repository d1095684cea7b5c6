"""`pocketml diagnose` compares like with like: where TFLite fused an activation into a Linear
or a convolution, the fused tensor is compared with the activation's output, and a
channel-last tensor with PyTorch's channel-first one. So on fp32 files that pass parity, no
layer of the lecture's models (kidney MLP, digits CNN, RNN, LSTM) is named past the tolerance,
and the dynamic-range int8 kidney file's Linear+ReLU fusions are mapped."""

from __future__ import annotations

import textwrap

import pytest

from pocketml.cli import main
from pocketml.export.diagnose.drift import diagnose_folder
from pocketml.export.formats import FP32
from pocketml.folder.artifacts import read_json

SILENT = dict(log=lambda _: None)

# The lecture's architectures as the training code builds them, at seeded initial weights and
# plausible input statistics (training them takes a minute that this check does not need).
LECTURE = textwrap.dedent('''
    import torch
    from pocketml.train.digits.model import DigitsCNN
    from pocketml.train.sequence.model import SequenceRNN

    def digits():
        torch.manual_seed(0)
        model = DigitsCNN()
        model.scale.mean.fill_(0.13)
        model.scale.std.fill_(0.31)
        return model.eval()

    def sequence(cell):
        torch.manual_seed(0)
        model = SequenceRNN(cell)
        model.scale.mean.fill_(80.0)
        model.scale.std.fill_(60.0)
        return model.eval()

    def rnn():
        return sequence("rnn")

    def lstm():
        return sequence("lstm")
''')
SHAPES = {"digits": "1,1,28,28:float32:0,255", "rnn": "1,12,1:float32:0,250",
          "lstm": "1,12,1:float32:0,250"}
FP32_FORMATS = ("onnx", "tflite")
WEIGHT_LAYERS = ("Linear", "Conv2d", "RNN", "LSTM")


@pytest.fixture(scope="module")
def lecture_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("lecture")
    (root / "lecture_nets.py").write_text(LECTURE)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)  # where --model finds lecture_nets
        patch.syspath_prepend(str(root))
        for name, shape in SHAPES.items():
            assert main(["export", "--model", f"lecture_nets:{name}", "--input-shape", shape,
                         "--out", str(root / name), "--formats", ",".join(FP32_FORMATS)]) == 0
        yield {name: root / name for name in SHAPES}


def assert_no_layer_blamed(folder, fmt, **options) -> dict:
    report = diagnose_folder(folder, fmt, **SILENT, **options)
    worst = max((l["error"] for l in report["layers"] if l["error"] is not None), default=None)
    assert report["first"] is None, (fmt, report["first"], worst)
    # A layer folded into its neighbours (the RNN's head into the un-scaling after it) has no
    # tensor of its own and stays unmapped; those compared are within float32 rounding.
    weights = [l for l in report["layers"] if l["kind"] in WEIGHT_LAYERS and l["mapped_by"]]
    assert weights and all(l["error"] <= FP32.max_abs_diff for l in weights), weights
    return {layer["module"]: layer for layer in report["layers"]}


@pytest.mark.parametrize("name", list(SHAPES))
def test_no_layer_is_blamed_on_passing_fp32_files_of_the_lecture_models(lecture_folders, name):
    folder = lecture_folders[name]
    parity = read_json(folder / "parity.json")
    for fmt in FP32_FORMATS:
        assert parity["formats"][fmt]["passed"], fmt
        layers = assert_no_layer_blamed(folder, fmt, trust_source=True)
        if name == "digits" and fmt == "tflite":
            # A DEPTHWISE_CONV_2D with a fused RELU, channel-last: compared as PyTorch's
            # ReLU output (it was "features.0 (Conv2d), error 0.779"); the ReLU takes it too.
            conv, relu = layers["features.0"], layers["features.1"]
            assert conv["mapped_by"] == "name, with its fused RELU"
            assert relu["mapped_by"] == "name" and relu["tensor"] == conv["tensor"]


def test_the_kidney_files_fused_linear_relu_layers_are_mapped_and_pass(kidney_copy):
    for fmt in ("tflite", "onnx"):
        assert_no_layer_blamed(kidney_copy, fmt)
    report = diagnose_folder(kidney_copy, "tflite_int8", **SILENT)
    mapped = {layer["module"]: layer["mapped_by"] for layer in report["layers"]}
    assert mapped["body.0"] == mapped["body.3"] == "name, with its fused RELU"  # unmapped before
    assert all(mapped.values()) and report["first"] is None
    text = (kidney_copy.with_name("kidney-diagnosis") / "tflite_int8" / "diagnosis.md").read_text()
    assert "Not mapped: every layer was mapped" in text
