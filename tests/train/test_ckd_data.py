"""The CKD loader: both real files give the same clean table, noisy variants are cleaned, and
every bad input fails with a message naming the file, the place and the problem (exit 2)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pocketml.cli import main
from pocketml.folder.errors import DataError
from pocketml.train.kidney.data import load_ckd
from pocketml.train.kidney.fetch import ARFF_NAME, CSV_NAME, shipped_file

CSV = shipped_file(CSV_NAME)
ARFF = shipped_file(ARFF_NAME)
CSV_SHA256 = "6e29d2a1a45469383bf12bf5f497d36a039fa98950259f225fc3881df1bb28b0"
ARFF_SHA256 = "a5ea96369b8516d725e4f353ad9c6e7e25a1a7db227bc761f59d8e0dfab15797"

# The UCI documentation's 24 attributes, in order, then the class (written out here rather than
# imported, so a change to the loader's list is caught).
UCI_COLUMNS = ["age", "bp", "sg", "al", "su", "rbc", "pc", "pcc", "ba", "bgr", "bu", "sc", "sod",
               "pot", "hemo", "pcv", "wbcc", "rbcc", "htn", "dm", "cad", "appet", "pe", "ane",
               "class"]
CATEGORICAL = ["rbc", "pc", "pcc", "ba", "htn", "dm", "cad", "appet", "pe", "ane"]
NUMERIC = [c for c in UCI_COLUMNS[:-1] if c not in CATEGORICAL]
CSV_HEADER = ("id,age,bp,sg,al,su,rbc,pc,pcc,ba,bgr,bu,sc,sod,pot,hemo,pcv,wc,rc,htn,dm,cad,"
              "appet,pe,ane,classification")


@pytest.fixture(scope="module")
def real_csv():
    return load_ckd(CSV)


@pytest.fixture(scope="module")
def real_arff():
    return load_ckd(ARFF)


# --------------------------------------------------------------------------- the real files

def test_real_files_are_the_documented_ones():
    assert CSV.is_file() and ARFF.is_file(), "pocketml ships both real CKD files"
    assert load_ckd(CSV).sha256 == CSV_SHA256
    assert load_ckd(ARFF).sha256 == ARFF_SHA256


@pytest.mark.parametrize("which", ["csv", "arff"])
def test_real_file_gives_400_clean_rows(which, real_csv, real_arff):
    data = real_csv if which == "csv" else real_arff
    frame = data.frame
    assert data.format == which
    assert list(frame.columns) == UCI_COLUMNS
    assert len(frame) == 400
    assert frame["class"].value_counts().to_dict() == {1: 250, 0: 150}
    for column in NUMERIC:
        assert frame[column].dtype == np.float64, column
    # No tab/space noise survives: every category is one of the documented choices.
    for column in CATEGORICAL:
        values = set(frame[column].dropna())
        assert values and all(v == v.strip() for v in values), (column, values)
        assert len(values) == 2, (column, values)
    assert frame["hemo"].notna().sum() > 300  # numbers stored as text ("\t43") were coerced
    assert frame["pcv"].notna().sum() > 300


def test_csv_and_arff_give_the_same_table(real_csv, real_arff):
    pd.testing.assert_frame_equal(real_csv.frame, real_arff.frame)


def test_arff_malformed_rows_are_repaired_and_reported(real_csv, real_arff):
    assert (real_arff.repaired_rows, real_arff.dropped_rows) == (3, 0)
    assert (real_csv.repaired_rows, real_csv.dropped_rows) == (0, 0)
    assert "3 malformed rows repaired" in real_arff.describe()
    # ARFF line 515 reads "...,no,,no,no,good,no,no,notckd": the ",," must be dropped, not
    # shift dm..class one place to the right. Data starts at line 146, so that is row 369.
    row = real_arff.frame.iloc[515 - 146]
    assert row["age"] == 75 and row["wbcc"] == 10300
    assert [row[c] for c in ["htn", "dm", "cad", "appet", "pe", "ane"]] == \
        ["no", "no", "no", "good", "no", "no"]
    assert row["class"] == 0
    # Line 215 ends in a trailing comma.
    row = real_arff.frame.iloc[215 - 146]
    assert row["age"] == 26 and row["ane"] == "no" and row["class"] == 1


def test_cli_data_describes_both_real_files(capsys):
    for path, fmt in [(CSV, "csv"), (ARFF, "arff")]:
        assert main(["data", "kidney", "--data", str(path)]) == 0
        out = capsys.readouterr().out
        assert f"({fmt}," in out and "400 rows, ckd=250 notckd=150" in out
        repaired = 3 if fmt == "arff" else 0
        assert f"{repaired} malformed rows repaired, 0 dropped" in out


# --------------------------------------------------------------------------- noisy variants

def test_noisy_csv_is_cleaned(tmp_path):
    rows = [
        # tab/space noise in categories and labels, "\t?" and "?" as missing, numbers as text
        '0," 42",80,1.020,1,0,\t?,normal,notpresent,notpresent,121,36,1.2,?,,15.4,\t44,'
        '\t7800,5.2,\tno, yes,no,good,no,no,ckd\t',
        '1,7 ,50,1.02,4,0,normal ,abnormal,notpresent,notpresent,,18,0.8,135, 4.5,11.3,38,'
        '6000,?,yes,\tno,no,poor,yes,no,notckd',
        '2,\t?,70,1.025,0,0,normal,normal,notpresent,notpresent,100,20,0.9,140,4,16,48,'
        '8000,5,no,no,\tno,good,no,no, notckd ',
    ]
    path = tmp_path / "noisy.csv"
    path.write_text(CSV_HEADER + "\n" + "\n".join(rows) + "\n")
    frame = load_ckd(path).frame
    assert list(frame.columns) == UCI_COLUMNS
    assert frame["age"].tolist()[:2] == [42.0, 7.0] and np.isnan(frame["age"][2])
    assert frame["pcv"][0] == 44.0 and frame["wbcc"][0] == 7800.0
    assert frame["pot"][1] == 4.5
    assert np.isnan(frame["sod"][0]) and np.isnan(frame["pot"][0]) and np.isnan(frame["rbcc"][1])
    assert pd.isna(frame["rbc"][0]) and frame["rbc"][1] == "normal"
    assert frame["htn"].tolist() == ["no", "yes", "no"]
    assert frame["dm"].tolist() == ["yes", "no", "no"]
    assert frame["cad"].tolist() == ["no", "no", "no"]
    assert frame["class"].tolist() == [1, 0, 0]


def test_categories_in_another_letter_case_are_the_same_and_counted(tmp_path, real_csv,
                                                                     capsys):
    """A hospital export writes "Yes", "NORMAL", " Ckd": the same categories, counted."""
    rows = list(csv.reader(io.StringIO(CSV.read_text())))
    header, changed = rows[0], 0
    for fields in rows[1:]:
        for column, spelling in [("htn", str.capitalize), ("pc", str.upper),
                                 ("classification", lambda v: " " + v.title() + " ")]:
            at = header.index(column)
            if fields[at].strip() not in ("", "?"):
                fields[at] = spelling(fields[at].strip())
                changed += fields[at].strip() != fields[at].strip().lower()
    path = tmp_path / "hospital.csv"
    with path.open("w", newline="") as out:
        csv.writer(out).writerows(rows)
    data = load_ckd(path)
    pd.testing.assert_frame_equal(data.frame, real_csv.frame)
    assert data.normalised_values == changed > 800
    assert real_csv.normalised_values == 0
    assert main(["data", "kidney", "--data", str(path)]) == 0
    assert f"{changed} category values normalised to lower case" in capsys.readouterr().out


def arff_header() -> str:
    lines = ARFF.read_text().splitlines()
    return "\n".join(lines[:lines.index(next(l for l in lines if l.strip() == "@data")) + 1])


def test_noisy_arff_rows_are_repaired_or_dropped_and_counted(tmp_path):
    good = ("48,80,1.020,1,0,?,normal,notpresent,notpresent,121,36,1.2,?,?,15.4,44,7800,5.2,"
            "yes,yes,no,good,no,no,ckd")
    rows = [
        good,
        good + ",",  # trailing comma: repaired
        good.replace("yes,yes,no,good", "yes,,yes,no,good"),  # ",,": repaired, no shift
        "\t62,80,1.010,2,3,normal,normal,notpresent,notpresent,423,53,1.8,?,?,9.6,31,7500,?,"
        "no, yes,no,poor,no,\tyes,\tckd\t",  # tab/space noise
        good + ",,",  # two spurious fields: dropped
        "% a comment line",
        "",
    ]
    path = tmp_path / "noisy.arff"
    path.write_text(arff_header() + "\n" + "\n".join(rows) + "\n")
    data = load_ckd(path)
    assert (data.format, data.repaired_rows, data.dropped_rows) == ("arff", 2, 1)
    frame = data.frame
    assert len(frame) == 4
    for i in range(3):
        assert frame.iloc[i][["htn", "dm", "cad", "appet", "class"]].tolist() == \
            ["yes", "yes", "no", "good", 1]
    assert frame.iloc[3]["age"] == 62 and frame.iloc[3]["dm"] == "yes"
    assert frame.iloc[3]["ane"] == "yes" and frame.iloc[3]["class"] == 1
    assert "2 malformed rows repaired, 1 dropped" in data.describe()


# --------------------------------------------------------------------------- bad inputs

def real_lines() -> list[str]:
    return CSV.read_text().splitlines()


def edit_line(line_no: int, column: str, value: str) -> str:
    """The real CSV with one field of one line (1-based, header = line 1) replaced."""
    lines = real_lines()
    header = lines[0].split(",")
    fields = lines[line_no - 1].split(",")
    fields[header.index(column)] = value
    lines[line_no - 1] = ",".join(fields)
    return "\n".join(lines) + "\n"


def drop_columns(*columns: str) -> str:
    rows = [line.split(",") for line in real_lines()]
    keep = [i for i, name in enumerate(rows[0]) if name not in columns]
    return "\n".join(",".join(r[i] for i in keep) for r in rows) + "\n"


PNG_BYTES = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
             b"\x00\x00\x00\x1f\x15\xc4\x89" + bytes(range(256)))

# name, file name, content (None: no file), substrings the message must contain
BAD_INPUTS = [
    ("missing file", "absent.csv", None, ["no such file"]),
    ("empty file", "empty.csv", b"", ["empty"]),
    ("blank file", "blank.csv", b"  \n\t\n", ["empty"]),
    ("only a UTF-8 BOM", "bom.csv", b"\xef\xbb\xbf", ["empty"]),
    ("PNG image", "picture.csv", PNG_BYTES, ["not a text file"]),
    ("random text", "notes.txt", b"Dear diary,\ntoday I measured nothing.\n",
     ["missing required columns"]),
    ("missing required columns", "cols.csv", lambda: drop_columns("hemo", "classification"),
     ["missing required columns", "hemo", "class"]),
    ("header only", "header.csv", lambda: real_lines()[0] + "\n", ["no data rows"]),
    ("unknown class label", "label.csv", lambda: edit_line(7, "classification", "maybe"),
     ["line 7", "'class'", "'maybe'"]),
    ("missing class label", "nolabel.csv", lambda: edit_line(9, "classification", "\t?"),
     ["line 9", "'class'"]),
    ("non-numeric value", "number.csv", lambda: edit_line(12, "hemo", "twelve"),
     ["line 12", "'hemo'", "'twelve'", "not a number"]),
    ("non-finite value", "inf.csv", lambda: edit_line(4, "bgr", "inf"), ["line 4", "'bgr'"]),
    ("unknown category", "category.csv", lambda: edit_line(5, "htn", "maybe"),
     ["line 5", "'htn'", "'maybe'"]),
    ("wrong number of fields", "fields.csv", lambda: edit_line(6, "age", "48,1"),
     ["line 6", "27 fields", "26"]),
    ("ARFF without @data", "cut.arff", lambda: arff_header().rsplit("@data", 1)[0],
     ["@data"]),
]


def write_bad(tmp_path: Path, filename: str, content) -> Path:
    path = tmp_path / filename
    if content is not None:
        content = content() if callable(content) else content
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.mark.parametrize("name,filename,content,expected", BAD_INPUTS,
                         ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_is_refused_with_a_clear_message(tmp_path, name, filename, content, expected):
    path = write_bad(tmp_path, filename, content)
    with pytest.raises(DataError) as raised:
        load_ckd(path)
    message = str(raised.value)
    assert str(path) in message, message
    for part in expected:
        assert part in message, (part, message)


@pytest.mark.parametrize("name,filename,content,expected", BAD_INPUTS,
                         ids=[case[0] for case in BAD_INPUTS])
def test_cli_data_exits_2_and_writes_nothing(tmp_path, capsys, monkeypatch, name, filename,
                                             content, expected):
    inputs = tmp_path / "in"
    inputs.mkdir()
    path = write_bad(inputs, filename, content)
    before = sorted(p.name for p in inputs.iterdir())
    monkeypatch.chdir(tmp_path)
    assert main(["data", "kidney", "--data", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("pocketml: error: ") and str(path) in captured.err
    assert expected[-1] in captured.err
    assert sorted(p.name for p in inputs.iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_console_script_reports_bad_data_on_stderr(tmp_path):
    path = write_bad(tmp_path, "number.csv", lambda: edit_line(12, "hemo", "twelve"))
    script = Path(sys.executable).with_name("pocketml")
    assert script.is_file(), "the pocketml console script is not installed in this venv"
    done = subprocess.run([str(script), "data", "kidney", "--data", str(path)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"pocketml: error: {path} line 12, column 'hemo': 'twelve'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["number.csv"]
