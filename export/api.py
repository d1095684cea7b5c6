"""Export any torch.nn.Module and prove its parity, in two calls:

    results = export_module(model, (torch.randn(1, 5, 1),), "out/")
    report = verify_module(model, (torch.randn(1, 5, 1),), "out/")
    assert report["passed"]
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from pocketml.export.exporter import ExportResult, export_formats
from pocketml.export.formats import DEFAULT_FORMATS, FORMATS
from pocketml.export.job import ExportJob
from pocketml.export.parity import InputSet, check_parity, input_sets, parity_document
from pocketml.export.runtimes import runtime_plan


def export_module(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], out_dir,
                  formats=DEFAULT_FORMATS, input_names=None, output_names=None,
                  log=print) -> list[ExportResult]:
    job = ExportJob(module, tuple(example_inputs), list(input_names or []),
                    list(output_names or []))
    return export_formats(job, Path(out_dir), formats, log)


def verify_module(module: nn.Module, example_inputs: tuple[torch.Tensor, ...], out_dir,
                  formats=DEFAULT_FORMATS, inputs: list | None = None, n_random: int = 1000,
                  log=print) -> dict:
    """Parity of every exported file in `out_dir` against `module`, in every runtime here.

    `inputs`: extra input batches (lists of arrays, one per model input) to check besides the
    random ones. Returns the parity document (see parity.json).
    """
    files = {f: Path(out_dir) / FORMATS[f].filename for f in formats}
    files = {f: (p if p.is_file() else None) for f, p in files.items()}
    sets = input_sets(None, example_inputs, n_random=n_random)
    sets += [InputSet(f"given inputs {i}", list(batch)) for i, batch in enumerate(inputs or [])]
    runtimes, not_run = runtime_plan({f: p for f, p in files.items() if p is not None})
    return parity_document(check_parity(module, files, sets, None, runtimes, log), not_run)
