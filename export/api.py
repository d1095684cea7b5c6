"""Export any torch.nn.Module and prove its parity, in two calls:

    results = export_module(model, (torch.randn(1, 5, 1),), "out/")
    report = verify_module(model, (torch.randn(1, 5, 1),), "out/")
    assert report["passed"]

Inputs of any supported dtype (float32, int32, int64, bool) come as example tensors of that
dtype. Random parity inputs are drawn across `input_ranges` (one (low, high) or None per
input); without one, floats are standard normal and integers span the example's own values.
`dynamic_dims` (one {axis: name} per input) declares dimensions besides the batch dynamic.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from pocketml.export.convert.exporter import ExportResult, export_formats
from pocketml.export.formats import DEFAULT_FORMATS, FORMATS
from pocketml.export.convert.job import ExportJob, InputSpec
from pocketml.export.verify.input_sets import InputSet, input_sets, random_budget
from pocketml.export.verify.parity import check_parity, parity_document
from pocketml.export.runtimes import runtime_plan
from pocketml.export.convert.user_module import user_schema


def export_module(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], out_dir,
                  formats=DEFAULT_FORMATS, input_names=None, output_names=None,
                  input_ranges=None, dynamic_dims=None, log=print) -> list[ExportResult]:
    schema = user_schema(module, input_specs(example_inputs, input_ranges, dynamic_dims))
    job = ExportJob(module, tuple(example_inputs), list(input_names or []),
                    list(output_names or []), schema)
    return export_formats(job, Path(out_dir), formats, log)


def verify_module(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], out_dir,
                  formats=DEFAULT_FORMATS, inputs: list | None = None, n_random: int | None = None,
                  input_ranges=None, dynamic_dims=None, log=print) -> dict:
    """Parity of every exported file in `out_dir` against `module`, in every runtime here.

    `inputs`: extra input batches (lists of arrays, one per model input) to check besides the
    random ones. `n_random`: how many random inputs; None sizes the set by a budget of memory
    and PyTorch time (input_sets.random_budget). Returns the parity document (see parity.json).
    """
    specs = input_specs(example_inputs, input_ranges, dynamic_dims)
    files = {f: Path(out_dir) / FORMATS[f].filename for f in formats}
    files = {f: (p if p.is_file() else None) for f, p in files.items()}
    examples = [s.example() for s in specs]
    sets = input_sets(user_schema(module, specs), examples,
                      n_random=random_budget(module.eval(), examples)
                      if n_random is None else n_random)
    sets += [InputSet(f"given inputs {i}", list(batch)) for i, batch in enumerate(inputs or [])]
    runtimes, not_run = runtime_plan({f: p for f, p in files.items() if p is not None})
    return parity_document(check_parity(module, files, sets, user_schema(module, specs),
                                        runtimes, log), not_run, sets)


def input_specs(example_inputs, input_ranges=None, dynamic_dims=None) -> list[InputSpec]:
    count = len(example_inputs)
    return [InputSpec.of(t, r, d) for t, r, d in zip(example_inputs, input_ranges or [None] * count,
                                                     dynamic_dims or [None] * count)]
