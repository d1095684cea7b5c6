"""PyTorch -> ExecuTorch .pte, lowered to the XNNPACK delegate: float32, and int8 weights and
activations through the PT2E XNNPACK quantizer, calibrated on training rows.

The batch is dynamic up to MAX_BATCH, and declared dimensions up to MAX_SCALE times their
example size, wherever the file really runs them (shape_plans: a graph that specialises the
batch, or a file that fails at run time at other batches, is exported at batch 1 and run row
by row). Each file records
how it was lowered in a constant method, the way ExecuTorch's own LLM exports record their
settings: how many nodes XNNPACK took and which ops it left to the portable kernels, so that
`verify` reports it from the file itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from pocketml.export.console import quiet
from pocketml.export.convert.job import (CALIBRATION_ROWS, ExportJob, Kept, declared_ranges,
                                 random_like)
from pocketml.export.runtimes import LOWERING_METHOD
from pocketml.export.convert.shape_plans import QUANTIZED_TOLERANCE, export_first_that_runs

# ExecuTorch plans memory for the largest shapes at export time, so dynamic sizes are bounded:
# a batch of up to 64 rows (parity and bench run 64; larger batches run in chunks), and a
# declared dimension up to 4 times its example size.
MAX_BATCH = 64
MAX_SCALE = 4
NOT_OPS = {"getitem", "sym_size"}  # tuple indexing of a delegate's outputs, a shape read


def export_executorch(job: ExportJob, path: Path) -> str:
    return export_first_that_runs(
        job, path, lambda kept, p: lower(exported_program(job, False, kept), p), "executorch",
        lambda kept: job.describe(kept, MAX_BATCH, MAX_SCALE))


def export_executorch_int8(job: ExportJob, path: Path) -> str:
    return export_first_that_runs(
        job, path, lambda kept, p: lower(exported_program(job, True, kept), p), "executorch",
        lambda kept: job.describe(kept, MAX_BATCH, MAX_SCALE), QUANTIZED_TOLERANCE)


def exported_program(job: ExportJob, quantized: bool,
                     kept: Kept = Kept()) -> torch.export.ExportedProgram:
    """The program lowering starts from (also `pocketml diagnose`'s, which taps it), with the
    dimensions `kept` dynamic. Quantized: int8 weights (per channel) and int8 activations in
    every layer XNNPACK quantizes, their ranges observed on training rows; a user module,
    which has none, is calibrated on random inputs drawn like parity's (its declared ranges)."""
    if not quantized:
        return export(job, job.module, kept)
    with quiet():
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer, get_symmetric_quantization_config)
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        quantizer = XNNPACKQuantizer().set_global(
            get_symmetric_quantization_config(is_per_channel=True))
        prepared = prepare_pt2e(export(job, job.module, kept).module(), quantizer)
        with torch.no_grad():
            for batch in calibration_batches(job, 32 if kept.batch else 1):
                prepared(*batch)
        return export(job, convert_pt2e(prepared), kept)


def export(job: ExportJob, module, kept: Kept) -> torch.export.ExportedProgram:
    """torch.export with the dimensions `kept` dynamic. A dynamic batch is traced with
    MAX_BATCH rows: with a small example batch ExecuTorch planned convolutions for fewer rows
    than declared (15 when traced with 2)."""
    with quiet():  # torch.export warns about an RNN's weights assigned while it traces
        return torch.export.export(module, job.batched(MAX_BATCH if kept.batch else 1),
                                   dynamic_shapes=job.dynamic_shapes(MAX_BATCH, MAX_SCALE, kept))


def lower(program: torch.export.ExportedProgram, path: Path) -> None:
    with quiet():
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.devtools.backend_debug import get_delegation_info
        from executorch.exir import EdgeProgramManager, to_edge_transform_and_lower

        edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
        record = {**lowering_record(get_delegation_info(edge.exported_program().graph_module)),
                  "input_sizes": input_sizes(program)}
        # The record is known only once lowering is done, and constant methods are given
        # when an edge program is made: so the lowered program is wrapped again with it.
        blob = torch.tensor(list(json.dumps(record).encode()), dtype=torch.uint8)
        edge = EdgeProgramManager({"forward": edge.exported_program()},
                                  constant_methods={LOWERING_METHOD: blob},
                                  compile_config=edge.compile_config)
        Path(path).write_bytes(edge.to_executorch().buffer)


def lowering_record(info) -> dict:
    """ExecuTorch's delegation summary, per op by its own names (print_delegation_info's)."""
    ops = {name: c for name, c in sorted(info.delegation_by_operator.items())
           if name not in NOT_OPS}
    return {"delegate": "XnnpackBackend", "subgraphs": info.num_delegated_subgraphs,
            "delegated": {name: c.delegated for name, c in ops.items() if c.delegated},
            "not_delegated": {name: c.non_delegated for name, c in ops.items()
                              if c.non_delegated}}


def input_sizes(program: torch.export.ExportedProgram) -> list[list[int | None]]:
    """Per input, each size the file is fixed at (None where it is dynamic). ExecuTorch takes
    another size of a fixed dimension without a word and computes something else (an LSTM
    exported for 5 steps ran 10), so the runner refuses such inputs by this record."""
    nodes = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
    return [[d if isinstance(d, int) else None for d in nodes[name].meta["val"].shape]
            for name in program.graph_signature.user_inputs]


def calibration_batches(job: ExportJob, batch: int = 32):
    if job.calibration is not None:
        rows = [job.calibration]
    else:
        rng = np.random.default_rng(1)  # not parity's seed 0: calibrate on other draws
        ranges = declared_ranges(job.schema, len(job.example_inputs))
        rows = [random_like(t, CALIBRATION_ROWS, rng, r)
                for t, r in zip(job.example_inputs, ranges)]
    for start in range(0, len(rows[0]), batch):
        yield tuple(torch.from_numpy(np.ascontiguousarray(x[start:start + batch])) for x in rows)
