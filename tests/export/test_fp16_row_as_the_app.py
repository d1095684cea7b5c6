"""The fp16-arithmetic row runs model.tflite as the app runs it (pocketapp.half_precision):
at the file's own batch, rows one by one, each input in its declared dtype (int32 token ids,
a bool mask) and each output read in its own (an int32 class index). Across every kind of
TFLite file the tests make, the row runs, so it passes or fails on fp16 arithmetic alone; a
file it cannot drive is "not run", in one line, which the app does not call an fp16 failure."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap

import numpy as np
import pytest
import torch
from app_fixtures import APP, GOLDEN, write_manifest

from pocketml.export.api import export_module, input_specs
from pocketml.export.verify.fp16_arithmetic import fp16_markdown, fp16_record
from pocketml.export.verify.input_sets import InputSet, input_sets
from pocketml.export.verify.parity import (RuntimeResult, check_parity, parity_document,
                                   parity_markdown, refused)
from pocketml.export.runtimes import FP16_ARITHMETIC
from pocketml.export.convert.user_module import user_schema

sys.path.insert(0, str(APP))
from pocketapp.bundle import open_bundle  # noqa: E402
from pocketapp.half_precision import DELEGATES, Fp16Refused, load_fp16_predictor  # noqa: E402

SILENT = dict(log=lambda _: None)

MODELS = textwrap.dedent('''
    import torch
    from torch import nn

    class Tokens(nn.Module):
        """int64 token ids (int32 in the TFLite file) and a bool padding mask."""
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(50, 8)
            self.head = nn.Linear(8, 3)

        def forward(self, ids, mask):
            kept = self.embed(ids) * mask.unsqueeze(-1).float()
            return torch.softmax(self.head(kept.sum(1) / mask.float().sum(1, keepdim=True)
                                           .clamp_min(1)), dim=1)

    class Forecaster(nn.Module):
        """An LSTM: its TFLite graph reshapes with constant sizes and cannot be resized."""
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(1, 8, batch_first=True)
            self.head = nn.Linear(8, 1)

        def forward(self, window):
            return self.head(self.lstm(window)[0][:, -1])

    class Pictures(nn.Module):
        """A CNN with a class index beside its probabilities (an int32 output in TFLite)."""
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.head = nn.Linear(4 * 4 * 4, 5)

        def forward(self, x):
            h = torch.max_pool2d(torch.relu(self.conv(x)), 2).flatten(1)
            p = torch.softmax(self.head(h), dim=1)
            return p, p.argmax(dim=1)

    def build(name):
        torch.manual_seed(0)
        return globals()[name]().eval()
''')

EXAMPLES = {
    "Tokens": (torch.randint(0, 50, (1, 12)), torch.ones(1, 12, dtype=torch.bool)),
    "Forecaster": (torch.rand(1, 6, 1),),
    "Pictures": (torch.rand(1, 1, 8, 8),),
}


@pytest.fixture(scope="module")
def tflite_files(tmp_path_factory):
    """Each model with its float32 TFLite file and parity's inputs for it."""
    folder = tmp_path_factory.mktemp("fp16_row")
    (folder / "fp16_models.py").write_text(MODELS)
    namespace: dict = {}
    exec(compile(MODELS, str(folder / "fp16_models.py"), "exec"), namespace)
    made = {}
    for name, example in EXAMPLES.items():
        model = namespace["build"](name)
        results = export_module(model, example, folder / name, formats=("tflite",), **SILENT)
        assert results[0].ok, results[0]
        schema = user_schema(model, input_specs(example))
        made[name] = (model, folder / name / "model.tflite", schema,
                      input_sets(None, [s.example() for s in input_specs(example)],
                                 n_random=300))
    return made


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_the_fp16_row_runs_every_kind_of_tflite_file(tflite_files, name):
    model, path, schema, sets = tflite_files[name]
    results = check_parity(model, {"tflite": path}, sets, schema,
                           {"tflite": ["litert", FP16_ARITHMETIC]}, **SILENT)
    float32, fp16 = results
    assert float32.passed, float32.checks
    assert fp16.error is None and fp16.not_run is None  # it ran: only the numbers judge it
    assert fp16.dimensions["batch"] == "fixed at 1 (the runner feeds rows one by one)"
    # Half precision moves these small models by fp16 rounding, within its tolerance.
    assert fp16.passed, [c.line() for c in fp16.checks]
    assert 0 < fp16.max_abs_diff < 1e-2
    record = fp16_record(parity_document(results))["fp16_arithmetic"]
    assert record["passed"] is True and "not_run" not in record


def test_the_pictures_class_index_is_read_as_integers(tflite_files):
    model, path, schema, sets = tflite_files["Pictures"]
    fp16, = check_parity(model, {"tflite": path}, sets, schema,
                         {"tflite": [FP16_ARITHMETIC]}, **SILENT)
    probabilities, index = fp16.outputs
    assert index["kind"] == "integer" and index["values"] == 300
    assert index["differ"] <= 1  # int32 read as float32 made 8340 of 10,000 "differ"


def test_a_file_the_runner_cannot_drive_is_not_run_in_one_line(tflite_files):
    """The tokens file is fixed at 12 tokens; fed 24, LiteRT's interpreter and the fp16
    runner cannot run it: the gated row says "not run", not an fp16 failure."""
    model, path, schema, _ = tflite_files["Tokens"]
    ids = np.random.default_rng(0).integers(0, 50, (40, 24))
    longer = [InputSet("24 tokens", [ids, np.ones((40, 24), bool)], batch_size=1)]
    results = check_parity(model, {"tflite": path}, longer, schema,
                           {"tflite": ["litert", FP16_ARITHMETIC]}, **SILENT)
    interpreter, fp16 = results
    assert not interpreter.passed and interpreter.not_run is None  # a verdict row fails
    assert fp16.not_run.startswith("ValueError: input serving_default_")
    assert "the file takes shape [1, 12], not [1, 24]" in fp16.not_run
    document = parity_document(results)
    record = fp16_record(document)["fp16_arithmetic"]
    assert record["passed"] is False and record["not_run"] == fp16.not_run
    assert "not run, so nothing shows" in fp16_markdown(document)
    row, = [line for line in parity_markdown(document).splitlines() if "fp16 arithmetic |" in line]
    assert row.endswith(f"| — not run: {fp16.not_run} |") and "FAIL" not in row


def test_a_multi_line_runtime_trace_is_one_line_in_the_report():
    trace = RuntimeError("Failed to allocate tensors\n└ at litert/cc/model.cc:42 | resize")
    result = refused("tflite", FP16_ARITHMETIC, trace)
    assert result.error == ("not run: RuntimeError: Failed to allocate tensors └ at "
                            "litert/cc/model.cc:42 | resize")
    table = parity_markdown(parity_document([RuntimeResult("tflite", "litert"), result]))
    row, = [line for line in table.splitlines() if "| litert, fp16 arithmetic |" in line]
    assert row.endswith("model.cc:42 \\| resize |")


def test_the_app_says_not_run_rather_than_failed(kidney_bundle, tmp_path):
    """delegates.json of a file the runner could not drive: the app keeps float32 and says
    the check could not run, not that the model failed in half precision."""
    bundle = shutil.copytree(kidney_bundle, tmp_path / "model")
    reason = "ValueError: input x: the file takes shape [1, 12], not [1, 24]"
    (bundle / DELEGATES).write_text(json.dumps({"fp16_arithmetic": {
        "passed": False, "not_run": reason, "why": f"not run: {reason}"}}))
    write_manifest(bundle, ("model.tflite", "model.onnx", "schema.json", GOLDEN, DELEGATES))
    with pytest.raises(Fp16Refused, match=r"could not run model.tflite in half precision "
                                          r"\(ValueError: input x") as refusal:
        load_fp16_predictor(open_bundle(bundle), "desktop")
    assert "failed" not in str(refusal.value)
