"""weight_norm and spectral_norm (both APIs) are folded into plain weights before export, on a
copy: the files hold the weight as a constant (no pow/div/sum computing it at each call: the
.pte, unfolded, had 4 XNNPACK subgraphs with pow and sum left outside on the portable
kernels; torch.onnx's optimizer folded them itself), every file passes parity against the
parametrized original, and the export log says so."""

from __future__ import annotations

import onnx
import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from pocketml.export.api import export_module, verify_module
from pocketml.export.runtimes import load_runner

# What computing a weight norm or a spectral norm in the graph would add.
NORM_OPS = {"Pow", "Div", "Sqrt", "ReduceL2", "ReduceSum", "ReduceSumSquare", "Reciprocal"}


class Normed(nn.Module):
    """A temporal conv net's usual weight_norm convolution, and spectral-normed heads."""
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = weight_norm(nn.Conv1d(2, 8, 3))
        self.hidden = spectral_norm(nn.Linear(8 * 6, 16))
        self.head = nn.utils.weight_norm(nn.Linear(16, 3))  # the older, hook-based API

    def forward(self, x):
        return self.head(torch.relu(self.hidden(torch.relu(self.conv(x)).flatten(1))))


def test_parametrized_weights_are_folded_and_the_files_pass_parity(tmp_path):
    model = Normed().eval()
    example = (torch.randn(2, 2, 8),)
    log: list[str] = []
    results = export_module(model, example, tmp_path, formats=("onnx", "executorch"),
                            log=log.append)
    assert all(r.ok for r in results), [r.error for r in results]
    assert any("folded into plain weights" in line and "weight_norm of conv.weight" in line
               and "spectral_norm of hidden.weight" in line and "weight_norm of head.weight"
               in line for line in log), log
    ops = {node.op_type for node in onnx.load(tmp_path / "model.onnx").graph.node}
    assert not ops & NORM_OPS, ops
    lowering = load_runner(tmp_path / "model.pte", "executorch").lowering
    lowered_ops = {**lowering["delegated"], **lowering["not_delegated"]}
    assert not any(op.startswith(("aten_pow", "aten_div", "aten_sum")) for op in lowered_ops), \
        lowering
    assert parametrize.is_parametrized(model.conv)  # the user's module is left as it was
    report = verify_module(model, example, tmp_path, formats=("onnx", "executorch"),
                           log=lambda _: None)
    assert report["passed"], report
