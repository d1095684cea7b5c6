"""Read the UCI Chronic Kidney Disease data from either file users have into one clean table.

Two sources are common: the Kaggle-style CSV (`kidney_disease.csv`, columns `id`, `wc`, `rc`,
`classification`) and the UCI original ARFF. Both carry tab/space noise ("\\tno", " yes",
"ckd\\t", "\\t?"), and the ARFF has a few malformed rows. Whatever the source, `load_ckd`
returns the same 24 attributes plus `class`, named as in the UCI documentation.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pocketml.folder.errors import DataError


@dataclass(frozen=True)
class Attribute:
    name: str
    description: str
    unit: str
    plausible_range: tuple[float, float] | None = None
    choices: tuple[str, ...] | None = None

    @property
    def is_numeric(self) -> bool:
        return self.choices is None


# The UCI attribute list. Ranges are what a clinician would accept as a real measurement,
# not the data's own min/max: the app rejects values outside them, and parity tests sample
# inside them.
ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("age", "age", "years", (1, 100)),
    Attribute("bp", "blood pressure (diastolic)", "mm/Hg", (40, 180)),
    Attribute("sg", "urine specific gravity", "", (1.005, 1.025)),
    Attribute("al", "urine albumin", "grade 0-5", (0, 5)),
    Attribute("su", "urine sugar", "grade 0-5", (0, 5)),
    Attribute("rbc", "red blood cells in urine", "", choices=("normal", "abnormal")),
    Attribute("pc", "pus cells in urine", "", choices=("normal", "abnormal")),
    Attribute("pcc", "pus cell clumps", "", choices=("present", "notpresent")),
    Attribute("ba", "bacteria", "", choices=("present", "notpresent")),
    Attribute("bgr", "blood glucose random", "mg/dL", (20, 500)),
    Attribute("bu", "blood urea", "mg/dL", (1, 400)),
    Attribute("sc", "serum creatinine", "mg/dL", (0.3, 80)),
    Attribute("sod", "sodium", "mEq/L", (100, 170)),
    Attribute("pot", "potassium", "mEq/L", (2, 50)),
    Attribute("hemo", "hemoglobin", "g/dL", (3, 20)),
    Attribute("pcv", "packed cell volume", "%", (9, 60)),
    Attribute("wbcc", "white blood cell count", "cells/cumm", (2000, 27000)),
    Attribute("rbcc", "red blood cell count", "millions/cmm", (2, 8)),
    Attribute("htn", "hypertension", "", choices=("yes", "no")),
    Attribute("dm", "diabetes mellitus", "", choices=("yes", "no")),
    Attribute("cad", "coronary artery disease", "", choices=("yes", "no")),
    Attribute("appet", "appetite", "", choices=("good", "poor")),
    Attribute("pe", "pedal edema", "", choices=("yes", "no")),
    Attribute("ane", "anemia", "", choices=("yes", "no")),
)
ATTRIBUTE_BY_NAME = {a.name: a for a in ATTRIBUTES}
NUMERIC = [a.name for a in ATTRIBUTES if a.is_numeric]
CATEGORICAL = [a.name for a in ATTRIBUTES if not a.is_numeric]
TARGET = "class"
CLASSES = ("notckd", "ckd")  # index = label; "ckd" is the positive class

# Every numeric attribute is an age, a pressure, a grade, a count, a concentration or a density:
# a negative value is impossible (an error), where one outside the plausible range is only
# implausible (kept, and reported).
IMPOSSIBLE_BELOW = 0.0
# The start of a file that is checked before the rest is read: a wrong file (junk, a binary,
# another table) is refused from its first lines, however big it is.
HEAD_BYTES = 1 << 16

# The Kaggle CSV renamed a few UCI columns.
CSV_RENAMES = {"wc": "wbcc", "rc": "rbcc", "classification": "class"}
MISSING = {"", "?"}


@dataclass(frozen=True)
class CKDData:
    frame: pd.DataFrame  # 24 attributes + "class" (0 = notckd, 1 = ckd)
    path: Path
    sha256: str
    format: str
    repaired_rows: int
    dropped_rows: int
    normalised_values: int = 0  # categories written in another letter case ("Yes", "CKD")
    encoding: str = "utf-8"
    implausible: tuple[str, ...] = ()  # kept values outside their plausible range, as "line 5, 'sod' = 4.5"
    empty_columns: tuple[str, ...] = ()  # attributes with no value in any row (all "?")

    def describe(self) -> str:
        counts = self.frame[TARGET].value_counts().to_dict()
        text = (
            f"{self.path} ({self.format}, sha256 {self.sha256[:12]}…): {len(self.frame)} rows, "
            f"ckd={counts.get(1, 0)} notckd={counts.get(0, 0)}, "
            f"{self.repaired_rows} malformed rows repaired, {self.dropped_rows} dropped, "
            f"{self.normalised_values} category values normalised to lower case"
        )
        if self.encoding != "utf-8":
            text += f"; not UTF-8, read as {self.encoding}"
        if self.implausible:
            shown = "; ".join(self.implausible[:3]) + ("; …" if len(self.implausible) > 3 else "")
            count = len(self.implausible)
            text += (f"; {count} value{'s' if count > 1 else ''} outside the plausible range "
                     f"kept ({shown})")
        if self.empty_columns:
            text += (f"; no values at all in column(s) {', '.join(self.empty_columns)} "
                     "(every row is ?)")
        return text

    def require_values(self, fields=None) -> None:
        """DataError when one of `fields` (None: every attribute) has no value in any row: it
        cannot be imputed, so no model can take it."""
        empty = [name for name in self.empty_columns if fields is None or name in fields]
        if empty:
            described = ", ".join(f"'{name}' ({ATTRIBUTE_BY_NAME[name].description})"
                                  for name in empty)
            raise DataError(f"{self.path}: column {described} has no values: all "
                            f"{len(self.frame)} rows have ? there, and the model takes "
                            f"{'it' if len(empty) == 1 else 'them'}, so it cannot be trained. "
                            "Fill the column in from the source records, or use a file where "
                            "it is recorded.")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_ckd(path: str | Path) -> CKDData:
    """Load and clean a CKD file (CSV or ARFF). Raises DataError naming file, place and fix."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file. Pass --data with the path of kidney_disease.csv "
                        "or chronic_kidney_disease_full.arff, or leave --data out to use the copy "
                        "shipped with pocketml.")
    _check_head(path)
    raw = path.read_bytes()
    text, encoding = _decode(path, raw)
    if not text.strip():  # after decoding, so a file holding only a byte-order mark is empty too
        raise DataError(f"{path}: the file is empty. Point --data at the CKD CSV or ARFF file.")
    if _looks_like_arff(text):
        records, repaired, dropped = _read_arff_rows(path, text)
        fmt = "arff"
    else:
        records, repaired, dropped = _read_csv_rows(path, text), 0, 0
        fmt = "csv"
    frame, normalised, implausible = _clean(path, records)
    empty = tuple(a.name for a in ATTRIBUTES if frame[a.name].isna().all())
    return CKDData(frame, path, hashlib.sha256(raw).hexdigest(), fmt, repaired, dropped,
                   normalised, encoding, tuple(implausible), empty)


def _check_head(path: Path) -> None:
    """Refuse a file from its first HEAD_BYTES when they are not the start of the CKD data:
    binary bytes, a first line longer than that, or a CSV header without the CKD columns."""
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    if len(head) == HEAD_BYTES:  # cut at the last whole line, never inside a character
        end = head.rfind(b"\n")
        if end < 0:
            raise DataError(f"{path}: the first {HEAD_BYTES // 1024} KB hold no line break, so "
                            "this is not a CSV or ARFF file; point --data at the CKD data "
                            "(kidney_disease.csv or chronic_kidney_disease_full.arff).")
        head = head[:end + 1]
    text, _ = _decode(path, head)
    if text.strip() and not _looks_like_arff(text):
        first = next(line for line in text.splitlines() if line.strip())
        _require_columns(path, [CSV_RENAMES.get(h.strip(), h.strip())
                                for h in next(csv.reader([first]))])


# Bytes no text file holds: NUL and the C0 controls other than tab, newlines and form feed.
BINARY = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f]")


def _decode(path: Path, raw: bytes) -> tuple[str, str]:
    """The text and its encoding: UTF-8, else Windows-1252 (what Excel on Windows writes)."""
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as err:
        if BINARY.search(raw) is None:
            try:
                return raw.decode("cp1252"), "Windows-1252"
            except UnicodeDecodeError:
                pass
        line = raw.count(b"\n", 0, err.start) + 1
        raise DataError(f"{path} line {line}: not a text file (byte {err.start} is neither UTF-8 "
                        "nor Windows-1252); expected the CKD data as CSV or ARFF. If it is "
                        "text, save it again as UTF-8.") from None


def _looks_like_arff(text: str) -> bool:
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("%"):
            return line.lower().startswith("@relation")
    return False


def _read_csv_rows(path: Path, text: str) -> list[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(text))
    header = [CSV_RENAMES.get(h.strip(), h.strip()) for h in next(reader)]
    _require_columns(path, header)
    _refuse_repeated_columns(path, header)
    rows = []
    for line_no, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            raise DataError(f"{path} line {line_no}: {len(values)} fields, the header has "
                            f"{len(header)}. Fix or delete that line.")
        rows.append((line_no, dict(zip(header, values))))
    return rows


def _read_arff_rows(path: Path, text: str) -> tuple[list[tuple[int, dict[str, str]]], int, int]:
    """ARFF reader that repairs the UCI file's known defects instead of refusing the file.

    Strict readers (scipy, liac-arff) reject the whole file over its 3 malformed rows; here a
    row with exactly one spurious empty field (a trailing comma, or ",,") is repaired and
    counted, and any other malformed row is dropped and counted.
    """
    header: list[str] = []
    rows, repaired, dropped = [], 0, 0
    in_data = False
    for line_no, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("%"):
            continue
        if not in_data:
            match = re.match(r"@attribute\s+'?([^'\s]+)'?", stripped, re.IGNORECASE)
            if match:
                header.append(match.group(1))
            elif stripped.lower().startswith("@data"):
                _require_columns(path, header)
                _refuse_repeated_columns(path, header)
                in_data = True
            continue
        values = next(csv.reader([stripped], skipinitialspace=True))
        if len(values) == len(header) + 1:
            empties = [i for i, v in enumerate(values) if not v.strip()]
            if len(empties) == 1:
                del values[empties[0]]
                repaired += 1
        if len(values) != len(header):
            dropped += 1
            continue
        rows.append((line_no, dict(zip(header, values))))
    if not in_data:
        raise DataError(f"{path}: ARFF header without an @data section; the file is truncated.")
    return rows, repaired, dropped


def _require_columns(path: Path, header: list[str]) -> None:
    missing = [c for c in [a.name for a in ATTRIBUTES] + [TARGET] if c not in header]
    if missing:
        raise DataError(
            f"{path}: missing required columns {', '.join(missing)}. Expected the UCI CKD data "
            "(kidney_disease.csv or chronic_kidney_disease_full.arff); is this the right file?"
        )


def _refuse_repeated_columns(path: Path, header: list[str]) -> None:
    """A column named twice would silently take its last copy's values: refuse instead."""
    for name in dict.fromkeys(header):
        places = [i + 1 for i, h in enumerate(header) if h == name]
        if len(places) > 1 and name:
            renamed = [old for old, new in CSV_RENAMES.items() if new == name]
            also = f" (the Kaggle CSV calls it {renamed[0]!r})" if renamed else ""
            raise DataError(f"{path}: column {name!r}{also} appears {len(places)} times in the "
                            f"header (columns {', '.join(map(str, places))}); keep one.")


def _clean(path: Path, records: list[tuple[int, dict[str, str]]]
           ) -> tuple[pd.DataFrame, int, list[str]]:
    """The table, how many category values were written in another letter case, and the
    values kept although they lie outside their plausible range."""
    if not records:
        raise DataError(f"{path}: a header but no data rows.")
    columns: dict[str, list] = {a.name: [] for a in ATTRIBUTES}
    labels = []
    normalised, implausible = 0, []
    for line_no, record in records:
        for attr in ATTRIBUTES:
            value = _parse_value(path, line_no, attr, record[attr.name])
            normalised += isinstance(value, str) and value != record[attr.name].strip()
            if attr.is_numeric and not _plausible(path, line_no, attr, value):
                implausible.append(f"line {line_no}, {attr.name!r} = {value:g}")
            columns[attr.name].append(value)
        label = _category(record[TARGET], CLASSES)
        if label is None:
            raise DataError(f"{path} line {line_no}, column '{TARGET}': unknown class label "
                            f"{record[TARGET]!r}; expected one of {', '.join(CLASSES)}.")
        normalised += label != record[TARGET].strip()
        labels.append(CLASSES.index(label))
    frame = pd.DataFrame(columns)
    frame[NUMERIC] = frame[NUMERIC].astype("float64")
    frame[TARGET] = np.asarray(labels, dtype="int64")
    return frame, normalised, implausible


# How far outside its plausible range, in widths of that range, a value may lie and still be
# kept as a (mis)measurement: the real data's sodium of 4.5 mEq/L (range 100-170) is 1.4 widths
# out. Farther than this it is a typo or a unit error that would wreck the scaling (1e308).
FAR_OUTSIDE = 10


def _plausible(path: Path, line_no: int, attr: Attribute, value: float) -> bool:
    """True inside the plausible range; False just outside it; DataError far outside it or
    where no measurement can be (below zero)."""
    low, high = attr.plausible_range
    if math.isnan(value) or low <= value <= high:
        return True
    if value < IMPOSSIBLE_BELOW:
        raise DataError(f"{path} line {line_no}, column '{attr.name}': {value:g} is impossible "
                        f"({attr.description} cannot be negative; plausible: {low:g} to "
                        f"{high:g} {attr.unit}".rstrip() + "); fix it (a stray minus sign?) or "
                        "replace it with ? for missing.")
    width = high - low
    if not low - FAR_OUTSIDE * width <= value <= high + FAR_OUTSIDE * width:
        raise DataError(f"{path} line {line_no}, column '{attr.name}': {value:g} is far outside "
                        f"the plausible range {low:g} to {high:g} {attr.unit}".rstrip()
                        + "; fix it (a typo or another unit?) or replace it with ? for missing.")
    return False


def _category(raw: str, choices: tuple[str, ...]) -> str | None:
    """The documented choice `raw` names, whatever its letter case and surrounding spaces: a
    hospital export writes "Yes", "NORMAL" or " Ckd"; None when it names none of them."""
    value = raw.strip().lower()
    return value if value in choices else None


def _parse_value(path: Path, line_no: int, attr: Attribute, raw: str):
    value = raw.strip()
    if value in MISSING:
        return np.nan if attr.is_numeric else None
    if attr.is_numeric:
        try:
            number = float(value)
        except ValueError:
            raise DataError(f"{path} line {line_no}, column '{attr.name}': {raw!r} is not a "
                            "number; fix it or replace it with ? for missing.") from None
        if not math.isfinite(number):  # float() accepts "inf" and "nan"; no measurement is
            raise DataError(f"{path} line {line_no}, column '{attr.name}': {raw!r} is not a "
                            "finite number; fix it or replace it with ? for missing.")
        return number
    choice = _category(value, attr.choices)
    if choice is None:
        raise DataError(f"{path} line {line_no}, column '{attr.name}': {raw!r} is not one of "
                        f"{', '.join(attr.choices)}.")
    return choice
