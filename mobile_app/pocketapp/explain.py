"""Why this prediction: exact Shapley values of the form's fields, in log-odds, against the
training population's reference patient (each field's median or most frequent choice, from
the schema's "reference").

Every coalition of fields is run: the patient's answers for the fields in it, the reference's
for the others (7 fields: 128 runs of the bundled model, on the device). A field's value is its
average change of the log-odds when it joins, weighted over the orders the fields could join
in; the values add up exactly to this patient's log-odds minus the reference patient's. In
log-odds a field keeps its weight when the model is sure: a patient at 99.99 % still has bars,
where differences of probability all read "+0.0 points".

A person reads a log-odds change d as a factor on the odds: e^d ("odds x3.2", "odds ÷3.2").

It explains the model, not the patient: a large bar says the model leans on that answer for
this patient, not that the answer causes anything. The app and `pocketml explain` both call
`explain`, so they give the same numbers for the same row."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .form import MULTICLASS, REGRESSION, ChoiceField, FormSpec, NumericField

MODEL_NOT_MEDICAL = ("How the model weighs each answer (a model explanation, not a medical "
                     "one): each bar is how much that answer multiplies the odds, against the "
                     "typical training patient's answers; together they make the whole change.")
# A float32 probability is exactly 1.0 from log-odds of about 16.6 on (1 - 2^-24 is the last
# value below 1): the models' files cannot say more, so log-odds are capped at +-LOG_ODDS_CAP.
LOG_ODDS_CAP = math.log((1 - 2.0 ** -24) / 2.0 ** -24)
# A table model of any subject: its explanations speak of rows, not patients.
IN_UNITS = ("How the model weighs each answer: each bar is how much that answer moves the "
            "prediction, against the typical training row's answers; together they make the "
            "whole change.")
IN_ODDS = ("how the model weighs each answer: each bar is how much that answer multiplies the "
           "odds, against the typical training row's answers; together they make the whole "
           "change.")


@dataclass(frozen=True)
class Contribution:
    field: str
    label: str
    answer: str  # the value as the person gave it, with its unit
    reference: str  # the typical training patient's value
    log_odds: float  # this field's Shapley value (in the target's unit for a regressor)
    unit: str | None = None  # a regressor's unit; None: log-odds

    def line(self) -> str:
        change = (odds_text(self.log_odds) if self.unit is None
                  else f"{self.log_odds:+.3g} {self.unit}".strip())
        return f"{self.label} {self.answer}: {change}"


@dataclass(frozen=True)
class Explanation:
    contributions: list[Contribution]  # largest |log_odds| first
    log_odds: float  # this patient's
    reference_log_odds: float  # the reference patient's
    reference_probability: float
    capped: bool  # some run's probability was 0 or 1 to float32 precision
    unit: str | None = None  # a regressor's: the values are the prediction itself, in it
    of_class: str | None = None  # a multi-class model's: the class whose odds are explained

    @property
    def heading(self) -> str:
        if self.unit is not None:
            return IN_UNITS
        return MODEL_NOT_MEDICAL if self.of_class is None else (
            f"The odds of {self.of_class}: {IN_ODDS}")

    def total_line(self) -> str:
        """"All answers together: odds x5,400 (+8.6): the typical patient's 0.3 % becomes
        94.8 %"."""
        change = self.log_odds - self.reference_log_odds
        if self.unit is not None:
            return (f"All answers together: {change:+.3g} {self.unit}: the typical row's "
                    f"{self.reference_log_odds:.4g} becomes {self.log_odds:.4g} "
                    f"{self.unit}").strip()
        typical = "patient" if self.of_class is None else "row"  # the kidney form's words kept
        return (f"All answers together: {odds_text(change)}: the typical {typical}'s "
                f"{percent(self.reference_probability)} becomes "
                f"{percent(probability_of(self.log_odds))}"
                + (" (odds beyond 16 million to 1 are capped: the model's float32 output "
                   "cannot tell them apart)" if self.capped else ""))

    def as_dict(self) -> dict:
        """What `pocketml explain --json` prints (and the app's test driver reports)."""
        return {"contributions": [c.__dict__ for c in self.contributions],
                "log_odds": self.log_odds, "reference_log_odds": self.reference_log_odds,
                "reference_probability": self.reference_probability, "capped": self.capped,
                "total": self.total_line()}


def explain(form: FormSpec, row: Sequence[float],
            predict: Callable[[Sequence[float]], float]) -> Explanation:
    """Exact Shapley values over `form`'s fields: 2^fields runs of `predict`. A binary model's
    log-odds, a multi-class model's log-odds of the class it gives `row`, a regressor's value."""
    if form.reference is None:
        raise ValueError("this bundle's schema has no reference values to explain with; "
                         "rebuild it with a current pocketml")
    row, fields = list(row), form.fields
    everything = 2 ** len(fields) - 1
    output = predict(row)  # the coalition of every field: the answers as given
    quantity, unit, of_class = explained_quantity(form, output)
    values, capped = {everything: quantity(output)[0]}, quantity(output)[1]
    for mask in range(everything):  # bit i set: field i keeps the patient's answer
        replaced = [f for i, f in enumerate(fields) if not mask >> i & 1]
        values[mask], cut = quantity(predict(with_reference(form, row, replaced)))
        capped |= cut
    contributions = []
    for i, field in enumerate(fields):
        contributions.append(Contribution(field.name, field.label, *shown(form, field, row),
                                          shapley(values, i, len(fields)), unit))
    return Explanation(sorted(contributions, key=lambda c: -abs(c.log_odds)),
                       values[everything], values[0],
                       probability_of(values[0]) if unit is None else values[0], capped,
                       unit, of_class)


def explained_quantity(form: FormSpec, output) -> tuple[Callable, str | None, str | None]:
    """What is explained for this task, from a model output: (output -> (number, capped)), the
    regressor's unit, the multi-class model's class."""
    if form.task == REGRESSION:
        return (lambda value: (float(value), False)), form.unit, None
    if form.task == MULTICLASS:
        top = max(range(len(output)), key=output.__getitem__)
        return (lambda probabilities: log_odds(probabilities[top])), None, form.classes[top]
    return log_odds, None, None


def with_reference(form: FormSpec, row: list[float], fields) -> list[float]:
    """`row` with each of `fields` replaced by the reference's answer."""
    changed = list(row)
    for field in fields:
        reference = form.reference[field.name]
        if isinstance(field, NumericField):
            changed[field.column] = float(reference)
        else:
            for column in field.columns.values():
                changed[column] = 0.0
            changed[field.columns[reference]] = 1.0
    return changed


def shapley(values: dict[int, float], i: int, n: int) -> float:
    """Sum over coalitions S without field i of |S|! (n-|S|-1)! / n! (v(S + i) - v(S))."""
    total = 0.0
    for mask, value in values.items():
        if mask >> i & 1:
            continue
        size = bin(mask).count("1")
        weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
        total += weight * (values[mask | 1 << i] - value)
    return total


def log_odds(probability: float) -> tuple[float, bool]:
    """log(p / (1 - p)), capped at +-LOG_ODDS_CAP; and whether it was."""
    value = math.log(probability) - math.log1p(-probability) if 0 < probability < 1 else (
        math.copysign(math.inf, probability - 0.5))
    if abs(value) > LOG_ODDS_CAP:
        return math.copysign(LOG_ODDS_CAP, value), True
    return value, False


def probability_of(log_odds_value: float) -> float:
    return 1 / (1 + math.exp(-log_odds_value))


def odds_text(change: float) -> str:
    """A log-odds change as a person reads it: "odds x3.2 (+1.16)", "odds ÷41 (-3.71)"."""
    factor = math.exp(abs(change))  # two significant digits: "x1.2", "x19", "x17,000"
    shown = (f"{factor:.2f}" if factor < 1.1 else f"{factor:.1f}" if factor < 10
             else f"{float(f'{factor:.2g}'):,.0f}")
    return f"odds {'x' if change >= 0 else '÷'}{shown} ({change:+.2f})"


def percent(probability: float) -> str:
    """"0.3 %", "94.8 %", "99.997 %": enough digits to tell a sure model's answers apart."""
    for digits in range(1, 7):
        text = f"{100 * probability:.{digits}f}"
        if float(text) not in (0.0, 100.0):
            return f"{text} %"
    return f"{100 * probability:.6f} %"


def shown(form: FormSpec, field, row: Sequence[float]) -> tuple[str, str]:
    """The patient's answer and the reference's, as a person reads them."""
    reference = form.reference[field.name]
    if isinstance(field, NumericField):
        return _with_unit(row[field.column], field.unit), _with_unit(reference, field.unit)
    return _choice_of(field, row), str(reference)


def _with_unit(value: float, unit: str) -> str:
    """"9.1 g/dL"; a unit of several words in brackets: "2 (grade 0-5)"."""
    if " " in unit:
        return f"{value:g} ({unit})"
    return f"{value:g} {unit}".strip()


def _choice_of(field: ChoiceField, row: Sequence[float]) -> str:
    return next(choice for choice, column in field.columns.items() if row[column] == 1.0)
