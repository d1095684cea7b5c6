"""A noise floor: an untrained deep network's float32 result is as far from its float64 one as
rounding takes it, in PyTorch itself. An fp32 file is judged against twice that disagreement,
measured on the same inputs, where it is larger than the fixed tolerance, and the report says
so; a file that computes something else still fails."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from pocketml.export.api import export_module, verify_module
from pocketml.export.formats import FP32
from pocketml.export.verify.parity import parity_markdown

SILENT = dict(log=lambda _: None)
FORMATS = ("onnx", "tflite")


class DeepTanh(nn.Module):
    """24 untrained tanh layers at a gain of 2: each layer amplifies the rounding before it."""

    def __init__(self, depth: int = 24, width: int = 32, gain: float = 2.0):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        for layer in self.layers:
            nn.init.normal_(layer.weight, std=gain / width ** 0.5)

    def forward(self, x):
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return x


@pytest.fixture(scope="module")
def deep(tmp_path_factory):
    torch.manual_seed(0)
    model = DeepTanh().eval()
    example = (torch.randn(1, 32),)
    out = tmp_path_factory.mktemp("deep")
    assert all(r.ok for r in export_module(model, example, out, formats=FORMATS, **SILENT))
    return model, example, out


def test_pytorchs_own_float32_misses_the_fixed_tolerance_on_this_network(deep):
    model, _, _ = deep
    x = torch.randn(2000, 32)
    with torch.no_grad():
        gap = (model(x).double() - copy.deepcopy(model).double()(x.double())).abs().max()
    assert gap > 5 * FP32.max_abs_diff  # float32 rounding, nothing else


def test_fp32_files_are_judged_against_pytorchs_rounding_and_the_report_says_so(deep):
    model, example, out = deep
    report = verify_module(model, example, out, formats=FORMATS, n_random=2000, **SILENT)
    assert report["passed"] is True
    for fmt in FORMATS:
        row = report["formats"][fmt]["runtimes"][report["formats"][fmt]["runtime"]]
        output, = row["outputs"]
        check, = output["checks"]
        # Past the fixed 1e-5 (it failed before), within twice PyTorch's own disagreement,
        # both relative to the output's range (tanh: about 2).
        scale = max(1.0, output["range"][1] - output["range"][0])
        assert FP32.max_abs_diff < check["value"] <= 2 * output["noise_floor"] / scale
        assert output["noise_floor"] / scale > FP32.max_abs_diff
        assert "PyTorch's own float32-vs-float64 difference" in check["limit"]
        assert "above the fixed 1e-05" in output["widened"]
    text = parity_markdown(report)
    assert "Noise floor: where PyTorch's own float32 and float64 results differ" in text
    assert "- onnx on onnxruntime, output 0: <= " in text


def test_the_floor_does_not_excuse_a_file_that_computes_something_else(deep):
    model, example, out = deep
    moved = copy.deepcopy(model)
    with torch.no_grad():
        moved.layers[-1].bias.add_(0.01)  # the file no longer matches this module
    report = verify_module(moved, example, out, formats=("onnx",), n_random=2000, **SILENT)
    assert report["passed"] is False
    output, = report["formats"]["onnx"]["runtimes"]["onnxruntime"]["outputs"]
    assert output["noise_floor"] is not None and output["max_abs_diff"] > 0.005
    assert not output["passed"] and output["max_abs_diff"] > 2 * output["noise_floor"]
