"""PyTorch -> ONNX with torch.onnx's dynamo exporter: named inputs and outputs, a dynamic
batch dimension and any dimension the user declares dynamic (each fixed instead where the file
does not run it: shape_plans), the schema in the model's metadata, checked with
onnx.checker.

Where the dynamo exporter cannot take the model at all (torch.export refuses it: a scripted
module, data-dependent control flow written with torch.jit.script), the TorchScript exporter
(dynamo=False) is tried before giving up, under the same shape plans and size checks (which
catch a traced branch that holds for some inputs only), and the file says which exporter made
it: in its metadata, the export table and export.json."""

from __future__ import annotations

import json

import onnx
import torch

from pocketml.folder.errors import UserError
from pocketml.export.console import quiet
from pocketml.export.convert.job import BATCH, ExportJob, Kept
from pocketml.export.convert.failure_terms import converter_cause
from pocketml.export.convert.shape_plans import export_first_that_runs

OPSET = 18
EXPORTER_PROP = "pocketml.exporter"  # which torch.onnx exporter wrote the file


def export_onnx(job: ExportJob, path) -> str:
    try:
        return export_first_that_runs(job, path, lambda kept, p: write_onnx(job, kept, p),
                                      "onnxruntime", job.describe)
    except UserError:
        raise
    except Exception as err:
        dynamo_error = err
    try:
        kept = export_first_that_runs(job, path, lambda kept, p: write_torchscript(job, kept, p),
                                      "onnxruntime", job.describe)
    except Exception:
        kept = None
    if kept is None:  # raised outside the handler: its own cause (the user's frame) stays
        raise dynamo_error
    job.notes.append("made by torch.onnx's TorchScript exporter (dynamo=False): the dynamo "
                     f"exporter cannot take {converter_cause(dynamo_error)}")
    return f"{kept}; by the TorchScript exporter"


def write_onnx(job: ExportJob, kept: Kept, path) -> None:
    with quiet():
        program = torch.onnx.export(
            job.module, job.batched(2 if kept.batch else 1), dynamo=True, opset_version=OPSET,
            verbose=False, input_names=job.input_names, output_names=job.output_names,
            dynamic_shapes=job.dynamic_shapes(kept=kept),
        )
    finish(job, program.model_proto, path, "dynamo")


def write_torchscript(job: ExportJob, kept: Kept, path) -> None:
    """The TorchScript exporter: dynamic dimensions by name (dynamic_axes) instead of Dims."""
    axes = {name: {**({0: BATCH} if kept.batch else {}), **(spec if kept.declared else {})}
            for name, spec in zip(job.input_names, job.dynamic)}
    axes.update({name: {0: BATCH} for name in job.output_names if kept.batch})
    with quiet():
        torch.onnx.export(job.module, job.batched(2 if kept.batch else 1), str(path),
                          dynamo=False, opset_version=OPSET, input_names=job.input_names,
                          output_names=job.output_names,
                          dynamic_axes={k: v for k, v in axes.items() if v})
    finish(job, onnx.load(str(path)), path, "torchscript")


def finish(job: ExportJob, model: onnx.ModelProto, path, exporter: str) -> None:
    props = {EXPORTER_PROP: exporter}
    if job.schema is not None:
        props["pocketml.schema"] = json.dumps(job.schema)
    onnx.helper.set_model_props(model, props)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
