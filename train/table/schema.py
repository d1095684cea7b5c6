"""schema.json for a table model: the same contract as the kidney's (train/kidney/outputs.py
kidney_schema; read by export/ and mobile_app/pocketapp/schema.py and form.py), with what the
task needs: a binary model's positive class and threshold, a multi-class model's classes in
output order, a regressor's target with its unit."""

from __future__ import annotations

import numpy as np

from pocketml.train.kidney.outputs import THRESHOLD, reference_values
from pocketml.train.table.data import TASK_NAMES, TableData


def table_schema(name: str, data: TableData, features: list[str], groups: dict[str, list[str]],
                 train_rows: np.ndarray) -> dict:
    """`features`: the model's input columns in order; `groups`: each field's columns;
    `train_rows`: the training rows as the model takes them (the explanations' reference)."""
    field_of = {column: field for field, columns in groups.items() for column in columns}
    columns = []
    for feature in features:
        field = data.columns[field_of[feature]]
        if field.kind == "numeric":
            columns.append({"name": feature, "field": field.name, "kind": "numeric",
                            "label": field.label, "unit": field.unit, "range": list(field.range)})
        else:
            choice = field.choices[groups[field.name].index(feature)]
            columns.append({"name": feature, "field": field.name, "kind": "one_hot",
                            "label": field.label, "choice": choice})
    schema = {
        "format": "pocketml-schema/1",
        "model": name,
        "task": TASK_NAMES[data.task],
        "input": {"name": "features", "dtype": "float32", "shape": [-1, len(features)]},
        "output": output_of(data),
        "columns": columns,
        "reference": reference_values(columns, train_rows),
    }
    if data.task == "regression":
        schema["target"] = {"name": data.target.name, "label": data.target.label,
                            "unit": data.target.unit, "range": list(data.target.range)}
    else:
        schema["classes"] = data.classes
    if data.task == "binary":
        schema.update(positive_class=data.classes[1], threshold=THRESHOLD)
    return schema


def output_of(data: TableData) -> dict:
    if data.task == "regression":
        return {"name": "value", "dtype": "float32", "shape": [-1, 1],
                "unit": data.target.unit, "meaning": f"predicted {data.target.label}"}
    if data.task == "binary":
        return {"name": "p_positive", "dtype": "float32", "shape": [-1, 1],
                "meaning": f"probability of class {data.classes[1]!r}"}
    return {"name": "probabilities", "dtype": "float32", "shape": [-1, len(data.classes)],
            "meaning": "probability of each class, in the order of classes"}
