"""PyTorch -> ONNX with torch.onnx's dynamo exporter: named inputs and outputs, a dynamic
batch dimension and any dimension the user declares dynamic (each fixed instead where the file
does not run it: shape_plans), the schema in the model's metadata, checked with
onnx.checker."""

from __future__ import annotations

import json

import onnx
import torch

from pocketml.export.console import quiet
from pocketml.export.convert.job import ExportJob, Kept
from pocketml.export.convert.shape_plans import export_first_that_runs

OPSET = 18


def export_onnx(job: ExportJob, path) -> str:
    return export_first_that_runs(job, path, lambda kept, p: write_onnx(job, kept, p),
                                  "onnxruntime", job.describe)


def write_onnx(job: ExportJob, kept: Kept, path) -> None:
    with quiet():
        program = torch.onnx.export(
            job.module, job.batched(2 if kept.batch else 1), dynamo=True, opset_version=OPSET,
            verbose=False, input_names=job.input_names, output_names=job.output_names,
            dynamic_shapes=job.dynamic_shapes(kept=kept),
        )
    model = program.model_proto
    if job.schema is not None:
        onnx.helper.set_model_props(model, {"pocketml.schema": json.dumps(job.schema)})
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
