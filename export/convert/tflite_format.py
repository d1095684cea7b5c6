"""PyTorch -> TFLite directly with litert-torch, and the quantized variants: float16 weights,
dynamic-range int8 and 16x8 made from the float32 file with ai-edge-quantizer, and
full-integer int8 calibrated on training rows through PyTorch's PT2E quantization."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pocketml.folder.errors import UserError
from pocketml.export.console import quiet
from pocketml.export.convert.fp16_layers import choose_fp16_layers, exactly
from pocketml.export.convert.job import ExportJob, Kept


def export_tflite(job: ExportJob, path: Path) -> str:
    # litert-torch fixes every size at the example's (batch 1); runners resize it per call.
    sample = tuple(t[:1] for t in job.example_inputs)
    with quiet():  # importing litert-torch starts TensorFlow, which logs on stderr
        import litert_torch

        litert_torch.convert(job.module, sample).export(str(path))
    return fixed_shapes(job)


def fixed_shapes(job: ExportJob) -> str:
    return (job.describe(Kept(batch=False, declared=False))
            + " in the file (the interpreter resizes them where the graph allows)")


def require_float_file(source: Path) -> None:
    if not source.is_file():
        raise UserError(f"{source.name} is missing: the quantized variants are made from the "
                        "float32 TFLite file; export the 'tflite' format too.")


def _quantize(source: Path, path: Path, configure, calibration=None) -> None:
    from ai_edge_quantizer import quantizer

    require_float_file(source)
    with quiet():
        q = quantizer.Quantizer(str(source))
        configure(q)
        result = q.quantize(q.calibrate(calibration) if calibration is not None else None)
        result.export_model(str(path), overwrite=True)


def export_fp16(job: ExportJob, path: Path) -> str:
    """float16 weights in the layers where they keep the output within the fp16 tolerance
    (fp16_layers); the others keep float32 weights, and the job's log names them."""
    from ai_edge_quantizer import qtyping
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    source = path.with_name("model.tflite")

    def cast(layers: list[str], to: Path) -> None:
        def configure(q):
            for layer in layers:
                q.add_weight_only_config(
                    regex=exactly(layer), operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
                    num_bits=16, algorithm_key=AlgorithmName.FLOAT_CASTING)
        _quantize(source, to, configure)

    require_float_file(source)
    chosen, kept = choose_fp16_layers(job, source, cast, path.with_name(f".probe-{path.name}"))
    cast(chosen, path)
    if kept:
        job.notes.append(f"{len(kept)} of {len(chosen) + len(kept)} weight layers keep float32 "
                         "weights (float16 would move the output past the fp16 tolerance, or "
                         "the quantizer cannot cast them alone): "
                         + ", ".join(short_name(layer) for layer in kept))
    return fixed_shapes(job)


def short_name(scope: str) -> str:
    """litert-torch names a layer's output by its module path: keep the last part."""
    return scope.split(";")[0].rsplit("/", 1)[-1].rsplit(".", 1)[-1]


def export_int8(job: ExportJob, path: Path) -> str:
    from ai_edge_quantizer import recipe

    _quantize(path.with_name("model.tflite"), path,
              lambda q: q.load_quantization_recipe(recipe.dynamic_wi8_afp32()))
    return fixed_shapes(job)


def require_calibration(job: ExportJob, what: str) -> None:
    if job.calibration is None:
        raise UserError(f"{what} needs calibration rows; this model folder has no "
                        "calibration.npz (train it with `pocketml train kidney`).")


def export_int8_full(job: ExportJob, path: Path) -> str:
    """int8 weights and int8 activations in every layer, their ranges calibrated on training
    rows with PyTorch's PT2E flow before litert-torch converts the quantized graph. The
    in-graph input scaling stays float (see export_16x8 for why); the output is int8.

    ai-edge-quantizer's static int8 recipe on the float file calibrated the kidney MLP's
    final logit to [0, 5.4] (label agreement 60 %); PT2E observes the PyTorch graph and keeps
    its sign (label agreement >= 99.9 %)."""
    require_calibration(job, "full-integer int8")
    import torch

    sample = tuple(t[:1] for t in job.example_inputs)
    with quiet():
        import litert_torch
        from litert_torch.quantize.pt2e_quantizer import (PT2EQuantizer,
                                                          get_symmetric_quantization_config)
        from litert_torch.quantize.quant_config import QuantConfig
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        quantizer = PT2EQuantizer().set_global(
            get_symmetric_quantization_config(is_per_channel=True))
        prepared = prepare_pt2e(torch.export.export(job.module, sample).module(), quantizer)
        with torch.no_grad():
            for row in job.calibration:
                prepared(torch.from_numpy(row[None]))
        converted = convert_pt2e(prepared, fold_quantize=False)
        litert_torch.convert(converted, sample, quant_config=QuantConfig(pt2e_quantizer=quantizer)
                             ).export(str(path))
    return fixed_shapes(job)


def export_16x8(job: ExportJob, path: Path) -> str:
    """Integer compute in the network's layers: int8 weights, int16 activations, calibrated.

    Quantizing the raw input tensor with one scale flattens narrow features such as specific
    gravity (1.005-1.025) next to sodium (100-170): label agreement 97.5 % on the kidney MLP.
    So the in-graph scaling stays float and the layers after it run 16x8 integer kernels.
    """
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import qtyping

    require_calibration(job, "16x8 quantization")
    source = path.with_name("model.tflite")
    signature = Interpreter(model_path=str(source)).get_signature_list()
    name, = signature
    input_name = signature[name]["inputs"][0]
    rows = [{input_name: row[None].astype(np.float32)} for row in job.calibration]

    def configure(q):
        for op in (qtyping.TFLOperationName.FULLY_CONNECTED, qtyping.TFLOperationName.CONV_2D):
            q.add_static_config(regex=".*", operation_name=op, activation_num_bits=16,
                                weight_num_bits=8)

    _quantize(source, path, configure, calibration={name: rows})
    return fixed_shapes(job)
