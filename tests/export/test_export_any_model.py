"""Models nobody on this project wrote: a GRU that builds its own state from the batch (the
regression: its ExecuTorch file failed at every batch but the traced one), forward()
signatures written `*args` or with keyword-only defaults, and a failure that names its real
cause. The slow sweep over the ecosystem's architectures is tests/export/test_export_ecosystem.py."""

from __future__ import annotations

import logging
import textwrap

import onnx
import torch
from torch import nn

from pocketml.cli import main
from pocketml.export.api import export_module, verify_module
from pocketml.export.formats import DEFAULT_FORMATS
from pocketml.folder.artifacts import read_json

SILENT = dict(log=lambda _: None)

MODELS = textwrap.dedent('''
    import torch
    from torch import nn

    class Recurrent(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(3, 4, batch_first=True, bidirectional=True)
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            out, _ = self.gru(x)  # no h0: the GRU makes its state from x's batch
            return self.head(out[:, -1])

    def gru():
        torch.manual_seed(0)
        return Recurrent().eval()

    class Histogram(nn.Module):
        def forward(self, x):
            return torch.histc(x, bins=4)

    def histogram():
        return Histogram()
''')


class Wrapper(nn.Module):
    """The common way to wrap a model: forward(*args)."""
    def __init__(self):
        super().__init__()
        self.mix = nn.Linear(3, 2)

    def forward(self, *args):
        return self.mix(args[0]) * args[1]


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 1)

    def forward(self, x, *, scale: float = 2.0, bias=None):
        return self.lin(x) * scale if bias is None else self.lin(x) + bias


def test_a_default_export_of_a_gru_without_h0_passes_with_the_pte_batch_fixed(
        write_user_module, tmp_path):
    write_user_module("any_nets", MODELS)
    out = tmp_path / "gru"
    assert main(["export", "--model", "any_nets:gru", "--input-shape", "1,4,3", "--out",
                 str(out)]) == 0
    exports = read_json(out / "export.json")
    assert set(exports) == set(DEFAULT_FORMATS) and not any(e["error"] for e in exports.values())
    kept = exports["executorch"]["dimensions"]
    assert kept.startswith("batch fixed at 1 (batch 1-64 fails at run time at batch 1: "
                           "RuntimeError"), kept
    assert exports["onnx"]["dimensions"] == "batch dynamic"
    parity = read_json(out / "parity.json")
    assert parity["passed"] is True
    pte = parity["formats"]["executorch"]
    assert pte["exported_dimensions"] == kept
    assert pte["runtimes"]["executorch"]["dimensions"]["batch"].startswith("fixed at 1")
    assert "batch fixed at 1 (batch 1-64 fails at run time" in (out / "parity.md").read_text()


def test_star_args_and_keyword_only_defaults_export_with_their_names(tmp_path):
    example, wrapper = (torch.randn(2, 3), torch.rand(2, 1)), Wrapper().eval()
    results = export_module(wrapper, example, tmp_path / "args", formats=("onnx",),
                            **SILENT)
    assert results[0].ok, results[0].error
    graph = onnx.load(str(tmp_path / "args" / "model.onnx")).graph
    assert [i.name for i in graph.input] == ["args_0", "args_1"]
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param  # the batch stays dynamic
    assert verify_module(wrapper, example, tmp_path / "args", formats=("onnx",),
                         **SILENT)["passed"] is True

    scaled = Scaled().eval()
    results = export_module(scaled, (torch.randn(2, 3),), tmp_path / "kw", formats=("onnx",),
                            **SILENT)
    assert results[0].ok, results[0].error
    assert verify_module(scaled, (torch.randn(2, 3),), tmp_path / "kw", formats=("onnx",),
                         **SILENT)["passed"] is True


def test_an_onnx_failure_names_its_real_cause_and_debug_shows_the_whole_text(
        write_user_module, tmp_path, caplog):
    write_user_module("any_nets", MODELS)
    out = tmp_path / "histogram"
    with caplog.at_level(logging.DEBUG, logger="pocketml"):
        assert main(["--debug", "export", "--model", "any_nets:histogram", "--input-shape",
                     "1,8", "--out", str(out), "--formats", "onnx"]) == 1
    error = read_json(out / "export.json")["onnx"]["error"]
    assert error.startswith("ONNX, float32 cannot represent operation "
                            "torch.ops.aten.histc.default: NotImplementedError: aten_histc")
    assert "Next steps" not in error and len(error.splitlines()) == 1
    assert "## Exception summary" in caplog.text and "Next steps" in caplog.text
