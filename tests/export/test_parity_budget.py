"""Parity stays affordable as inputs grow: the random set is sized by the bytes of one input
(with its outputs) and PyTorch's time, the report says so, and runtimes' outputs are compared
chunk by chunk without losing where the worst difference is."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pocketml.export.formats import FORMATS
from pocketml.export.verify.input_sets import (MAX_RANDOM_ROWS, RANDOM_BYTES, InputSet, input_sets,
                                        random_budget)
from pocketml.export.verify.parity import compare, parity_document, parity_markdown
from pocketml.folder.reference import run_batches


class Images(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=4)

    def forward(self, x):
        return self.conv(x).mean(dim=(2, 3))


def test_a_small_row_keeps_the_full_random_set():
    budget = random_budget(nn.Linear(10, 1).eval(), (torch.zeros(2, 10),))
    assert budget.rows == MAX_RANDOM_ROWS
    assert budget.describe().startswith(f"{MAX_RANDOM_ROWS} random inputs, chosen for a budget "
                                        "of 64 MB and 10 s of PyTorch")


def test_a_big_image_gets_as_many_random_inputs_as_fit_the_memory_budget():
    example = (torch.zeros(2, 3, 224, 224),)
    budget = random_budget(Images().eval(), example)
    row_bytes = 3 * 224 * 224 * 4 + 4 * 4  # one image and its 4 outputs
    assert budget.rows == RANDOM_BYTES // row_bytes  # 111: the time budget allows more
    random_set, = input_sets(None, example, n_random=budget)
    assert random_set.inputs[0].shape == (budget.rows, 3, 224, 224)
    assert random_set.note == budget.describe()


def test_a_slow_model_gets_as_many_as_fit_the_time_budget():
    class Slow(nn.Module):
        def forward(self, x):
            import time
            time.sleep(0.01 * len(x))  # 10 ms an input
            return x

    budget = random_budget(Slow(), (torch.zeros(2, 4),), budget_seconds=1.0)
    assert 32 <= budget.rows <= 100


def test_chunked_comparison_finds_the_worst_row_and_the_report_names_the_budget():
    x = np.random.default_rng(0).standard_normal((300, 3)).astype(np.float32)
    random_set = InputSet("300 random", [x], note="300 random inputs, chosen for a budget of ...")
    reference = {random_set.name: [x.copy()]}

    def off_at_row_201(inputs):  # a runtime that gets one row of 300 wrong, in the 4th chunk
        out = inputs[0].copy()
        out[(inputs[0] == x[201]).all(axis=1)] += 0.5
        return [out]

    assert np.array_equal(run_batches(off_at_row_201, [x], 64)[0][200], x[200])
    result = compare("onnx", "onnxruntime", off_at_row_201, [random_set], reference, None,
                     FORMATS["onnx"].tolerance)
    assert result.max_abs_diff == 0.5 and not result.passed
    assert "300 random, output 0, row 201" in result.checks[0].where
    document = parity_document([result], sets=[random_set])
    assert document["inputs"] == [{"name": "300 random", "rows": 300, "batch_size": 64,
                                   "note": random_set.note}]
    assert "300 random inputs, chosen for a budget of ..." in parity_markdown(document)
