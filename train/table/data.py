"""Any CSV as the lecture's pipeline takes it: each column's type inferred (and shown for the
user to confirm), tab/space noise stripped, numbers coerced, the target's task decided.

What the data cannot say (units, plausible ranges, readable labels, columns to leave out) comes
from an optional sidecar JSON file (README, "Your own table"). A file that cannot be read as a
table gets a DataError naming the column, the line and the fix, before anything is written.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pocketml.folder.errors import DataError

MISSING = {"", "?", "na", "n/a", "nan", "null", "none"}
# A column where at least this share of the values are numbers is numeric with typos in it,
# not a choice: its other values are named as errors.
NUMERIC_SHARE = 0.9
MAX_CHOICES = 20  # more distinct words than this is an identifier or free text, not a choice
MAX_CLASSES = 20
MIN_ROWS = 20
# A numeric target with at most this many distinct whole values is a class label (0/1, 1-5).
MAX_INTEGER_CLASSES = 10
TASK_NAMES = {"binary": "binary_classification", "multiclass": "multiclass_classification",
              "regression": "regression"}


@dataclass
class Column:
    name: str
    kind: str  # "numeric" or "categorical"
    label: str
    unit: str = ""
    range: tuple[float, float] | None = None  # numeric: the form's plausible range
    choices: list[str] = field(default_factory=list)  # categorical, sorted
    missing: int = 0


@dataclass
class TableData:
    frame: pd.DataFrame  # the input columns: numbers as float64 (NaN missing), words or None
    y: np.ndarray  # class codes (int64) or values (float64)
    task: str  # binary, multiclass or regression
    columns: dict[str, Column]
    target: Column
    classes: list[str]  # readable, class i = code i; binary: the positive class last
    path: Path
    sha256: str
    dropped_rows: int  # rows without a target value

    @property
    def numeric(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.kind == "numeric"]

    @property
    def choices(self) -> dict[str, list[str]]:
        return {c.name: c.choices for c in self.columns.values() if c.kind == "categorical"}

    def describe(self) -> str:
        """The inferred types, one line per column, for the user to confirm."""
        lines = [f"{self.path} (sha256 {self.sha256[:12]}…): {len(self.frame)} rows, "
                 f"{self.dropped_rows} dropped without a value of '{self.target.name}'",
                 f"target '{self.target.name}': {self.task}" + (
                     f", classes {', '.join(self._counts())}" if self.classes
                     else f", {describe_range(self.target)}"),
                 "columns as read (give a sidecar JSON to change a type, unit, range or label):"]
        for column in self.columns.values():
            what = (f"numeric, {describe_range(column)}" if column.kind == "numeric"
                    else f"categorical: {', '.join(column.choices)}")
            lines.append(f"  {column.name:<20} {what}; {column.missing} missing")
        return "\n".join(lines)

    def _counts(self) -> list[str]:
        counts = np.bincount(self.y, minlength=len(self.classes))
        return [f"{name}={n}" for name, n in zip(self.classes, counts)]


def describe_range(column: Column) -> str:
    low, high = column.range
    return f"range {low:g} to {high:g}" + (f" {column.unit}" if column.unit else "")


def load_table(path: Path, target: str, task: str = "auto", sidecar: dict | None = None
               ) -> TableData:
    """Read and type the CSV at `path`; DataError naming the column and the fix."""
    path = Path(path)
    sidecar = sidecar or {}
    raw, header = read_raw(path)
    if target not in header:
        raise DataError(f"{path}: no column '{target}' to predict; its columns are "
                        f"{', '.join(header)}. Give one of them as --target.")
    ignored = set(sidecar.get("ignore", []))
    strangers = sorted((ignored | set(sidecar.get("columns", {}))) - set(header))
    if strangers:
        raise DataError(f"sidecar: column(s) {', '.join(map(repr, strangers))} are not in "
                        f"{path}; its columns are {', '.join(header)}.")
    values = raw[target]
    known = ~values.str.lower().isin(MISSING)
    dropped = int((~known).sum())
    raw = raw[known].reset_index(drop=True)
    if len(raw) < MIN_ROWS:
        raise DataError(f"{path}: {len(raw)} rows with a value of '{target}'; training needs at "
                        f"least {MIN_ROWS}. Use a bigger table.")
    columns, frame = {}, {}
    for name in header:
        if name == target or name in ignored:
            continue
        columns[name], frame[name] = typed_column(path, raw, name, sidecar.get("columns", {}))
    if not columns:
        raise DataError(f"{path}: no column besides '{target}' to predict it from.")
    y, task, classes, target_column = typed_target(path, raw, target, task,
                                                   sidecar.get("target", {}))
    return TableData(pd.DataFrame(frame), y, task, columns, target_column, classes, path,
                     hashlib.sha256(path.read_bytes()).hexdigest(), dropped)


def read_raw(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Every value as stripped text (never a guess by pandas), and the header."""
    if not path.is_file():
        raise DataError(f"{path}: no such file. Pass --data with the path of your CSV.")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: byte {err.start} is not UTF-8 text; save the table as UTF-8 "
                        "CSV.") from None
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if any(v.strip() for v in r)]
    if len(rows) < 2:
        raise DataError(f"{path}: no data rows under a header; point --data at a CSV table.")
    header = [h.strip() for h in rows[0]]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if "" in header or repeated:
        raise DataError(f"{path}: every column needs a name of its own; "
                        + (f"{', '.join(map(repr, repeated))} appear(s) more than once"
                           if repeated else f"column {header.index('') + 1} has none")
                        + ". Fix the header line.")
    for line, values in enumerate(rows[1:], start=2):
        if len(values) != len(header):
            raise DataError(f"{path} line {line}: {len(values)} fields, the header has "
                            f"{len(header)}. Fix or delete that line.")
    frame = pd.DataFrame(rows[1:], columns=header, dtype=str)
    return frame.apply(lambda column: column.str.strip()), header


def numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The values as float64 (NaN where missing or not a number), and which are missing."""
    missing = values.str.lower().isin(MISSING)
    parsed = pd.to_numeric(values.where(~missing), errors="coerce")
    return parsed, missing


def typed_column(path: Path, raw: pd.DataFrame, name: str, given: dict
                 ) -> tuple[Column, pd.Series]:
    values = raw[name]
    info = given.get(name, {})
    parsed, missing = numbers(values)
    if missing.all():
        raise DataError(f"{path}: column '{name}' has no values (every row is empty or ?); "
                        "fill it in, or list it under \"ignore\" in the sidecar.")
    bad = parsed.isna() & ~missing
    share = 1 - bad.sum() / (~missing).sum()
    kind = info.get("kind") or ("numeric" if share >= NUMERIC_SHARE else "categorical")
    if kind not in ("numeric", "categorical"):
        raise DataError(f"sidecar: column '{name}' kind {kind!r}: give numeric or categorical.")
    label, unit = info.get("label", name), info.get("unit", "")
    if kind == "numeric":
        if bad.any():
            line = int(np.flatnonzero(bad)[0]) + 2
            raise DataError(f"{path} line {line}, column '{name}': {values[bad].iloc[0]!r} is "
                            f"not a number ({int(bad.sum())} such values); fix it or replace it "
                            "with ? for missing, or declare the column categorical in the "
                            "sidecar.")
        if not np.isfinite(parsed[~missing]).all():
            raise DataError(f"{path}: column '{name}' holds an infinite value; fix it or "
                            "replace it with ? for missing.")
        return Column(name, kind, label, unit, numeric_range(path, name, parsed, info),
                      missing=int(missing.sum())), parsed
    words = values.str.lower().where(~missing, None)
    choices = sorted(words.dropna().unique())
    if len(choices) > MAX_CHOICES:
        raise DataError(f"{path}: column '{name}' has {len(choices)} different words, too many "
                        f"for a choice (at most {MAX_CHOICES}): an identifier or free text? "
                        "List it under \"ignore\" in the sidecar.")
    return Column(name, "categorical", label, unit, choices=choices,
                  missing=int(missing.sum())), words


def numeric_range(path: Path, name: str, parsed: pd.Series, info: dict) -> tuple[float, float]:
    """The sidecar's range, else the data's own, widened by 5 % of its span on each side (not
    below zero for a column that never is) and rounded outward to 3 significant digits."""
    if "range" in info:
        low, high = info["range"]
        if not (all(isinstance(v, (int, float)) and math.isfinite(v) for v in (low, high))
                and low < high):
            raise DataError(f"sidecar: column '{name}' range {info['range']!r} must be two "
                            "numbers [low, high] with low < high.")
        return float(low), float(high)
    low, high = float(parsed.min()), float(parsed.max())
    margin = 0.05 * (high - low) or max(abs(low), 1.0) * 0.05
    wide_low = low - margin if low < 0 or low - margin >= 0 else 0.0
    return round_out(wide_low, math.floor), round_out(high + margin, math.ceil)


def round_out(value: float, direction) -> float:
    if value == 0:
        return 0.0
    step = 10 ** (math.floor(math.log10(abs(value))) - 2)
    return float(direction(value / step) * step)


def typed_target(path: Path, raw: pd.DataFrame, name: str, task: str, given: dict
                 ) -> tuple[np.ndarray, str, list[str], Column]:
    parsed, _ = numbers(raw[name])
    is_number = parsed.notna().all()
    distinct = sorted(parsed.unique()) if is_number else sorted(raw[name].str.lower().unique())
    whole = is_number and all(float(v).is_integer() for v in distinct)
    if task == "auto":
        task = ("regression" if is_number and not (whole and len(distinct) <= MAX_INTEGER_CLASSES)
                else "binary" if len(distinct) == 2 else "multiclass")
    label = given.get("label", name)
    if task == "regression":
        if not is_number:
            raise DataError(f"{path}: column '{name}' holds words, so it cannot be a regression "
                            "target; use --task binary or multiclass.")
        column = Column(name, "numeric", label, given.get("unit", ""),
                        numeric_range(path, name, parsed, given))
        return parsed.to_numpy(np.float64), task, [], column
    wanted = {"binary": (2, 2), "multiclass": (3, MAX_CLASSES)}[task]
    if not wanted[0] <= len(distinct) <= wanted[1]:
        raise DataError(f"{path}: column '{name}' has {len(distinct)} different values; --task "
                        f"{task} needs {wanted[0]} to {wanted[1]}. Choose another --task or "
                        "--target.")
    raw_names = [f"{v:g}" for v in distinct] if is_number else list(distinct)
    positive = str(given.get("positive", raw_names[-1]))
    if task == "binary":
        if positive not in raw_names:
            raise DataError(f"sidecar: target positive {positive!r} is not one of "
                            f"{', '.join(raw_names)}.")
        raw_names = [n for n in raw_names if n != positive] + [positive]
    values = [f"{v:g}" for v in parsed] if is_number else list(raw[name].str.lower())
    codes = np.array([raw_names.index(v) for v in values], dtype=np.int64)
    readable = [str(given.get("classes", {}).get(n, n)) for n in raw_names]
    return codes, task, readable, Column(name, "categorical", label, choices=raw_names)


def read_sidecar(path: Path | None) -> dict:
    """The sidecar JSON (README: "Your own table"), checked for keys it does not know."""
    if path is None:
        return {}
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DataError(f"--sidecar {path}: no such file.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"--sidecar {path}: not valid JSON ({err}).") from None
    unknown = set(document) - {"columns", "target", "ignore"} if isinstance(document, dict) \
        else {"(not an object)"}
    if unknown:
        raise DataError(f"--sidecar {path}: unknown key(s) {', '.join(sorted(unknown))}; it "
                        "takes columns, target and ignore (see the README).")
    return document
