"""Each output judged on its own: a model with a probability, logits and a class index gets
three verdicts (the class index by exact agreement), and a probability out of tolerance is no
longer excused by the wide range of the logits beside it."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch

from pocketml.cli import main
from pocketml.export.api import export_module, verify_module
from pocketml.export.formats import FORMATS
from pocketml.export.verify.input_sets import InputSet
from pocketml.export.verify.parity import compare, parity_document, parity_markdown
from pocketml.folder.artifacts import read_json

SILENT = dict(log=lambda _: None)

THREE_HEADS = textwrap.dedent('''
    import torch
    from torch import nn

    class ThreeHeads(nn.Module):
        """Logits spanning about 20, their softmax (0-1) and the argmax class index (int64)."""
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(6, 16)
            self.head = nn.Linear(16, 4)
            self.register_buffer("shift", torch.zeros(()))

        def forward(self, x):
            logits = self.head(torch.relu(self.body(x))) * 8.0
            return torch.softmax(logits, dim=1) + self.shift, logits, logits.argmax(dim=1)

    def build():
        torch.manual_seed(0)
        return ThreeHeads().eval()
''')


@pytest.fixture
def heads(write_user_module):
    return write_user_module("three_heads", THREE_HEADS)


def test_three_outputs_get_three_verdicts_in_parity_json_and_md(heads, tmp_path):
    out = tmp_path / "heads"
    assert main(["export", "--model", "three_heads:build", "--input-shape", "1,6",
                 "--out", str(out), "--formats", "onnx,tflite"]) == 0
    parity = read_json(out / "parity.json")
    assert parity["passed"] is True
    for fmt, runtime in (("onnx", "onnxruntime"), ("tflite", "litert"),
                         ("tflite", "tensorflow")):
        outputs = parity["formats"][fmt]["runtimes"][runtime]["outputs"]
        assert [o["kind"] for o in outputs] == ["float", "float", "integer"]
        assert all(o["passed"] for o in outputs), outputs
        probability, logits, index = outputs
        assert 0 <= probability["range"][0] and probability["range"][1] <= 1
        assert logits["range"][1] - logits["range"][0] > 10  # the wide one beside it
        assert index["differ"] == 0 and index["values"] > 1000
        assert [c["name"] for o in outputs for c in o["checks"]] == [
            "output 0: max abs diff", "output 1: max abs diff / output range",
            "output 2: agreement (integer output)"]
    report = (out / "parity.md").read_text()
    rows = [line for line in report.splitlines() if "↳ output" in line]
    runtimes = sum(len(e["runtimes"]) for e in parity["formats"].values())
    assert len(rows) == 3 * runtimes
    assert "| | ↳ output 2 (integer, 0 of " in report


def test_a_probability_out_of_tolerance_fails_beside_wide_logits(heads, tmp_path):
    model = heads.build()
    example = (torch.randn(1, 6),)
    export_module(model, example, tmp_path / "out", formats=("onnx",), **SILENT)
    with torch.no_grad():
        model.shift.fill_(5e-5)  # the probabilities move 5x past 1e-5; the logits do not
    report = verify_module(model, example, tmp_path / "out", formats=("onnx",), n_random=2000,
                           **SILENT)
    assert report["passed"] is False  # judged against the logits' range (~20) it passed
    row = report["formats"]["onnx"]["runtimes"]["onnxruntime"]
    probability, logits, index = row["outputs"]
    assert not probability["passed"] and probability["max_abs_diff"] == pytest.approx(5e-5, rel=0.05)
    assert logits["passed"] and index["passed"]
    assert "✗ FAIL: max abs diff 5" in parity_markdown(report)


def test_one_flipped_class_index_counts_as_one_disagreement_not_a_distance():
    x = np.random.default_rng(0).standard_normal((200, 4)).astype(np.float32)
    classes = x.argmax(axis=1)
    random_set = InputSet("200 random", [x])
    reference = {random_set.name: [classes], "metrics": {}}

    def one_flipped(inputs):
        got = inputs[0].argmax(axis=1)
        got[(inputs[0] == x[17]).all(axis=1)] += 9  # "off by 9" in value, one label in count
        return [got]

    for fmt, passes in (("onnx", False), ("tflite_fp16", True)):  # 199/200 >= 99.5%
        result = compare(fmt, "r", one_flipped, [random_set], reference, None,
                         FORMATS[fmt].tolerance)
        check, = result.checks
        assert check.name == "agreement (integer output)" and check.value == 199 / 200
        assert "1 of 200 differ; first: 200 random, row 17" in check.where
        assert result.passed is passes
    document = parity_document([result], sets=[random_set])
    assert document["formats"][fmt]["runtimes"]["r"]["outputs"][0]["differ"] == 1
