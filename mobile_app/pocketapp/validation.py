"""What a person may type into a numeric field.

Only plain decimal numbers with ASCII digits and a dot are accepted (an exponent too, so that
any number Python prints is accepted). Python's float() alone is too lenient for a clinical
form: it takes "nan", "inf", "1_000" and digits of other scripts, and a comma decimal ("1,02")
is a different number in half the world, so it is refused with a hint instead of guessed."""

from __future__ import annotations

import math
import re

DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
COMMA_DECIMAL = re.compile(r"[+-]?[0-9]*,[0-9]+")


class Invalid(ValueError):
    """A value the form refuses; its message is shown under the field."""


def parse_number(text: str, low: float | None = None, high: float | None = None) -> float:
    """The number in `text`, or Invalid saying what to type instead."""
    text = text.strip()
    if not text:
        raise Invalid("required: enter a number")
    if COMMA_DECIMAL.fullmatch(text):
        raise Invalid(f"use a dot for decimals: {text.replace(',', '.')}")
    if not DECIMAL.fullmatch(text):
        raise Invalid(f"not a number: {shorten(text)}")
    value = float(text)
    if not math.isfinite(value):  # "1e999" overflows to inf
        raise Invalid("number too large")
    if low is not None and high is not None and not low <= value <= high:
        raise Invalid(f"outside the plausible range {format_range(low, high)}")
    return value


def format_range(low: float, high: float) -> str:
    return f"{low:g} to {high:g}"


def shorten(text: str, limit: int = 12) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
