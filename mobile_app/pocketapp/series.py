"""The forecaster's spec: what a next-value model's schema (`pocketml train sequence`: a window
of W values of one series, oldest first, shape [-1, W, 1]; one value out) asks of the app.

A window is W numbers a person can read and edit, so it is a form of W numeric fields, named
from the newest value back ("t" the last one seen, "t-1" the one before it, ...), each with the
series' unit and plausible range: FormSpec's own encoder, validation and regression outcome
serve it, and the self-check replays golden windows through them like typed values. The app
draws the window as a small chart, the forecast after it (mobile_app/seriesscreen.py); it opens
on the schema's `recent` window, the last one of the series the model was trained on."""

from __future__ import annotations

from .form import REGRESSION, FormSpec, SchemaError
from .schema import finite, schema_problems

NEXT_VALUE = "next value"


def is_series_model(schema) -> bool:
    """A model of one series' window: no columns, an input of shape [-1, W, 1]."""
    if not isinstance(schema, dict) or "columns" in schema:
        return False
    shape = schema.get("input", {}).get("shape") if isinstance(schema.get("input"), dict) else None
    return (isinstance(shape, list) and len(shape) == 3 and shape[0] == -1 and shape[2] == 1
            and isinstance(shape[1], int) and not isinstance(shape[1], bool) and shape[1] >= 2)


def step_names(window: int) -> list[str]:
    """Oldest first: t-(W-1), ..., t-1, t."""
    return [f"t-{window - 1 - i}" if i < window - 1 else "t" for i in range(window)]


class SeriesSpec(FormSpec):
    """A window of a series, one numeric field per step, and the value that comes next."""

    min_golden_cases = 16  # as a form's: held-out windows, then flat ones at the range's bounds

    def __init__(self, schema: dict):
        problems = schema_problems(schema)
        if schema.get("task") != REGRESSION:
            problems.append(f"task {schema.get('task')!r}: a series chart shows a forecaster "
                            "(a regression of the next value)")
        if not isinstance(schema.get("input", {}).get("range"), list):
            problems.append("input: a series chart needs the series' plausible range")
        if problems:
            raise SchemaError("; ".join(problems) + ". Rebuild the bundle from a model "
                              "trained by pocketml.")
        super().__init__(as_form(schema))
        self.window = len(self.fields)
        self.low, self.high = (float(b) for b in schema["input"]["range"])
        self.recent = _recent(schema["input"].get("recent"), self)

    @property
    def heading(self) -> str:
        return f"{self.model_name}: the {NEXT_VALUE}"

    def values(self, window: list[float]) -> dict[str, str]:
        """The window as the text its fields show: every digit kept (1234567, not 1.23457e+06),
        so the cells hold exactly the window."""
        return {f.name: f"{v:.15g}" for f, v in zip(self.fields, window)}


def as_form(schema: dict) -> dict:
    """The form a window is: one numeric column per step, the series' unit and range each."""
    given = schema["input"]
    window, unit = given["shape"][1], str(given.get("unit", ""))
    columns = [{"name": name, "kind": "numeric", "unit": unit, "range": given["range"]}
               for name in step_names(window)]
    return {**schema, "columns": columns, "input": {**given, "shape": [-1, window]},
            "target": {"label": NEXT_VALUE, "unit": unit}}


def _recent(values, spec: SeriesSpec) -> list[float] | None:
    """The window the app opens on: None when the schema has none."""
    if values is None:
        return None
    if not (isinstance(values, list) and len(values) == spec.window
            and all(finite(v) and spec.low <= v <= spec.high for v in values)):
        raise SchemaError(f"input recent: must be {spec.window} numbers within the range "
                          f"[{spec.low:g}, {spec.high:g}]. Rebuild the bundle from a model "
                          "trained by pocketml.")
    return [float(v) for v in values]
