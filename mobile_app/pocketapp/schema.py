"""What a schema.json must mean, not only contain.

An edited schema with a re-written manifest passes every checksum, so the app and
`pocketml verify`/`bundle` (which run this same function) check that it still makes sense: a
threshold strictly between 0 and 1, two distinct classes with the positive one (label 1)
second, finite plausible ranges with low < high for every number the form asks for, unique
column and field names, and an input shape that matches the columns."""

from __future__ import annotations

import math

from .contract import SCHEMA_FORMAT



def schema_problems(schema) -> list[str]:
    """Every way `schema` is malformed or meaningless; empty when it is sound."""
    if not isinstance(schema, dict):
        return ["the schema is not a JSON object"]
    problems = []
    if schema.get("format") != SCHEMA_FORMAT:
        problems.append(f"schema format {schema.get('format')!r}, expected {SCHEMA_FORMAT!r}")
    if "classes" in schema or "positive_class" in schema:
        problems += _class_problems(schema)
    if "threshold" in schema or schema.get("task") == "binary_classification":
        threshold = schema.get("threshold")
        if not finite(threshold) or not 0 < threshold < 1:
            problems.append(f"threshold {threshold!r}: must be a number strictly between 0 and 1")
    declared = schema.get("input", {}).get("range") if isinstance(schema.get("input"), dict) else None
    if declared is not None:
        problems += _range_problems("input", declared)
    if "columns" in schema:
        problems += _column_problems(schema)
    return problems


def _class_problems(schema: dict) -> list[str]:
    classes = schema.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        return [f"classes {classes!r}: must be a list of names"]
    problems = []
    if len(set(classes)) != len(classes):
        problems.append(f"classes {classes}: each class must appear once")
    if "positive_class" in schema:
        if len(classes) != 2:
            problems.append(f"classes {classes}: a binary model has exactly two")
        elif schema["positive_class"] != classes[1]:
            # Class i is label i, and a binary model outputs the probability of label 1.
            problems.append(f"positive_class {schema['positive_class']!r}: the model outputs "
                            f"the probability of {classes[1]!r} (label 1), so it must be that")
    return problems


def _range_problems(name: str, bounds) -> list[str]:
    if (not isinstance(bounds, (list, tuple)) or len(bounds) != 2
            or not all(finite(b) for b in bounds)):
        return [f"{name}: range {bounds!r} must be two finite numbers [low, high]"]
    if not bounds[0] < bounds[1]:
        return [f"{name}: range {list(bounds)} must have low < high"]
    return []


def _column_problems(schema: dict) -> list[str]:
    columns = schema["columns"]
    if not isinstance(columns, list) or not columns or not all(isinstance(c, dict) for c in columns):
        return ["columns: must be a non-empty list of column objects"]
    problems = []
    names = [c.get("name") for c in columns]
    repeated = sorted({n for n in names if names.count(n) > 1}, key=str)
    if repeated:
        problems.append(f"columns {', '.join(map(str, repeated))}: each column name must appear once")
    kinds: dict[str, set] = {}
    choices: dict[str, list] = {}
    for column in columns:
        name, field = column.get("name"), column.get("field", column.get("name"))
        kind = column.get("kind")
        kinds.setdefault(field, set()).add(kind)
        if kind == "numeric":
            problems += _range_problems(f"column {name}", column.get("range"))
        elif kind == "one_hot":
            choices.setdefault(field, []).append(column.get("choice"))
        else:
            problems.append(f"column {name}: unknown kind {kind!r}")
    for field, found in kinds.items():
        if len(found) > 1:
            problems.append(f"field {field}: both numeric and a choice")
        elif found == {"numeric"} and [c.get("field", c.get("name")) for c in columns].count(field) > 1:
            problems.append(f"field {field}: more than one numeric column")
    for field, options in choices.items():
        if len(set(map(str, options))) != len(options):
            problems.append(f"field {field}: each choice must appear once")
    shape = schema.get("input", {}).get("shape") if isinstance(schema.get("input"), dict) else None
    if shape is not None and (not isinstance(shape, list) or shape[-1:] != [len(columns)]):
        problems.append(f"input shape {shape!r} does not end in the {len(columns)} columns")
    if "reference" in schema:
        problems += _reference_problems(schema["reference"], columns, choices)
    return problems


def _reference_problems(reference, columns: list[dict], choices: dict[str, list]) -> list[str]:
    """Each field's reference value (what explanations compare with) must be one it can take."""
    if not isinstance(reference, dict):
        return ["reference: must map each field to its reference value"]
    problems = []
    numeric = {c.get("field", c.get("name")): c.get("range") for c in columns
               if c.get("kind") == "numeric"}
    for field in [*numeric, *choices]:
        value = reference.get(field)
        if field in choices and value not in choices[field]:
            problems.append(f"reference {field}: {value!r} is not one of its choices")
        elif field in numeric and not (finite(value) and isinstance(numeric[field], list)
                                       and numeric[field][0] <= value <= numeric[field][1]):
            problems.append(f"reference {field}: {value!r} is not a number in its range")
    return problems


def finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
