"""PyTorch -> ONNX with torch.onnx's dynamo exporter: named inputs and outputs, a dynamic
batch dimension, the schema in the model's metadata, checked with onnx.checker."""

from __future__ import annotations

import json

import onnx
import torch

from pocketml.export.console import quiet
from pocketml.export.job import ExportJob

OPSET = 18


def export_onnx(job: ExportJob, path) -> None:
    batch = torch.export.Dim("batch", min=1, max=65536)
    dynamic_shapes = tuple({0: batch} for _ in job.example_inputs)
    # torch.export treats a dimension of size 1 as a constant, so trace with a batch of 2
    # for the batch dimension to stay dynamic.
    examples = tuple(t.expand(2, *t.shape[1:]).contiguous() if len(t) == 1 else t
                     for t in job.example_inputs)
    with quiet():
        program = torch.onnx.export(
            job.module, examples, dynamo=True, opset_version=OPSET, verbose=False,
            input_names=job.input_names, output_names=job.output_names,
            dynamic_shapes=dynamic_shapes,
        )
    model = program.model_proto
    if job.schema is not None:
        onnx.helper.set_model_props(model, {"pocketml.schema": json.dumps(job.schema)})
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
