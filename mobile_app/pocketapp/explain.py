"""Why this prediction: for each field, how much the probability moves when that field alone
is replaced by the training population's reference value (its median, or its most frequent
choice, from the schema's "reference"). One extra run of the model per field, on the device.

It explains the model, not the patient: a large bar says the model leans on that value for
this row, not that the value causes anything. The app and `pocketml explain` both call
`explain`, so they give the same numbers for the same row."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .form import ChoiceField, FormSpec, NumericField

MODEL_NOT_MEDICAL = ("How the model weighs each answer (a model explanation, not a medical "
                     "one): each bar is the change in probability when that answer alone is "
                     "replaced by the typical training patient's.")


@dataclass(frozen=True)
class Contribution:
    field: str
    label: str
    answer: str  # the value as the person gave it, with its unit
    reference: str  # what it was replaced by
    points: float  # probability with the answer minus probability with the reference, x 100

    def line(self) -> str:
        digits = 0 if abs(self.points) >= 1 else 1  # "+0.4", never a flat "+0" for a real change
        return f"{self.label} {self.answer}: {self.points:+.{digits}f} points"


def explain(form: FormSpec, row: Sequence[float], predict: Callable[[Sequence[float]], float],
            probability: float | None = None) -> list[Contribution]:
    """One contribution per field of `form`, largest change first (ties: form order).
    `probability`: predict(row), when the caller already has it (then one run per field)."""
    if form.reference is None:
        raise ValueError("this bundle's schema has no reference values to explain with; "
                         "rebuild it with a current pocketml")
    row = list(row)
    probability = predict(row) if probability is None else probability
    contributions = []
    for field in form.fields:
        changed = list(row)
        reference = form.reference[field.name]
        if isinstance(field, NumericField):
            changed[field.column] = float(reference)
            answer = _with_unit(row[field.column], field.unit)
            shown_reference = _with_unit(reference, field.unit)
        else:
            for column in field.columns.values():
                changed[column] = 0.0
            changed[field.columns[reference]] = 1.0
            answer, shown_reference = _choice_of(field, row), str(reference)
        points = 100.0 * (probability - predict(changed))
        contributions.append(Contribution(field.name, field.label, answer, shown_reference,
                                          points))
    return sorted(contributions, key=lambda c: -abs(c.points))


def _with_unit(value: float, unit: str) -> str:
    """"9.1 g/dL"; a unit of several words in brackets: "2 (grade 0-5)"."""
    if " " in unit:
        return f"{value:g} ({unit})"
    return f"{value:g} {unit}".strip()


def _choice_of(field: ChoiceField, row: Sequence[float]) -> str:
    return next(choice for choice, column in field.columns.items() if row[column] == 1.0)
