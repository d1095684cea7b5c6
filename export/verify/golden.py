"""Golden cases: a few rows from the parity sets with PyTorch's outputs, carried inside the app's
bundle (golden.json, listed with its sha256 in the manifest). At every start the app runs them
through the phone's own runtime and refuses to predict unless it computes what PyTorch computed
(mobile_app/pocketapp/selfcheck.py), so the first launch on any phone is itself a parity test.

Each case carries what a person would type into the form (`values`: a number as text, a word
per choice), the row PyTorch was given, and PyTorch's output. The app runs the values through
its own form first, so a schema.json that encodes them otherwise than training did (choices
swapped, columns reordered) fails on the phone like a wrong model. Only rows the form accepts
and encodes back to exactly that row are chosen.

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

from pocketml.folder.errors import UserError
from pocketml.export.formats import FORMATS
from pocketml.export.verify.input_sets import input_sets
from pocketml.folder.reference import run_batches, torch_runner
from pocketml.pocketapp.contract import GOLDEN_FORMAT
from pocketml.export.verify.golden_drawings import drawn_golden
from pocketml.pocketapp.form import FormSpec, NumericField, SchemaError
from pocketml.pocketapp.kinds import spec_for
from pocketml.pocketapp.pad import PadSpec
from pocketml.folder import artifacts

N_ROWS = 32
N_TEST_ROWS = 16  # the rest are edge cases
EDGE_CASES = "edge cases"  # parity's name for that input set
# the fp32 mark of `pocketml verify`: model.tflite is what the phone runs
FP32_MARK = FORMATS["tflite"].tolerance.max_abs_diff


def write_golden(model_folder: Path, path: Path) -> dict:
    """golden.json at `path` for a folder written by `pocketml train`."""
    folder = Path(model_folder)
    schema = artifacts.read_json(folder / artifacts.SCHEMA)
    form = app_form(schema)
    document = (drawn_golden(artifacts.load_model(folder), form) if isinstance(form, PadSpec)
                else golden_cases(artifacts.load_model(folder), schema,
                                  artifacts.load_test_set(folder)))
    artifacts.write_json(path, document)
    return document


def golden_cases(module: nn.Module, schema: dict,
                 test_set: tuple[np.ndarray, np.ndarray] | None = None,
                 example: Sequence[torch.Tensor] | None = None) -> dict:
    """Up to N_ROWS cases: form values, row, PyTorch's output and, for a classifier, its
    decision."""
    if example is None:
        if test_set is None:
            raise UserError("golden cases need the model's test set or an example input.")
        example = (torch.from_numpy(test_set[0][:2]),)
    if len(example) != 1:
        raise UserError(f"golden cases take a model with one input, not {len(example)}.")
    sets = input_sets(schema, example, test_set, n_random=0)
    run = torch_runner(module.eval())
    form = app_form(schema)
    test = next((s for s in sets if s.labels is not None), None)
    edges = next((s for s in sets if s.name == EDGE_CASES), None)
    sources, rows, values = [], [], []
    for chosen, name, wanted in ((test, "test set row", N_TEST_ROWS), (edges, "edge case", N_ROWS)):
        if chosen is None:
            continue
        x = chosen.inputs[0]
        outputs = run_batches(run, [x], 64)[0].reshape(len(x), -1)
        typed = [form_values(form, row.reshape(-1)) for row in x]  # a window: [W, 1]
        excluded = undecided(outputs, schema) | np.array([v is None for v in typed])
        # the most likely class's probability for a multi-class model, else the one output
        for i in spread_over_outputs(outputs.max(axis=1), wanted - len(rows), excluded):
            sources.append(f"{name} {i}")
            rows.append(x[i])
            values.append(typed[i])
    if not rows:
        raise UserError("the schema gives no test rows and no edge cases to make golden cases of.")
    inputs = np.stack(rows).astype(np.float32)
    outputs = run_batches(run, [inputs], 1)[0].reshape(len(inputs), -1)
    labels = decisions(outputs, schema)
    cases = [{"source": source, "values": entered, "input": row.reshape(-1).tolist(),
              "output": output.tolist(), **({"label": labels[k]} if labels else {})}
             for k, (source, entered, row, output)
             in enumerate(zip(sources, values, inputs, outputs))]
    # No tolerance is written: the app compares at its own float32 tolerance, so an edited
    # golden.json cannot loosen the check (selfcheck.py).
    return {"format": GOLDEN_FORMAT, "reference": f"PyTorch {torch.__version__}",
            "columns": [c["name"] for c in schema.get("columns", [])],
            "cases": cases}


def app_form(schema: dict, where: str = "this schema") -> FormSpec | PadSpec:
    """The app's form (or drawing pad) for `schema`; UserError saying why the app cannot
    show it."""
    try:
        return spec_for(schema)
    except SchemaError as err:
        raise UserError(f"the app cannot build its form from {where}: {err}") from None


def form_values(form: FormSpec, row: np.ndarray) -> dict[str, str] | None:
    """What a person types into `form` for this float32 row: each number as the shortest text
    that reads back to it, each choice as its word. None when the form cannot produce exactly
    this row (a value outside its plausible range, a choice group without one choice)."""
    values = {}
    for field in form.fields:
        if isinstance(field, NumericField):
            values[field.name] = np.format_float_positional(np.float32(row[field.column]),
                                                            trim="-")
        else:
            chosen = [word for word, column in field.columns.items() if row[column] == 1.0]
            if len(chosen) != 1:
                return None
            values[field.name] = chosen[0]
    encoded, errors = form.encode(values)
    if errors or not np.array_equal(np.float32(encoded), row):
        return None
    return values


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


def undecided(outputs: np.ndarray, schema: dict) -> np.ndarray:
    """Rows within the fp32 tolerance of a classifier's decision (a binary threshold, or a tie
    of the two likeliest classes): a correct runtime may decide them either way, so a golden
    decision there could refuse a good phone. `outputs`: one row per case."""
    task = schema.get("task")
    if task == "binary_classification":
        return np.abs(outputs[:, 0] - schema["threshold"]) <= FP32_MARK
    if task == "multiclass_classification" and outputs.shape[1] > 1:
        top = np.sort(outputs, axis=1)
        return top[:, -1] - top[:, -2] <= 2 * FP32_MARK
    return np.zeros(len(outputs), bool)


def decisions(outputs: np.ndarray, schema: dict) -> list[str]:
    """The class each row is given, as the app decides it: a binary classifier's threshold,
    a multi-class one's likeliest class; none for a regressor."""
    task = schema.get("task")
    if task == "multiclass_classification":
        return [schema["classes"][i] for i in outputs.argmax(axis=1)]
    if task != "binary_classification":
        return []
    positive = schema["positive_class"]
    negative = next(c for c in schema["classes"] if c != positive)
    return [positive if p >= schema["threshold"] else negative for p in outputs[:, 0]]
