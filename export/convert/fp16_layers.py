"""Which layers of a TFLite file may hold float16 weights without moving the output past the
fp16 tolerance.

Half precision keeps 11 significant bits: each weight moves by up to 1/2048 of itself. That is
harmless while the logits stay small, but a model trained long on a big table grows steep:
the kidney MLP trained on 4,000 rows (the CKD table repeated) has logits from -199 to 675, and
float16 weights in its first layer alone move a probability near the decision boundary by
0.0084 (tolerance 1e-3). So the weight layers are tried in float16 on inputs across the
schema's ranges, and only those whose effect together stays within 80 % of the tolerance are
cast, found by halving the set of layers (bisect); the others keep float32 weights, and the
export says which.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pocketml.export.convert.job import ExportJob
from pocketml.export.runtimes import load_runner
from pocketml.export.tolerances import FP16
from pocketml.export.verify.input_sets import MAX_RANDOM_ROWS, input_sets, random_budget

# The ops whose weights ai-edge-quantizer's float casting turns into float16.
WEIGHT_OPS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV",
              "EMBEDDING_LOOKUP")
# Of the tolerance: the errors of the layers cast do not add up exactly, and verify's rows are
# not these (on the steep kidney model, one layer moved the output 1.08e-3 here, 1.02e-3 there).
MARGIN = 0.8
# Trial files the search may make: each is a quantizer pass and a run over every search row.
MAX_CASTS = 24


def weight_layers(path: Path) -> list[str]:
    """The weight ops' scopes, which the quantizer's regexes match."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_quantizer.utils.tfl_flatbuffer_utils import get_op_scope

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(Path(path).read_bytes(), 0))
    codes = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    names = []
    for graph in model.subgraphs:
        for op in graph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            if codes.get(max(code.builtinCode, code.deprecatedBuiltinCode)) in WEIGHT_OPS:
                names.append(get_op_scope(op, graph.tensors))
    return names


def exactly(name: str) -> str:
    return f"^{re.escape(name)}$"


def choose_fp16_layers(job: ExportJob, source: Path, cast: Callable[[list[str], Path], None],
                       scratch: Path) -> tuple[list[str], list[str]]:
    """(layers to cast to float16, layers kept float32). `cast(layers, path)` writes `source`
    with those layers' weights in float16."""
    # Other random rows than verify's (seed 1), as many as its memory budget allows, and the
    # training rows. A second per row leaves the time budget out of it: the layers chosen must
    # not depend on how busy the machine is.
    budget = random_budget(job.module, job.example_inputs, budget_seconds=MAX_RANDOM_ROWS)
    sets = input_sets(job.schema, job.example_inputs, n_random=budget, seed=1)
    inputs = [np.concatenate([s.inputs[i] for s in sets]) for i in range(len(sets[0].inputs))]
    if job.calibration is not None and inputs[0].shape[1:] == job.calibration.shape[1:]:
        inputs = [np.concatenate([inputs[0], job.calibration.astype(inputs[0].dtype)])]
    reference = load_runner(source, "litert").run(inputs)
    # As parity judges it: outputs in raw units (a forecast of 0-250) against their range.
    span = max(1.0, max(float(r.max() - r.min()) for r in reference))

    def effect(layers: list[str]) -> float:
        """How far `layers` in float16 move the output, as a share of its span."""
        try:
            cast(layers, scratch)
        except Exception:  # ai-edge-quantizer refuses to cast some layers (the LSTM cell's
            return math.inf  # of a conv-LSTM module): they keep float32
        outputs = load_runner(scratch, "litert").run(inputs)
        return max(float(np.abs(o - r).max()) / span for o, r in zip(outputs, reference))

    layers = weight_layers(source)
    chosen, tried = bisect(layers, MARGIN * FP16.max_abs_diff, effect)
    scratch.unlink(missing_ok=True)
    kept = [layer for layer in layers if layer not in chosen]
    if tried == MAX_CASTS and kept:
        job.notes.append(f"the float16 search stopped after {MAX_CASTS} trial files")
    return chosen, kept


def bisect(layers: list[str], budget: float,
           effect: Callable[[list[str]], float]) -> tuple[list[str], int]:
    """(the layers cast, how many trial files it took): every layer at once, and where that
    moves the output past `budget`, each half in turn on top of what is already cast, halving
    again a group that does not fit, down to single layers, which keep float32. Each trial
    measures the whole set cast so far, so the errors of the layers need not add up. A model
    that takes float16 everywhere costs one trial file, and at most MAX_CASTS are made (the
    untried layers keep float32): 53 trials, one per layer, took 81 s of MobileNetV2's
    export; two steep layers among 53 take 20 here.
    """
    chosen: list[str] = []
    pending, tried = [list(layers)] if layers else [], 0
    while pending and tried < MAX_CASTS:
        group = pending.pop(0)
        tried += 1
        if effect(chosen + group) <= budget:
            chosen += group
        elif len(group) > 1:
            pending[:0] = [group[:len(group) // 2], group[len(group) // 2:]]
    return chosen, tried
