"""Users' own models with inputs that are not float32: token ids (int64, int32) and a bool
mask, declared with --input-shape SHAPE[:DTYPE[:LOW,HIGH]] or given as example tensors; which
dimensions each format really keeps dynamic; and user modules that are broken, which get one
message and exit 2 through the real console script, with no traceback unless --debug."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest
import torch

from pocketml.cli import main
from pocketml.export.api import export_module, verify_module
from pocketml.export.convert.job import random_like
from pocketml.export.runtimes import load_runner
from pocketml.export.convert.user_module import parse_shape
from pocketml.folder.artifacts import read_json

SILENT = dict(log=lambda _: None)

TEXT_MODELS = textwrap.dedent('''
    import torch
    from torch import nn

    class BagOfWords(nn.Module):
        """A text classifier: token ids -> embeddings -> mean -> class probabilities."""
        def __init__(self, vocabulary=100, width=8, classes=3):
            super().__init__()
            self.embed = nn.Embedding(vocabulary, width)
            self.head = nn.Linear(width, classes)

        def forward(self, ids):
            return torch.softmax(self.head(self.embed(ids).mean(dim=1)), dim=1)

    def classifier():
        torch.manual_seed(0)
        return BagOfWords().eval()

    class MaskedMean(nn.Module):
        """Token ids with a padding mask: the mean of the unmasked embeddings -> a score."""
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(50, 4)
            self.head = nn.Linear(4, 1)

        def forward(self, ids, mask):
            kept = self.embed(ids) * mask.unsqueeze(-1).float()
            return self.head(kept.sum(1) / mask.float().sum(1, keepdim=True).clamp_min(1))

    def masked():
        torch.manual_seed(0)
        return MaskedMean().eval()

    class Forecaster(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(1, 8, batch_first=True)
            self.head = nn.Linear(8, 1)

        def forward(self, window):
            out, _ = self.lstm(window)
            return self.head(out[:, -1])

    def forecaster():
        torch.manual_seed(0)
        return Forecaster().eval()
''')


@pytest.fixture
def user_code(write_user_module):
    return write_user_module("text_nets", TEXT_MODELS)


def test_input_shape_declares_dtype_range_and_dynamic_dimensions():
    spec = parse_shape("1,seq=12:int64:0,99")
    assert (spec.shape, spec.dtype, spec.range, spec.dynamic) == ((1, 12), "int64", (0, 99),
                                                                   {1: "seq"})
    draws = random_like(spec.example(), 5000, np.random.default_rng(0))
    assert draws.dtype == np.int64 and draws.shape == (5000, 12)
    assert draws.min() == 0 and draws.max() == 99  # the whole declared range, nothing past it
    floats = random_like(parse_shape("1,3:float32:-2,0.5").example(), 5000,
                         np.random.default_rng(0))
    assert floats.dtype == np.float32 and -2 <= floats.min() < -1.9 and 0.4 < floats.max() <= 0.5
    mask = random_like(parse_shape("1,4:bool").example(), 100, np.random.default_rng(0))
    assert mask.dtype == np.bool_ and mask.any() and not mask.all()
    assert parse_shape("1,5,1").dtype == "float32"


def test_cli_exports_and_verifies_a_text_classifier_on_int64_token_ids(user_code, tmp_path):
    out = tmp_path / "text"
    assert main(["export", "--model", "text_nets:classifier", "--input-shape",
                 "1,seq=12:int64:0,99", "--out", str(out)]) == 0
    assert read_json(out / "source.json") == {"model": "text_nets:classifier",
                                              "inputs": ["1,seq=12:int64:0,99"]}
    parity = read_json(out / "parity.json")
    assert parity["passed"] is True
    assert set(parity["formats"]) == {"onnx", "tflite", "tflite_fp16", "tflite_int8",
                                      "executorch"}
    # The files take integer ids: int64 as PyTorch does, int32 in TFLite (litert-torch narrows
    # them); the runners feed each file its own dtype.
    graph_input, = onnx.load(str(out / "model.onnx")).graph.input
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert load_runner(out / "model.tflite", "litert").inputs[0]["dtype"] == np.int32
    assert load_runner(out / "model.pte", "executorch").dtypes == [np.int64]
    # Which dimensions each file really keeps dynamic, checked against PyTorch.
    dims = {fmt: entry["runtimes"][entry["runtime"]]["dimensions"]
            for fmt, entry in parity["formats"].items()}
    assert dims["onnx"] == {"batch": "dynamic", "seq": "dynamic (ran 24)"}
    assert dims["executorch"] == {"batch": "dynamic up to 64", "seq": "dynamic (ran 24)"}
    assert dims["tflite"]["seq"].startswith("fixed: 24 refused")  # litert-torch fixes it at 12
    lowering = parity["formats"]["executorch"]["runtimes"]["executorch"]["lowering"]
    assert "aten_embedding_default" in lowering["not_delegated"]  # named, run by portable kernels
    assert "| batch dynamic; seq dynamic (ran 24) |" in (out / "parity.md").read_text()
    assert main(["verify", str(out), "--trust-source"]) == 0  # it imports the module again


def test_python_api_takes_int32_ids_and_a_bool_mask_as_example_tensors(user_code, tmp_path):
    model = user_code.masked()
    ids = torch.randint(0, 50, (1, 12), dtype=torch.int32)
    ids[0, 0], ids[0, 1] = 0, 49  # the example spans the valid ids: random ids are drawn across it
    example = (ids, torch.tensor([[True] * 9 + [False] * 3]))
    seq = [{1: "seq"}, {1: "seq"}]  # ids and mask share their length
    formats = ("onnx", "tflite", "executorch")
    results = export_module(model, example, tmp_path / "out", formats, dynamic_dims=seq, **SILENT)
    assert all(r.ok for r in results), [r.error for r in results]
    report = verify_module(model, example, tmp_path / "out", formats, dynamic_dims=seq, **SILENT)
    assert report["passed"], report
    inputs = onnx.load(str(tmp_path / "out" / "model.onnx")).graph.input
    assert [i.type.tensor_type.elem_type for i in inputs] == [onnx.TensorProto.INT32,
                                                              onnx.TensorProto.BOOL]
    executorch = report["formats"]["executorch"]["runtimes"]["executorch"]
    assert executorch["dimensions"]["seq"] == "dynamic (ran 24)"


def test_a_declared_dimension_that_cannot_stay_dynamic_is_exported_fixed_and_says_so(user_code,
                                                                                    tmp_path):
    """An LSTM unrolls its time steps, so no exporter keeps the length dynamic: the steps are
    exported fixed, and both reports say so. ExecuTorch's runtime takes a longer window for
    a fixed one without a word and computes something else; the runner refuses it."""
    out = tmp_path / "forecaster"
    assert main(["export", "--model", "text_nets:forecaster", "--input-shape",
                 "1,steps=5,1:float32:0,1", "--out", str(out),
                 "--formats", "tflite,executorch"]) == 0
    exported = read_json(out / "export.json")["executorch"]["dimensions"]
    assert exported.startswith("batch 1-64, steps fixed at 5 (batch 1-64, steps 1-20 does not "
                               "export (UserError: Constraints violated (steps)!")
    parity = read_json(out / "parity.json")["formats"]
    assert parity["executorch"]["exported_dimensions"] == exported
    executorch = parity["executorch"]["runtimes"]["executorch"]
    assert executorch["passed"] and executorch["dimensions"]["batch"] == "dynamic up to 64"
    assert executorch["dimensions"]["steps"].startswith("fixed: 10 refused")
    tflite = parity["tflite"]["runtimes"]["litert"]
    assert tflite["passed"] and tflite["dimensions"]["steps"].startswith("fixed: 10 refused")
    assert "steps fixed at 5 (batch 1-64" in (out / "parity.md").read_text()


BROKEN = textwrap.dedent('''
    import torch
    from torch import nn

    class Tokens(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 4)

        def forward(self, ids):
            return self.embed(ids).sum(1)

    def tokens():
        return Tokens().eval()

    def needs_weights():
        raise FileNotFoundError("weights.pt")

    def not_a_model():
        return "model"

    class Named(nn.Module):
        def forward(self, x):
            return {"y": x}

    def named():
        return Named()

    class Pair(nn.Module):
        def forward(self, a, b):
            return a + b

    def pair():
        return Pair()
''')


def write_broken_modules(folder) -> None:
    (folder / "broken_nets.py").write_text(BROKEN)
    (folder / "syntax_error.py").write_text("import torch\ndef build(:\n")
    (folder / "missing_dependency.py").write_text("import no_such_package\n")


def pocketml_in(folder, *args):
    return subprocess.run([sys.executable, "-m", "pocketml.cli", *args], cwd=folder,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("argv, message", [
    (["--model", "broken_nets:tokens", "--input-shape", "1,5"],
     ["Tokens(float32[2, 5]) raised RuntimeError", "wrong dtype", "1,12:int64:0,99"]),
    (["--model", "broken_nets:tokens", "--input-shape", "1,5:int64:0,20"],
     ["Tokens(int64[2, 5]) raised IndexError", "lower HIGH"]),
    (["--model", "broken_nets:needs_weights", "--input-shape", "1,5"],
     ["calling needs_weights() raised FileNotFoundError: weights.pt", "no arguments"]),
    (["--model", "broken_nets:not_a_model", "--input-shape", "1,5"],
     ["returned str, not a torch.nn.Module"]),
    (["--model", "broken_nets:named", "--input-shape", "1,5"],
     ["Named(float32[2, 5]) returned dict", "a tensor or a tuple of tensors"]),
    (["--model", "broken_nets:pair", "--input-shape", "1,5"],
     ["Pair(float32[2, 5]) raised TypeError", "forward() takes 2 input(s) (a, b)"]),
    (["--model", "syntax_error:build", "--input-shape", "1,5"],
     ["importing syntax_error raised SyntaxError", "syntax_error.py, line 2"]),
    (["--model", "missing_dependency:build", "--input-shape", "1,5"],
     ["importing missing_dependency raised ModuleNotFoundError", "Install no_such_package"]),
    (["--model", "broken_nets:tokens", "--input-shape", "1,5:int64"],
     ["integer inputs need the range"]),
    (["--model", "broken_nets:tokens", "--input-shape", "1,5:int8:0,3"],
     ["unknown dtype 'int8'"]),
    (["--model", "broken_nets:tokens", "--input-shape", "batch=1,5:int64:0,9"],
     ["the batch (the first size) is always dynamic"]),
])
def test_a_broken_user_module_exits_2_with_one_message_and_writes_nothing(tmp_path, argv,
                                                                          message):
    write_broken_modules(tmp_path)
    run = pocketml_in(tmp_path, "export", *argv, "--out", "out")
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("pocketml: error: ") and run.stderr.count("\n") == 1
    assert "Traceback" not in run.stderr
    for part in message:
        assert part in run.stderr
    assert not (tmp_path / "out").exists()  # no source.json, no folder


def test_debug_shows_the_traceback_from_inside_the_users_module(tmp_path):
    write_broken_modules(tmp_path)
    run = pocketml_in(tmp_path, "--debug", "export", "--model", "broken_nets:needs_weights",
                      "--input-shape", "1,5", "--out", "out")
    assert run.returncode == 2
    assert "Traceback (most recent call last)" in run.stderr
    assert 'broken_nets.py", line' in run.stderr and "in needs_weights" in run.stderr
    assert run.stderr.rstrip().splitlines()[-1].startswith("pocketml: error: --model")
    assert not (tmp_path / "out").exists()
