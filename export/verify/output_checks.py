"""Each output of a model judged on its own scale: one output's range never excuses another's
error (a probability 1.4e-3 off passed when the logits beside it spanned 23).

- An integer output (a class index from argmax) is judged by agreement: exact matches, with
  the count that differ; a flipped label is a disagreement, not "off by 9".
- A float output within a range of 1 (a probability) is judged by the absolute difference.
- A float output in raw units is judged by its difference relative to its own range: float32
  rounding grows with the numbers (a forecast of 0-200 sunspots carries errors of ~1e-5 x 200
  in any runtime).
- Where a format has no absolute limit (quantized files) and there are no labels, each output's
  error relative to its own range decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

RELATIVE_LIMIT = 0.05  # quantized files without labels: error / the output's range
# A file as accurate as PyTorch's own float32 sits at most the reference's own rounding away
# from the exact result, and PyTorch's float32 as far again: twice the fp32-vs-fp64 gap.
FLOOR_FACTOR = 2.0


@dataclass
class Check:
    name: str
    value: float
    limit: str
    passed: bool
    where: str = ""

    def line(self) -> str:
        mark = "✓" if self.passed else "✗"
        return f"    {mark} {self.name}: {self.value:.4g} ({self.limit}){self.where}"


@dataclass
class OutputTally:
    """One output's differences from PyTorch, gathered chunk by chunk."""
    index: int
    integer: bool = False
    worst: float = 0.0
    worst_at: str = ""
    low: float = np.inf
    high: float = -np.inf
    values: int = 0
    differ: int = 0
    first_differ: str = ""
    noise_floor: float | None = None  # PyTorch's float32 vs float64, raw units (reference.py)
    widened: str = ""  # the limit the noise floor set instead of the fixed one, said in words
    checks: list[Check] = field(default_factory=list)

    def add(self, got: np.ndarray, want: np.ndarray, set_name: str, start: int) -> np.ndarray:
        """Tally one chunk; returns the absolute differences (for the relative ones)."""
        self.integer = self.integer or not np.issubdtype(want.dtype, np.floating)
        if want.size:
            self.low, self.high = min(self.low, float(want.min())), max(self.high, float(want.max()))
        diff = np.abs(got.astype(np.float64) - want)
        self.values += diff.size
        if diff.size and diff.max() > self.worst:
            row = start + int(np.unravel_index(diff.argmax(), diff.shape)[0])
            self.worst, self.worst_at = float(diff.max()), f"{set_name}, output {self.index}, row {row}"
        if self.integer:
            wrong = diff != 0
            if wrong.any() and not self.first_differ:
                row = start + int(np.unravel_index(wrong.argmax(), wrong.shape)[0])
                self.first_differ = f"{set_name}, row {row}"
            self.differ += int(wrong.sum())
        return diff

    @property
    def span(self) -> float:
        return max(self.high - self.low, 0.0)

    def judge(self, tolerance, labelled: bool, several: bool, floor=None) -> list[Check]:
        """This output's checks under `tolerance` (a formats.Tolerance). `labelled`: the
        task's labels are judged elsewhere; `floor()`: this output's noise floor, raw units,
        asked for only where the fixed limit is missed (it costs a float64 run of PyTorch)."""
        name = f"output {self.index}: " if several else ""
        where = f" [worst: {self.worst_at}]" if self.worst_at else ""
        if self.integer:
            agreement = 1.0 - self.differ / max(self.values, 1)
            first = f"; first: {self.first_differ}" if self.first_differ else ""
            self.checks = [Check(f"{name}agreement (integer output)", agreement,
                                 f">= {tolerance.label_agreement:.1%}",
                                 agreement >= tolerance.label_agreement,
                                 f" [{self.differ} of {self.values} differ{first}]")]
        elif tolerance.max_abs_diff is not None:
            self.checks = [self._absolute(name, tolerance.max_abs_diff, where, floor)]
        elif not labelled:
            relative = self.worst / max(self.span, 1e-12)
            self.checks = [Check(f"{name}max abs diff / output range", relative,
                                 f"<= {RELATIVE_LIMIT:g}", relative <= RELATIVE_LIMIT, where)]
        else:
            self.checks = []
        return self.checks

    def _absolute(self, name: str, limit: float, where: str, floor) -> Check:
        scale = max(1.0, self.span)  # probabilities (range <= 1) keep the absolute limit
        scaled = self.worst / scale
        label = f"{name}max abs diff" + ("" if self.span <= 1 else " / output range")
        if scaled > limit and floor is not None:
            self.noise_floor = floor()
            widened = (FLOOR_FACTOR * self.noise_floor / scale
                       if self.noise_floor is not None else 0.0)
            if widened > limit:
                self.widened = (f"<= {widened:.3g}: {FLOOR_FACTOR:g} x PyTorch's own float32-vs-"
                                f"float64 difference {self.noise_floor / scale:.3g}, above the "
                                f"fixed {limit:g}")
                return Check(label, scaled, self.widened, scaled <= widened, where)
        return Check(label, scaled, f"<= {limit:g}", scaled <= limit, where)

    def record(self) -> dict:
        """parity.json's entry for this output."""
        return {"output": self.index,
                "kind": "integer" if self.integer else "float",
                "range": [self.low, self.high] if self.values else None,
                "max_abs_diff": self.worst, "differ": self.differ, "values": self.values,
                "noise_floor": self.noise_floor, "widened": self.widened,
                "passed": all(c.passed for c in self.checks),
                "checks": [c.__dict__ for c in self.checks]}


def output_rows(row: dict) -> list[str]:
    """parity.md: under a runtime's row, one row per output where there are several."""
    outputs = row.get("outputs") or []
    if len(outputs) < 2:
        return []
    lines = []
    for o in outputs:
        low, high = o["range"] or (0.0, 0.0)
        kind = (f"integer, {o['differ']} of {o['values']} differ" if o["kind"] == "integer"
                else f"float, {low:.3g} to {high:.3g}")
        judged = "; ".join(f"{c['name'].split(': ', 1)[-1]} {c['value']:.3g} ({c['limit']})"
                           for c in o["checks"]) or "judged by the labels"
        verdict = ("✓ pass" if o["passed"] else "✗ FAIL") + f": {judged}"
        lines.append(f"| | ↳ output {o['output']} ({kind}) | {o['max_abs_diff']:.2e} | "
                     f"| | | | | | {verdict} |")
    return lines


def floor_lines(document: dict) -> list[str]:
    """parity.md: each output judged against PyTorch's own rounding instead of the fixed
    limit, said plainly (an untrained deep network's float32 is that far from float64)."""
    widened = [f"- {fmt} on {runtime}, output {o['output']}: {o['widened']}"
               for fmt, entry in document["formats"].items()
               for runtime, r in entry["runtimes"].items()
               for o in r.get("outputs", []) if o.get("widened")]
    if not widened:
        return []
    return ["", "Noise floor: where PyTorch's own float32 and float64 results differ by more "
            "than a fixed tolerance on the same inputs, the file is judged against that "
            "difference instead:", *widened]


def one_line(message: str) -> str:
    """A message on one line: a runtime's multi-line trace must not break a log or a table."""
    return " ".join(message.split())


def cell(message: str) -> str:
    """A message as one table cell of parity.md."""
    return one_line(message).replace("|", "\\|")
