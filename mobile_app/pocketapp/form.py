"""The form a schema describes, and how its answers become the model's input row.

The schema lists the model's input columns in order. A numeric column is one field; one-hot
columns that share a `field` are one choice (pus cells: abnormal / normal), so a person picks a
word and never types a one-hot value. Fields appear in the order of their first column."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .outcome import ClassRanking, Estimate, percent
from .schema import schema_problems
from .validation import Invalid, format_range, parse_number


class SchemaError(ValueError):
    """A schema.json this app cannot build a form from."""


@dataclass(frozen=True)
class NumericField:
    name: str
    label: str
    unit: str
    low: float | None
    high: float | None
    column: int  # its position in the model's input row

    @property
    def hint(self) -> str:
        """What the form shows beside the entry: unit and plausible range."""
        parts = [self.unit] if self.unit else []
        if self.low is not None:
            parts.append("range " + format_range(self.low, self.high))
        return ", ".join(parts)


@dataclass(frozen=True)
class ChoiceField:
    name: str
    label: str
    columns: dict[str, int] = field(default_factory=dict)  # choice -> position in the input row

    @property
    def choices(self) -> list[str]:
        return list(self.columns)


@dataclass(frozen=True)
class Prediction:
    probability: float  # of the positive class
    label: str
    positive_class: str
    threshold: float

    @property
    def percent(self) -> str:
        return percent(self.probability)


BINARY, MULTICLASS, REGRESSION = ("binary_classification", "multiclass_classification",
                                  "regression")


class FormSpec:
    """The fields of a schema, `encode` from answers to the model's input row, and `decide`
    from the model's output to what it means for the schema's task (outcome.py)."""

    # The fewest golden cases the app checks a form's model on before it predicts, never read
    # from the bundle: a golden.json cut to one case, its manifest rewritten, checks nothing.
    min_golden_cases = 16

    def __init__(self, schema: dict):
        problems = schema_problems(schema)
        if "columns" not in schema:
            problems.append("no columns: this app builds its form from the schema's columns")
        if schema.get("task", BINARY) not in (BINARY, MULTICLASS, REGRESSION):
            problems.append(f"task {schema.get('task')!r}: this app shows binary, multi-class "
                            "and regression models")
        if problems:
            raise SchemaError("; ".join(problems) + ". Rebuild the bundle from a model "
                              "trained by pocketml.")
        try:
            self.n_columns = len(schema["columns"])
            self.fields = _fields(schema["columns"])
            self.task = schema.get("task", BINARY)
            self.model_name = schema.get("model", "model")
            self._read_task(schema)
            # field -> the training population's median or most frequent choice (explain.py)
            self.reference = schema.get("reference")
        except (KeyError, TypeError, ValueError) as err:
            raise SchemaError(f"schema.json is incomplete or malformed ({err!r})") from None

    def encode(self, answers: dict[str, str | None]) -> tuple[list[float] | None, dict[str, str]]:
        """(the input row, {}) when every answer is valid, else (None, {field: message}).

        `answers` maps a field name to the text typed (numeric) or the choice picked (None
        when nothing is picked). Nothing invalid ever gets into a row."""
        row = [0.0] * self.n_columns
        errors: dict[str, str] = {}
        for f in self.fields:
            answer = answers.get(f.name)
            if isinstance(f, NumericField):
                try:
                    row[f.column] = parse_number(answer or "", f.low, f.high)
                except Invalid as err:
                    errors[f.name] = str(err)
            elif answer in f.columns:
                row[f.columns[answer]] = 1.0
            else:
                errors[f.name] = "choose one: " + " or ".join(f.choices)
        return (None, errors) if errors else (row, {})

    def _read_task(self, schema: dict) -> None:
        """What the task's outputs need: classes (and a binary model's positive class and
        threshold), or a regressor's target and unit."""
        self.classes = list(schema["classes"]) if self.task != REGRESSION else []
        self.n_outputs = len(self.classes) if self.task == MULTICLASS else 1
        if self.task == BINARY:
            self.positive_class = schema["positive_class"]
            self.threshold = float(schema["threshold"])
        elif self.task == REGRESSION:
            target = schema.get("target", {})
            self.unit = str(schema["output"].get("unit", target.get("unit", "")))
            self.target = str(target.get("label", schema["output"].get("name", "value")))

    @property
    def heading(self) -> str:
        """What the form's title says the model gives."""
        if self.task == MULTICLASS:
            return f"{self.model_name}: which of {len(self.classes)} classes"
        if self.task == REGRESSION:
            return f"{self.model_name}: {self.target}" + (f" ({self.unit})" if self.unit else "")
        return f"{self.model_name}: probability of {self.positive_class}"

    def decide(self, output) -> Prediction | ClassRanking | Estimate:
        """What the model's output (one number, or one per class) means for this task."""
        if self.task == MULTICLASS:
            return ClassRanking.of(output, self.classes)
        if self.task == REGRESSION:
            if not math.isfinite(output):
                raise ValueError(f"the model returned {output}, which is not a value")
            return Estimate(float(output), self.unit, self.target)
        probability = output
        if not 0.0 <= probability <= 1.0:  # NaN fails this too
            raise ValueError(f"the model returned {probability}, which is not a probability")
        negative = next(c for c in self.classes if c != self.positive_class)
        label = self.positive_class if probability >= self.threshold else negative
        return Prediction(probability, label, self.positive_class, self.threshold)


def _fields(columns: list[dict]) -> list[NumericField | ChoiceField]:
    fields: dict[str, NumericField | ChoiceField] = {}
    for position, column in enumerate(columns):
        name = column.get("field", column["name"])
        if column["kind"] == "numeric":
            low, high = column.get("range") or (None, None)
            fields[name] = NumericField(name, column.get("label", name), column.get("unit", ""),
                                        _number(low), _number(high), position)
        elif column["kind"] == "one_hot":
            choice = fields.setdefault(name, ChoiceField(name, column.get("label", name)))
            if not isinstance(choice, ChoiceField):
                raise SchemaError(f"field {name!r} is both numeric and a choice")
            choice.columns[str(column["choice"])] = position
        else:
            raise SchemaError(f"column {column['name']!r}: unknown kind {column['kind']!r}")
    return list(fields.values())


def _number(value) -> float | None:
    return None if value is None else float(value)
