"""Dynamic sizes torch can keep: a range for a named dimension (--input-shape h=64@8..512),
and the range torch.export asks for where it refuses Dim(min=1) (a convolution without padding
needs a minimum size), tried before the dimension is fixed; the export says the range kept."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch

from pocketml.cli import main
from pocketml.folder.errors import UserError
from pocketml.export.convert.dim_ranges import guard_minimum, narrowed
from pocketml.export.runtimes import load_runner
from pocketml.export.convert.user_module import parse_shape
from pocketml.folder.artifacts import read_json

STRIDED = textwrap.dedent('''
    import torch
    from torch import nn

    def build():
        """Two 5x5 convolutions of stride 2, no padding: 17 pixels at least."""
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(3, 8, 5, stride=2), nn.ReLU(),
                             nn.Conv2d(8, 2, 5, stride=2)).eval()
''')


def test_a_pte_of_a_net_needing_a_minimum_size_keeps_both_dimensions(write_user_module,
                                                                    tmp_path):
    nets = write_user_module("strided_nets", STRIDED)
    out = tmp_path / "strided"
    assert main(["export", "--model", "strided_nets:build", "--input-shape",
                 "1,3,h=32@20..100,w=32", "--formats", "executorch", "--out", str(out)]) == 0
    # h: the user's range; w: torch.export's minimum (its guard (-1 + (w - 5) // 4) != 1),
    # up to ExecuTorch's 4 times the example size.
    dimensions = read_json(out / "export.json")["executorch"]["dimensions"]
    assert dimensions == "batch 1-64, h 20-100, w 17-128", dimensions
    assert "h 20-100, w 17-128" in (out / "parity.md").read_text()
    runner = load_runner(out / "model.pte", "executorch")
    model = nets.build()
    for h, w in ((24, 17), (97, 120)):
        x = torch.randn(2, 3, h, w)
        got, = runner.run([x.numpy()])
        with torch.no_grad():
            want = model(x).numpy()
        assert got.shape == want.shape and np.abs(got - want).max() < 1e-5


def test_a_named_size_takes_a_range():
    spec = parse_shape("1,3,h=64@8..512,w=64@8..")
    assert spec.shape == (1, 3, 64, 64) and spec.dynamic == {2: "h", 3: "w"}
    assert spec.size_ranges == {"h": (8, 512), "w": (8, None)}
    assert spec.schema("x")["sizes"] == {"h": [8, 512], "w": [8, None]}


@pytest.mark.parametrize("text", ["1,3,h=64@80..512", "1,3,64@8..512", "1,3,h=64@8-512",
                                  "1,3,h=64@0..512"])
def test_a_bad_size_range_is_refused_with_the_syntax(text):
    with pytest.raises(UserError, match="NAME=SIZE@MIN..MAX"):
        parse_shape(text)


def test_torch_exports_suggestion_and_guards_narrow_the_range():
    refusal = ("Constraints violated (n)!\n  - Not all values of n = L['x'].size()[1] in the "
               "specified range n <= 256 satisfy the generated guard 8 <= L['x'].size()[1].\n"
               "Suggested fixes:\n  n = Dim('n', min=8, max=128)\n")
    assert narrowed([refusal], {"n": (1, 256)}) == {"n": (8, 128)}
    guard = ("Constraints violated (n)!\n  - Not all values of n = L['x'].size()[1] in the "
             "specified range 8 <= n <= 128 satisfy the generated guard "
             "((-7) + L['x'].size()[1]) != 1.\n")
    assert narrowed([guard], {"n": (8, 128)}) == {"n": (9, 128)}
    assert narrowed([guard], {"n": (9, 128)}) is None  # nothing new: the plan gives up
    assert guard_minimum("(-3 + L['x'].size()[2]) // 4 != 1", "L['x'].size()[2]", (1, 64)) == 11
