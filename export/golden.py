"""Golden cases: a few rows from the parity sets with PyTorch's outputs, carried inside the app's
bundle (golden.json, listed with its sha256 in the manifest). At every start the app runs them
through the phone's own runtime and refuses to predict unless it computes what PyTorch computed
(mobile_app/pocketapp/selfcheck.py), so the first launch on any phone is itself a parity test.

The rows are test-set patients, then edge cases (range bounds crossed with the one-hot choices),
each spread over PyTorch's output range (confident either way, borderline and in between: a
saturated probability would hide a difference before the sigmoid), in
float32 as the phone feeds them; their reference outputs come from PyTorch at batch 1, one row at
a time like the phone."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pocketml.errors import UserError
from pocketml.export.formats import FORMATS
from pocketml.export.input_sets import input_sets
from pocketml.export.parity import run_batches, torch_runner
from pocketml.train import artifacts

GOLDEN = "golden.json"
GOLDEN_FORMAT = "pocketml-golden/1"
N_ROWS = 32
N_TEST_ROWS = 16  # the rest are edge cases
EDGE_CASES = "edge cases"  # parity's name for that input set
# the fp32 mark of `pocketml verify`: model.tflite is what the phone runs
FP32_MARK = FORMATS["tflite"].tolerance.max_abs_diff


def write_golden(model_folder: Path, path: Path) -> dict:
    """golden.json at `path` for a folder written by `pocketml train`."""
    folder = Path(model_folder)
    document = golden_cases(artifacts.load_model(folder),
                            artifacts.read_json(folder / artifacts.SCHEMA),
                            artifacts.load_test_set(folder))
    artifacts.write_json(path, document)
    return document


def golden_cases(module: nn.Module, schema: dict,
                 test_set: tuple[np.ndarray, np.ndarray] | None = None,
                 example: Sequence[torch.Tensor] | None = None) -> dict:
    """Up to N_ROWS rows with PyTorch's outputs and, for a classifier, its decision."""
    if example is None:
        if test_set is None:
            raise UserError("golden cases need the model's test set or an example input.")
        example = (torch.from_numpy(test_set[0][:2]),)
    if len(example) != 1:
        raise UserError(f"golden cases take a model with one input, not {len(example)}.")
    sets = input_sets(schema, example, test_set, n_random=0)
    run = torch_runner(module.eval())
    test = next((s for s in sets if s.labels is not None), None)
    edges = next((s for s in sets if s.name == EDGE_CASES), None)
    sources, rows = [], []
    for chosen, name, wanted in ((test, "test set row", N_TEST_ROWS), (edges, "edge case", N_ROWS)):
        if chosen is None:
            continue
        x = chosen.inputs[0]
        outputs = run_batches(run, [x], 64)[0].reshape(len(x), -1)[:, 0]
        for i in spread_over_outputs(outputs, wanted - len(rows), undecided(outputs, schema)):
            sources.append(f"{name} {i}")
            rows.append(x[i])
    if not rows:
        raise UserError("the schema gives no test rows and no edge cases to make golden cases of.")
    inputs = np.stack(rows).astype(np.float32)
    outputs = run_batches(run, [inputs], 1)[0].reshape(len(inputs), -1)
    labels = decisions(outputs[:, 0], schema)
    cases = [{"source": source, "input": row.reshape(-1).tolist(), "output": output.tolist(),
              **({"label": labels[k]} if labels else {})}
             for k, (source, row, output) in enumerate(zip(sources, inputs, outputs))]
    return {"format": GOLDEN_FORMAT, "reference": f"PyTorch {torch.__version__}",
            "max_abs_diff": FP32_MARK,
            "columns": [c["name"] for c in schema.get("columns", [])],
            "cases": cases}


def spread_over_outputs(outputs: np.ndarray, wanted: int, excluded: np.ndarray) -> list[int]:
    """The rows whose outputs lie nearest to `wanted` evenly spaced values from the smallest
    output to the largest: borderline rows as well as confident ones, each row once."""
    left = [i for i in range(len(outputs)) if not excluded[i]]
    picks = []
    if wanted <= 0 or not left:
        return picks
    for target in np.linspace(outputs.min(), outputs.max(), min(wanted, len(left))):
        nearest = min(left, key=lambda i: abs(float(outputs[i]) - target))
        picks.append(nearest)
        left.remove(nearest)
    return picks


def undecided(probabilities: np.ndarray, schema: dict) -> np.ndarray:
    """Rows within the fp32 tolerance of a classifier's threshold: a correct runtime may decide
    them either way, so a golden decision there could refuse a good phone."""
    if schema.get("task") != "binary_classification":
        return np.zeros(len(probabilities), bool)
    return np.abs(probabilities - schema["threshold"]) <= FP32_MARK


def decisions(probabilities: np.ndarray, schema: dict) -> list[str]:
    """The class a binary classifier's threshold gives each row, as the app decides it."""
    if schema.get("task") != "binary_classification":
        return []
    positive = schema["positive_class"]
    negative = next(c for c in schema["classes"] if c != positive)
    return [positive if p >= schema["threshold"] else negative for p in probabilities]
