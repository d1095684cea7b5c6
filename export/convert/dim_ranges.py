"""The sizes torch.export can keep dynamic, read from its own refusal.

Every dynamic dimension starts as wide as the user allows (Dim(min=1) by default). A model that
needs a minimum size (a convolution without padding, a positional table of 128 rows) makes
torch.export refuse that range with "Constraints violated (n)!", list the guards its code
set, and where it can, end with "Suggested fixes: n = Dim('n', min=8, max=128)". Exporting
again with that range works. A guard it suggests nothing for, such as a convolution's
"(-7 + n) != 1" (torch specialises a size of 1), is solved here: the smallest size from which
the guard holds up to the range's top. Without this the dimension was fixed.
"""

from __future__ import annotations

import operator
import re

import sympy

Range = tuple[int, int | None]  # (min, max); max None: unbounded
SUGGESTED = re.compile(r"^\s*(\w+) = Dim\('\w+'(?P<body>[^)]*)\)", re.MULTILINE)
GUARD = re.compile(r"Not all values of (\w+) = (L\[.*?\]\.size\(\)\[\d+\]) in the specified "
                   r"range .*? satisfy the generated guard (.+?)\.?$", re.MULTILINE)
OPERATORS = {"!=": operator.ne, "==": operator.eq, "<=": operator.le, ">=": operator.ge,
             "<": operator.lt, ">": operator.gt}
# How far above a range's minimum a guard's solution is looked for, where the range has no top.
SEARCH = 4096


def narrowed(texts: list[str], ranges: dict[str, Range]) -> dict[str, Range] | None:
    """The ranges torch.export's refusal (in any of `texts`, an exception chain's messages)
    asks for, merged into `ranges`; None where it asks for nothing new (or not a range)."""
    asked: dict[str, Range] = {}
    for text in texts:
        for match in SUGGESTED.finditer(text.partition("Suggested fixes:")[2]):
            low = re.search(r"min=(\d+)", match["body"])
            high = re.search(r"max=(\d+)", match["body"])
            asked[match[1]] = (int(low[1]) if low else 1, int(high[1]) if high else None)
        for name, size, guard in GUARD.findall(text):
            if name not in asked:
                low = guard_minimum(guard, size, ranges.get(name, (1, None)))
                if low is not None:
                    asked[name] = (low, ranges.get(name, (1, None))[1])
    merged = {name: intersect(ranges.get(name, (1, None)), wanted)
              for name, wanted in asked.items()}
    changed = {name: r for name, r in merged.items() if r != ranges.get(name, (1, None))}
    if not changed or any(r[1] is not None and r[0] > r[1] for r in changed.values()):
        return None
    return {**ranges, **changed}


def intersect(a: Range, b: Range) -> Range:
    highs = [h for h in (a[1], b[1]) if h is not None]
    return max(a[0], b[0]), min(highs) if highs else None


def guard_minimum(guard: str, size: str, current: Range) -> int | None:
    """The smallest n >= current minimum from which `guard` (with `size` standing for n) holds
    for every n up to the range's top; None where it cannot be read or never holds."""
    try:
        checks = [comparison(part, size) for part in guard.split(" and ")]
    except (sympy.SympifyError, SyntaxError, TypeError, ValueError, AttributeError):
        return None
    low, high = current
    holds = [all(check(value) for check in checks)
             for value in range(low, (high if high is not None else low + SEARCH) + 1)]
    if not holds or not holds[-1]:
        return None
    failing = [i for i, ok in enumerate(holds) if not ok]
    return low + (failing[-1] + 1 if failing else 0)


def comparison(text: str, size: str):
    """`LEFT OP RIGHT` as a function of n. Each side goes through sympy (floor division,
    products of sizes); the operator is Python's: sympify turns `a != 1` into plain False."""
    left, op, right = re.fullmatch(r"(.+?)\s*(!=|==|<=|>=|<|>)\s*(.+)", text.strip()).groups()
    n = sympy.Symbol("n", integer=True, positive=True)
    sides = [sympy.lambdify(n, sympy.sympify(side.replace(size, "n"), locals={"n": n}), "math")
             for side in (left, right)]
    return lambda value: OPERATORS[op](sides[0](value), sides[1](value))
