"""When torch.onnx's dynamo exporter cannot take a model (torch.export refuses a scripted
module, whose data-dependent branch it could not trace either), the TorchScript exporter
(dynamo=False) makes the file, the size checks and parity hold on both branches, and the file,
the export table and export.json say which exporter made it."""

from __future__ import annotations

import textwrap

import numpy as np
import onnx
import torch

from pocketml.cli import main
from pocketml.export.convert.onnx_format import EXPORTER_PROP
from pocketml.export.runtimes import load_runner
from pocketml.folder.artifacts import read_json

SCRIPTED = textwrap.dedent('''
    import torch
    from torch import nn

    class Gate(nn.Module):
        """Chooses a head by the input's own values: scripted, so the branch stays a branch."""
        def __init__(self):
            super().__init__()
            self.up = nn.Linear(4, 2)
            self.down = nn.Linear(4, 2)

        def forward(self, x):
            if bool(x.mean() > 0):
                return self.up(x)
            return self.down(x)

    def build():
        torch.manual_seed(0)
        return torch.jit.script(Gate().eval())
''')


def test_a_scripted_branching_model_is_exported_by_the_torchscript_exporter(
        write_user_module, tmp_path, capsys):
    nets = write_user_module("scripted_nets", SCRIPTED)
    out = tmp_path / "gate"
    assert main(["export", "--model", "scripted_nets:build", "--input-shape", "1,4",
                 "--formats", "onnx", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "batch dynamic; by the TorchScript exporter" in printed  # the export table
    entry = read_json(out / "export.json")["onnx"]
    assert entry["dimensions"] == "batch dynamic; by the TorchScript exporter"
    assert "the dynamo exporter cannot take the model: ValueError: Exporting a ScriptModule" \
        in entry["note"]
    props = {p.key: p.value for p in onnx.load(out / "model.onnx").metadata_props}
    assert props[EXPORTER_PROP] == "torchscript"
    runner, model = load_runner(out / "model.onnx", "onnxruntime"), nets.build()
    for sign in (1.0, -1.0):  # each branch, at a batch the file was not traced with
        x = torch.rand(5, 4) * sign
        got, = runner.run([x.numpy()])
        assert np.abs(got - model(x).detach().numpy()).max() < 1e-6
    assert read_json(out / "parity.json")["passed"]
