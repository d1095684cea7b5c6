"""Per-column ranges for integer inputs: a tabular model whose three categorical columns have
vocabularies of 5, 12 and 7 is declared `1,3:int64:0,4/0,11/0,6`, and parity draws each column
from its own vocabulary (a single range would test ids 0-4 only, or index past an
embedding)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from pocketml.cli import main
from pocketml.folder.errors import UserError
from pocketml.export.verify.input_sets import input_sets
from pocketml.export.convert.user_module import parse_shape, user_schema
from pocketml.folder.artifacts import read_json

TABULAR = textwrap.dedent('''
    import torch
    from torch import nn

    class Categorical(nn.Module):
        """One embedding per column: an id past a column's vocabulary raises IndexError."""
        def __init__(self, vocabularies=(5, 12, 7)):
            super().__init__()
            self.embeds = nn.ModuleList(nn.Embedding(v, 4) for v in vocabularies)
            self.head = nn.Linear(4 * len(vocabularies), 2)

        def forward(self, ids):
            return self.head(torch.cat([e(ids[:, i]) for i, e in enumerate(self.embeds)], 1))

    def build():
        torch.manual_seed(0)
        return Categorical().eval()
''')
SHAPE = "1,3:int64:0,4/0,11/0,6"


def test_each_column_is_drawn_from_its_own_vocabulary(write_user_module):
    nets = write_user_module("tabular_nets", TABULAR)
    spec = parse_shape(SHAPE)
    assert spec.column_ranges == ((0, 4), (0, 11), (0, 6)) and spec.range == (0, 11)
    schema = user_schema(nets.build(), [spec])
    drawn, = input_sets(schema, [spec.example()], n_random=2000)[0].inputs
    assert drawn.dtype == np.int64
    assert drawn.min(axis=0).tolist() == [0, 0, 0]
    assert drawn.max(axis=0).tolist() == [4, 11, 6]


def test_a_tabular_model_exports_and_passes_parity_with_column_ranges(write_user_module,
                                                                      tmp_path):
    write_user_module("tabular_nets", TABULAR)
    out = tmp_path / "tabular"
    assert main(["export", "--model", "tabular_nets:build", "--input-shape", SHAPE,
                 "--formats", "onnx,executorch", "--out", str(out)]) == 0
    assert read_json(out / "parity.json")["passed"]
    assert main(["verify", str(out), "--trust-source"]) == 0


@pytest.mark.parametrize("text", ["1,3:int64:0,4/0,11", "1,3:int64:0,4/0,11/6,0"])
def test_column_ranges_must_fit_the_columns(text):
    with pytest.raises(UserError, match="LOW,HIGH"):
        parse_shape(text)


def test_the_python_api_takes_a_range_per_column():
    import torch

    from pocketml.export.api import input_specs

    spec, = input_specs((torch.zeros(2, 3, dtype=torch.int64),), [[(0, 4), (0, 11), (0, 6)]])
    assert spec.column_ranges == ((0, 4), (0, 11), (0, 6))
    assert spec.example()[:, 1].tolist() == [0, 11]
