"""A user's own model, from the command line: `--model MODULE:CALLABLE` imported and called,
`--input-shape SHAPE[:DTYPE[:LOW,HIGH]]` parsed, and one call on the example inputs before
anything is written. Each way it can go wrong is a UserError naming the module, the call and
the likely fix; the original exception stays attached as its cause for `--debug`. A module that
calls sys.exit() or raises KeyboardInterrupt, at import, in its factory or in forward(), is
reported the same way: the user's code never decides pocketml's exit status."""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path

import torch
from torch import nn

from pocketml.folder.errors import UserError
from pocketml.export.convert.job import BATCH, DTYPES, InputSpec, forward_parameter_names

# What the user's code may raise: any error, and also sys.exit() and KeyboardInterrupt, which
# would otherwise end pocketml with the module's own status (0 after writing nothing).
USER_CODE_ERRORS = (Exception, SystemExit, KeyboardInterrupt)
SHAPE_HELP = ("write SHAPE[:DTYPE[:LOW,HIGH]], batch first, e.g. 1,5,1 or 1,seq=12:int64:0,99 "
              "(or a LOW,HIGH per column of the last size: 1,3:int64:0,4/0,11/0,6) "
              f"(dtypes {', '.join(DTYPES)}; NAME=SIZE marks a dynamic dimension, "
              "NAME=SIZE@MIN..MAX one over a range)")


def load_user_module(spec: str) -> nn.Module:
    """Import MODULE:CALLABLE (the user's own code, from the current folder or sys.path) and
    call it for the model."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise UserError(f"--model {spec!r}: write it as MODULE:CALLABLE, e.g. mypkg.nets:build.")
    sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and module_name.startswith(err.name):  # the module itself is not found
            raise UserError(f"--model {spec!r}: cannot import it ({err}). Run pocketml from "
                            f"the folder that holds {module_name.replace('.', '/')}.py, or put "
                            "it on PYTHONPATH.") from err
        raise UserError(f"--model {spec!r}: importing {module_name} raised {describe(err)}. "
                        f"Install {err.name}, or fix {module_name}'s imports.") from err
    except USER_CODE_ERRORS as err:  # the user's module itself fails while it is imported
        raise UserError(f"--model {spec!r}: importing {module_name} raised {describe(err)}. "
                        f"Fix {module_name} so that `import {module_name}` works.") from err
    factory = getattr(module, attr, None)
    if factory is None:
        raise UserError(f"--model {spec!r}: cannot import it ({module_name} has no attribute "
                        f"{attr!r}).")
    try:
        model = factory() if callable(factory) else factory
    except USER_CODE_ERRORS as err:
        raise UserError(f"--model {spec!r}: calling {attr}() raised {describe(err)}. "
                        f"{attr}() must build the model with no arguments.") from err
    if not isinstance(model, nn.Module):
        raise UserError(f"--model {spec!r} returned {type(model).__name__}, not a "
                        "torch.nn.Module.")
    return model.eval()


def parse_shape(text: str) -> InputSpec:
    """One --input-shape: SHAPE[:DTYPE[:LOW,HIGH]], where a size written NAME=SIZE is dynamic
    and NAME=SIZE@MIN..MAX dynamic over that range (MAX left out: no top)."""
    shape_text, dtype, range_text = (text.split(":") + ["", ""])[:3]
    if text.count(":") > 2:
        raise UserError(f"--input-shape {text!r}: {SHAPE_HELP}.")
    sizes, dynamic, size_ranges = [], {}, {}
    for axis, part in enumerate(shape_text.split(",")):
        name, size, size_range = parse_size(text, axis, part)
        sizes.append(size)
        if name:
            dynamic[axis] = name
        if size_range:
            size_ranges[name] = size_range
    dtype = dtype or "float32"
    if dtype not in DTYPES:
        raise UserError(f"--input-shape {text!r}: unknown dtype {dtype!r}; choose from "
                        f"{', '.join(DTYPES)}.")
    columns = parse_column_ranges(text, range_text, dtype, sizes[-1])
    overall = (min(r[0] for r in columns), max(r[1] for r in columns)) if columns else \
        parse_range(text, range_text, dtype)
    return InputSpec(tuple(sizes), dtype, overall, dynamic, size_ranges, columns)


def parse_size(text: str, axis: int, part: str) -> tuple[str, int, tuple[int, int | None] | None]:
    """One size of SHAPE: (name or "", size, (min, max) or None)."""
    name, named, size = part.rpartition("=")
    size, ranged, bounds = size.partition("@")
    if named and not name:
        raise UserError(f"--input-shape {text!r}: {part!r} has no name before '='; write "
                        "NAME=SIZE for a dynamic dimension (e.g. seq=12), or the size alone "
                        "for a fixed one.")
    if not re.fullmatch(r"[1-9][0-9]*", size.strip()) or (name and not name.isidentifier()):
        raise UserError(f"--input-shape {text!r}: {part!r} is not a size; {SHAPE_HELP}.")
    if name and (axis == 0 or name == BATCH):
        raise UserError(f"--input-shape {text!r}: the batch (the first size) is always "
                        "dynamic; name only the other dimensions.")
    if not ranged:
        return name, int(size), None
    found = re.fullmatch(r"([1-9][0-9]*)\.\.([1-9][0-9]*)?", bounds.strip())
    low, high = (int(found[1]), found[2] and int(found[2])) if found else (0, None)
    if not name or not found or not low <= int(size) <= (high or int(size)):
        raise UserError(f"--input-shape {text!r}: {part!r}: write a dynamic size's range as "
                        "NAME=SIZE@MIN..MAX with MIN <= SIZE <= MAX (e.g. h=64@8..512, or "
                        "h=64@8.. for no top).")
    return name, int(size), (low, high or None)


def parse_range(text: str, range_text: str, dtype: str) -> tuple[float, float] | None:
    if not range_text:
        if dtype in ("int32", "int64"):
            raise UserError(f"--input-shape {text!r}: integer inputs need the range random "
                            "inputs are drawn from, e.g. 1,12:int64:0,99 for token ids below "
                            "a vocabulary of 100.")
        return None
    if dtype == "bool":
        raise UserError(f"--input-shape {text!r}: a bool input takes no range (it is 0 or 1).")
    number = int if dtype != "float32" else float
    try:
        low, high = (number(v) for v in range_text.split(","))
    except ValueError:
        low = high = None
    if low is None or not low < high:
        raise UserError(f"--input-shape {text!r}: write the range as LOW,HIGH with LOW < HIGH"
                        f"{' (whole numbers)' if number is int else ''}, e.g. 0,99; or one "
                        "per column of the last size, LOW,HIGH/LOW,HIGH/..., e.g. "
                        "1,3:int64:0,4/0,11/0,6.")
    return low, high


def parse_column_ranges(text: str, range_text: str, dtype: str,
                        columns: int) -> tuple[tuple[float, float], ...]:
    """LOW,HIGH/LOW,HIGH/...: one range per column of the last size (categorical ids, each
    column its own vocabulary); () for a single range."""
    parts = range_text.split("/")
    if len(parts) == 1:
        return ()
    if len(parts) != columns:
        raise UserError(f"--input-shape {text!r}: {len(parts)} column ranges for a last size "
                        f"of {columns}: give one LOW,HIGH per column, separated by '/'.")
    return tuple(parse_range(text, part, dtype) for part in parts)


def run_on_examples(spec: str, model: nn.Module, inputs: list[InputSpec],
                    examples: tuple[torch.Tensor, ...]) -> None:
    """Call the model once on the example inputs, as every exporter will."""
    shapes = ", ".join(f"{i.dtype}{list(e.shape)}" for i, e in zip(inputs, examples))
    call = f"{type(model).__name__}({shapes})"
    try:
        with torch.no_grad():
            outputs = model(*examples)
    except USER_CODE_ERRORS as err:
        raise UserError(f"--model {spec!r}: {call} raised {describe(err)}. "
                        f"{likely_fix(model, inputs, err)}") from err
    parts = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
    if not parts or not all(isinstance(p, torch.Tensor) for p in parts):
        kinds = ", ".join(type(p).__name__ for p in parts) or "nothing"
        raise UserError(f"--model {spec!r}: {call} returned {type(outputs).__name__} ({kinds}); "
                        "forward() must return a tensor or a tuple of tensors (e.g. "
                        "`return logits`, not a dict or None).")


def likely_fix(model: nn.Module, inputs: list[InputSpec], err: Exception) -> str:
    params = [p for p in inspect.signature(model.forward).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    required = [p.name for p in params if p.default is p.empty and p.kind != p.VAR_POSITIONAL]
    takes_any = any(p.kind == p.VAR_POSITIONAL for p in params)
    if len(inputs) < len(required) or (len(inputs) > len(params) and not takes_any):
        return (f"forward() takes {len(required)} input(s) ({', '.join(required)}) but "
                f"--input-shape was given {len(inputs)} time(s): give one per input, in order.")
    text = str(err)
    if re.search(r"scalar type|dtype|Long|Int|Float|Bool", text):
        return ("An input has the wrong dtype: declare it, e.g. --input-shape 1,12:int64:0,99 "
                "for token ids (dtypes: " + ", ".join(DTYPES) + ").")
    if re.search(r"index out of range|out of bounds", text, re.IGNORECASE):
        return ("An integer input goes past what the model accepts (e.g. an embedding's size): "
                "lower HIGH in --input-shape SHAPE:DTYPE:LOW,HIGH.")
    return ("Check each --input-shape against what forward() expects: batch first, then the "
            "other sizes, with its dtype.")


def describe(err: BaseException) -> str:
    if isinstance(err, SystemExit):
        return f"SystemExit (it called sys.exit({err.code!r}))"
    first = str(err).strip().splitlines()
    return f"{type(err).__name__}: {first[0][:300]}" if first else type(err).__name__


def user_schema(module: nn.Module, inputs: list[InputSpec]) -> dict:
    """What a user module's inputs are: forward()'s names, dtypes, ranges, dynamic sizes."""
    names = forward_parameter_names(module, len(inputs))
    names += [f"input_{i}" for i in range(len(names), len(inputs))]
    return {"format": "pocketml-schema/1", "model": "user module",
            "inputs": [i.schema(name) for i, name in zip(inputs, names)]}
