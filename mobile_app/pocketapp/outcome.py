"""What the model's output means, by the task the schema declares: a binary classifier's
probability of its positive class (form.Prediction, the kidney form's), a multi-class
classifier's classes ranked by probability, or a regressor's value in the target's unit.

Each has `label`, what the self-check compares with PyTorch's decision (None for a value), and
`lines`, what the app shows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

SHOWN_CLASSES = 3  # the top classes the app lists


def percent(probability: float) -> str:
    """The probability as a person reads it: never a flat 0% or 100% from a model."""
    if probability > 0.999:
        return "> 99.9%"
    if probability < 0.001:
        return "< 0.1%"
    return f"{probability:.1%}"


@dataclass(frozen=True)
class ClassRanking:
    """A multi-class model's probabilities, the most likely class first."""

    ranked: tuple[tuple[str, float], ...]

    @classmethod
    def of(cls, probabilities: Sequence[float], classes: Sequence[str]) -> "ClassRanking":
        if len(probabilities) != len(classes):
            raise ValueError(f"the model returned {len(probabilities)} values for "
                             f"{len(classes)} classes")
        if not all(0.0 <= p <= 1.0 for p in probabilities) or not math.isclose(
                sum(probabilities), 1.0, abs_tol=1e-3):
            raise ValueError(f"the model returned {list(probabilities)}, which are not "
                             "probabilities of the classes")
        order = sorted(range(len(classes)), key=lambda i: -probabilities[i])
        return cls(tuple((classes[i], float(probabilities[i])) for i in order))

    @property
    def label(self) -> str:
        return self.ranked[0][0]

    @property
    def lines(self) -> list[str]:
        return [f"Most likely: {self.label}"] + [f"{name}: {percent(p)}"
                                                 for name, p in self.ranked[:SHOWN_CLASSES]]


@dataclass(frozen=True)
class Estimate:
    """A regressor's value, in the unit of its target."""

    value: float
    unit: str
    target: str  # what is predicted, e.g. "disease progression"
    label = None  # no decision to compare

    @property
    def text(self) -> str:
        return f"{self.value:.4g} {self.unit}".strip()

    @property
    def lines(self) -> list[str]:
        return [f"Predicted {self.target}: {self.text}"]
