"""One clear message (exit 2, nothing written) for inputs that used to escape: a user module
that exits or is interrupted, an unnamed dynamic dimension, a format made from a file whose
export failed, a column with no values, an impossible value, a file of junk."""

from __future__ import annotations

import csv
import io
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest

from pocketml.cli import main
from pocketml.folder.errors import DataError
from pocketml.train.kidney.data import load_ckd
from test_output_folders import refused

NET = textwrap.dedent('''
    import sys

    import torch
    from torch import nn

    {at_import}

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(3, 1)

        def forward(self, x):
            {in_forward}
            return self.linear(x)

    def build():
        {in_factory}
        return Net().eval()
''')

ESCAPES = {  # the module's name, where it exits, the message
    "sys.exit(0) in the factory": ("exits_0", {"in_factory": "sys.exit(0)"},
                                   "calling build() raised SystemExit (it called sys.exit(0))"),
    "sys.exit(3) in the factory": ("exits_3", {"in_factory": "sys.exit(3)"}, "sys.exit(3)"),
    "sys.exit(7) at import": ("exits_7", {"at_import": "sys.exit(7)"},
                              "importing exits_7 raised SystemExit (it called sys.exit(7))"),
    "sys.exit(4) in forward": ("exits_4", {"in_forward": "sys.exit(4)"},
                               "Net(float32[2, 3]) raised SystemExit (it called sys.exit(4))"),
    "KeyboardInterrupt from the factory": ("interrupted", {"in_factory": "raise KeyboardInterrupt"},
                                           "calling build() raised KeyboardInterrupt"),
}


@pytest.mark.parametrize("name, places, expected", ESCAPES.values(), ids=list(ESCAPES))
def test_a_user_module_that_exits_or_is_interrupted_gets_one_message(
        write_user_module, tmp_path, monkeypatch, capsys, name, places, expected):
    code = NET.format(**{"at_import": "", "in_forward": "pass", "in_factory": "pass", **places})
    (tmp_path / f"{name}.py").write_text(code)
    write_user_module("unrelated", "")  # the current folder and sys.path: where --model looks
    monkeypatch.delitem(sys.modules, name, raising=False)
    refused(capsys, ["export", "--model", f"{name}:build", "--input-shape", "1,3", "--out",
                     "out", "--formats", "onnx"], expected)
    assert not (tmp_path / "out").exists()


def test_a_dynamic_dimension_without_a_name_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    refused(capsys, ["export", "--model", "nets:build", "--input-shape", "1,=12:int64:0,99",
                     "--out", "out"], "'=12' has no name before '='", "NAME=SIZE")
    assert not (tmp_path / "out").exists()


def test_a_quantized_tflite_whose_float_file_failed_says_so(write_user_module, tmp_path, capsys):
    write_user_module("histogram_net", textwrap.dedent('''
        import torch
        from torch import nn

        class Histogram(nn.Module):
            def forward(self, x):
                return torch.stack([torch.histc(row, bins=4) for row in x])

        def build():
            return Histogram().eval()
    '''))
    assert main(["export", "--model", "histogram_net:build", "--input-shape", "1,12", "--out",
                 "out", "--formats", "tflite,tflite_fp16"]) == 1
    out = capsys.readouterr().out
    assert "cannot represent operation" in out and "histc" in out
    assert ("tflite_fp16: not made: it is converted from model.tflite (tflite), whose export "
            "failed above") in out.replace("  tflite_fp16       FAILED model_fp16.tflite:",
                                           "tflite_fp16:")
    assert "is missing" not in out and ".tmp-" not in out


# --- the data ---------------------------------------------------------------------------------

def edited_csv(source: Path, target: Path, edit) -> Path:
    rows = list(csv.DictReader(io.StringIO(source.read_text())))
    for row in rows:
        edit(row)
    with target.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return target


def test_a_column_with_no_values_is_named_before_training(ckd_csv, tmp_path, capsys):
    data = edited_csv(ckd_csv, tmp_path / "no_hemo.csv", lambda row: row.update(hemo="?"))
    assert main(["data", "kidney", "--data", str(data)]) == 0
    assert "no values at all in column(s) hemo" in capsys.readouterr().out
    refused(capsys, ["train", "kidney", "--no-progress", "--data", str(data), "--out",
                     str(tmp_path / "kidney")],
            f"{data}: column 'hemo' (hemoglobin) has no values: all 400 rows have ?",
            "Fill the column in")
    assert not (tmp_path / "kidney").exists()


def test_an_impossible_value_is_an_error_and_an_implausible_one_a_warning(ckd_csv, tmp_path,
                                                                         capsys):
    first = lambda value: lambda row: row.update(age=value) if row["id"] == "0" else None
    negative = edited_csv(ckd_csv, tmp_path / "negative.csv", first("-5"))
    refused(capsys, ["data", "kidney", "--data", str(negative)],
            f"{negative} line 2, column 'age': -5 is impossible (age cannot be negative")
    old = edited_csv(ckd_csv, tmp_path / "old.csv", first("104"))
    assert main(["data", "kidney", "--data", str(old)]) == 0
    assert "line 2, 'age' = 104" in capsys.readouterr().out


@pytest.mark.parametrize("start, expected", [
    (b"", "hold no line break"),  # a gigabyte of zeros
    (b"junk,more junk\n", "missing required columns"),
])
def test_a_gigabyte_of_junk_is_refused_from_its_first_lines(tmp_path, start, expected):
    junk = tmp_path / "junk.csv"
    with junk.open("wb") as handle:
        handle.write(start)
        handle.truncate(1 << 30)  # sparse: a 1 GB file that takes no disk space
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=expected):
            load_ckd(junk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"read {peak / 1e6:.0f} MB of a file it should refuse from its start"
