"""Users' own models: the two-call Python API and `pocketml export --model`, on a model that
is not the project's own (two inputs, two outputs, convolution, batch norm, an LSTM), and a
clear failure for an operation a format cannot represent."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from pocketml.cli import main
from pocketml.export.api import export_module, verify_module
from pocketml.folder.artifacts import read_json

SILENT = dict(log=lambda _: None)

USER_MODULE = textwrap.dedent('''
    import torch
    from torch import nn

    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(1, 4, 3, padding=1)
            self.norm = nn.BatchNorm1d(4)
            self.lstm = nn.LSTM(4, 8, batch_first=True)
            self.head = nn.Linear(8 + 3, 2)
            self.aux = nn.Linear(3, 1)

        def forward(self, sequence, extra):
            h = torch.relu(self.norm(self.conv(sequence.transpose(1, 2)))).transpose(1, 2)
            _, (last, _) = self.lstm(h)
            probabilities = torch.softmax(self.head(torch.cat([last[-1], extra], dim=1)), dim=1)
            return probabilities, self.aux(extra)

    def build():
        torch.manual_seed(0)
        model = TwoHeads()
        model.norm.running_mean.uniform_(-0.5, 0.5)  # non-trivial normalisation statistics
        model.norm.running_var.uniform_(0.5, 2.0)
        return model.eval()

    class Histogram(nn.Module):
        def forward(self, x):
            return torch.stack([torch.histc(row, bins=4) for row in x])

    def histogram():
        return Histogram().eval()
''')


@pytest.fixture
def user_code(write_user_module):
    return write_user_module("my_nets", USER_MODULE)


def test_python_api_exports_and_verifies_a_users_model_in_two_calls(user_code, tmp_path):
    model = user_code.build()
    example = (torch.randn(1, 5, 1), torch.randn(1, 3))
    results = export_module(model, example, tmp_path / "out", **SILENT)
    assert [r.format for r in results if r.ok] == ["onnx", "tflite", "tflite_fp16", "tflite_int8",
                                                    "executorch"]
    report = verify_module(model, example, tmp_path / "out", **SILENT)
    assert report["passed"], report
    for fmt in ("onnx", "tflite", "executorch"):
        assert report["formats"][fmt]["max_abs_diff"] <= 1e-5, fmt
    assert set(report["formats"]["tflite"]["runtimes"]) == {"litert", "tensorflow"}
    assert set(report["formats"]["executorch"]["runtimes"]) == {"executorch"}


def test_verify_module_fails_a_file_that_computes_something_else(user_code, tmp_path):
    model = user_code.build()
    example = (torch.randn(1, 5, 1), torch.randn(1, 3))
    export_module(model, example, tmp_path / "out", formats=("onnx",), **SILENT)
    with torch.no_grad():
        model.aux.bias.add_(1e-3)  # the PyTorch model moves on; the file does not
    report = verify_module(model, example, tmp_path / "out", formats=("onnx",), **SILENT)
    assert report["passed"] is False
    assert report["formats"]["onnx"]["max_abs_diff"] == pytest.approx(1e-3, rel=1e-2)


def test_cli_exports_a_users_module_and_verify_reloads_it(user_code, tmp_path):
    out = tmp_path / "two_heads"
    assert main(["export", "--model", "my_nets:build", "--input-shape", "1,5,1",
                 "--input-shape", "1,3", "--out", str(out), "--formats", "onnx,tflite"]) == 0
    parity = read_json(out / "parity.json")
    assert parity["passed"] and set(parity["formats"]) == {"onnx", "tflite"}
    assert read_json(out / "source.json") == {"model": "my_nets:build",
                                              "inputs": ["1,5,1", "1,3"]}
    assert main(["verify", str(out), "--trust-source"]) == 0  # it imports my_nets again


def test_an_unsupported_operation_is_named_with_its_format_and_fails_verify(user_code, tmp_path,
                                                                           capsys):
    out = tmp_path / "histogram"
    code = main(["export", "--model", "my_nets:histogram", "--input-shape", "1,8",
                 "--out", str(out), "--formats", "onnx,tflite,executorch"])
    assert code == 1
    exports = read_json(out / "export.json")
    assert "ONNX" in exports["onnx"]["error"] and "histc" in exports["onnx"]["error"]
    assert "TFLite" in exports["tflite"]["error"] and "histc" in exports["tflite"]["error"]
    assert "ExecuTorch" in exports["executorch"]["error"]
    assert "operation torch._ops.aten.histc.default" in exports["executorch"]["error"]
    assert not any((out / name).exists() for name in ("model.onnx", "model.tflite", "model.pte"))
    parity = read_json(out / "parity.json")
    assert parity["passed"] is False
    assert all(not f["passed"] for f in parity["formats"].values())
    assert "FAIL onnx" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["export", "--model", "no_colon", "--input-shape", "1,3", "--out", "x"], "MODULE:CALLABLE"),
    (["export", "--model", "my_nets:build", "--input-shape", "1,a", "--out", "x"], "--input-shape"),
    (["export", "--model", "my_nets:missing", "--input-shape", "1,3", "--out", "x"], "cannot import"),
    (["export", "--formats", "onnx,pdf", "somewhere"], "unknown format pdf"),
    (["export", "somewhere"], "no such model folder"),
    (["verify", "no/such/folder"], "no such model folder"),
    (["export", "--model", "my_nets:build"], "--input-shape"),
])
def test_bad_arguments_exit_2_with_a_message(user_code, argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_unknown_format_is_refused_before_anything_is_written(kidney_copy, capsys):
    before = sorted(p.name for p in kidney_copy.iterdir())
    assert main(["export", str(kidney_copy), "--formats", "onnx,pdf"]) == 2
    assert "unknown format pdf" in capsys.readouterr().err
    assert sorted(p.name for p in kidney_copy.iterdir()) == before


def test_console_script_runs_export_verify_bundle_and_bench(kidney_copy, tmp_path):
    def pocketml(*args):
        return subprocess.run([sys.executable, "-m", "pocketml.cli", *map(str, args)],
                              capture_output=True, text=True, timeout=300)

    verify = pocketml("verify", kidney_copy)
    assert verify.returncode == 0, verify.stderr
    assert "parity: PASSED" in verify.stdout and "✓ max abs diff" in verify.stdout
    bundle = pocketml("bundle", kidney_copy, "--to", tmp_path / "app_model")
    assert bundle.returncode == 0 and (tmp_path / "app_model" / "model.tflite").is_file()
    bench = pocketml("bench", kidney_copy, "--repeats", "200")
    assert bench.returncode == 0, bench.stderr
    rows = read_json(kidney_copy / "bench.json")["rows"]
    assert {(r["format"], r["runtime"]) for r in rows} >= {
        ("pytorch", "eager"), ("onnx", "onnxruntime"), ("tflite", "litert"),
        ("tflite", "tensorflow"), ("tflite_int8", "litert"), ("executorch", "executorch"),
        ("one-op floor", "onnxruntime (onnx)"), ("one-op floor", "litert (tflite)"),
        ("one-op floor", "executorch (executorch)")}
    for r in rows:
        for timing in ("", "bare_"):  # pocketml's runner, and the runtime's own loop
            assert r[f"{timing}batch1_p50_us"] > 0, r
            assert r[f"{timing}batch64_p99_us"] >= r[f"{timing}batch64_p50_us"], r
    assert "| tflite | litert |" in (kidney_copy / "bench.md").read_text()
    # bench and verify rewrite only reports, so the manifest still holds
    assert pocketml("verify", kidney_copy).returncode == 0
