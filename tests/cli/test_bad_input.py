"""One message and exit 2 for every bad input a hostile but realistic user tried, no traceback,
and nothing written: bad arguments and data files, and the inputs that used to escape (a user
module that exits or is interrupted, an unnamed dynamic dimension, a format made from a file
whose export failed, a column with no values, an impossible value, a file of junk). Each case
is one docs/reliability.md promises a clear message for."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest

from pocketml.cli import main
from pocketml.folder.errors import DataError
from pocketml.folder.manifest import write_manifest
from pocketml.train.kidney.data import load_ckd
from pocketml.train.kidney.fetch import CSV_NAME, shipped_file
from test_output_folders import refused


CSV = shipped_file(CSV_NAME)


def exit_2(capsys, argv: list[str], *expected: str) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert err.startswith("pocketml: error: ") and "Traceback" not in err, err
    for part in expected:
        assert part in err, (part, err)
    return err


# --- arguments -------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["train", "kidney", "--seed", "4294967296"],
    ["train", "digits", "--seed", "4294967296"],
    ["train", "sequence", "--seed", "-1"],
    ["all", "--seed", "4294967296"],
])
def test_a_seed_outside_what_the_generators_take_is_refused(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)
    exit_2(capsys, argv, "--seed", "0 to 4294967295")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("k", ["999", "0", "12"])
def test_k_with_the_lectures_fixed_features_is_refused_not_ignored(tmp_path, monkeypatch, capsys,
                                                                    k):
    monkeypatch.chdir(tmp_path)
    exit_2(capsys, ["train", "kidney", "--k", k], f"--k {k}", "--features auto")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("repeats", ["0", "-5"])
def test_bench_needs_some_repeats(kidney_copy, capsys, repeats):
    exit_2(capsys, ["bench", str(kidney_copy), "--repeats", repeats], f"--repeats {repeats}")
    assert not (kidney_copy / "bench.json").exists()


# --- a model folder's files, edited with a manifest that matches them again -----------------

def set_json(path: Path, document) -> None:
    path.write_text(json.dumps(document))


MANIFEST_EDITS = {
    "no files table": (lambda m: m.pop("files"), "is not a pocketml manifest"),
    "files as a list": (lambda m: m.update(files=["model.onnx"]), "is not a pocketml manifest"),
    "an entry that is a string": (lambda m: m["files"].update({"model.onnx": "abc"}),
                                  "model.onnx: its entry is not"),
    "an entry that is a list": (lambda m: m["files"].update({"model.onnx": [1, 2]}),
                                "model.onnx: its entry is not"),
    "not an object": (lambda m: m.clear() or m.update({"0": 1}), "is not a pocketml manifest"),
}


@pytest.mark.parametrize("edit, expected", MANIFEST_EDITS.values(), ids=list(MANIFEST_EDITS))
def test_a_malformed_manifest_gets_one_message(kidney_copy, capsys, edit, expected):
    manifest = json.loads((kidney_copy / "manifest.json").read_text())
    edit(manifest)
    set_json(kidney_copy / "manifest.json", manifest)
    exit_2(capsys, ["verify", str(kidney_copy)], expected)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


FILE_EDITS = {
    "model.json of another size": (
        lambda f: set_json(f / "model.json", {"config": {"architecture": "mlp", "n_features": 3}}),
        "model.safetensors: these weights do not fit model.json"),
    "model.json without a config": (lambda f: set_json(f / "model.json", {"config": "mlp"}),
                                    "model.json: not a model pocketml can rebuild"),
    "model.json of an unknown architecture": (
        lambda f: set_json(f / "model.json", {"config": {"architecture": "gpt"}}),
        "model.json: not a model pocketml can rebuild"),
    "truncated test_set.npz": (lambda f: truncate(f / "test_set.npz"),
                               "test_set.npz: not a readable array file"),
    "test_set.npz without targets": (
        lambda f: __import__("numpy").savez(f / "test_set.npz", x=[[1.0]]),
        "test_set.npz: lacks the arrays y"),
    "empty model.safetensors": (lambda f: (f / "model.safetensors").write_bytes(b""),
                                "model.safetensors: not a readable safetensors file"),
    "export.json of {}": (lambda f: set_json(f / "export.json", {}),
                          "export.json lists no exported format"),
    "export.json of nonsense": (lambda f: set_json(f / "export.json", {"onnx": "yes"}),
                                "export.json: entry 'onnx' is not one pocketml writes"),
    "schema.json that is not JSON": (lambda f: (f / "schema.json").write_text("{"),
                                      "schema.json line 1: not valid JSON"),
}


@pytest.mark.parametrize("edit, expected", FILE_EDITS.values(), ids=list(FILE_EDITS))
def test_an_edited_or_damaged_file_gets_one_message_naming_it(kidney_copy, capsys, edit,
                                                             expected):
    edit(kidney_copy)
    write_manifest(kidney_copy)  # the checksums agree: the content itself must be checked
    exit_2(capsys, ["verify", str(kidney_copy)], expected)


def test_an_empty_weights_file_is_first_caught_by_its_checksum(kidney_copy, capsys):
    (kidney_copy / "model.safetensors").write_bytes(b"")
    exit_2(capsys, ["verify", str(kidney_copy)],
           "model.safetensors does not match its checksum")


# --- data files ------------------------------------------------------------------------------

def real_rows() -> list[list[str]]:
    return list(csv.reader(io.StringIO(CSV.read_text())))


def write_rows(path: Path, rows, encoding: str = "utf-8") -> Path:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    path.write_bytes(text.getvalue().encode(encoding))
    return path


def test_a_column_given_twice_is_refused_not_silently_overwritten(tmp_path, capsys):
    rows = real_rows()
    at = rows[0].index("hemo")
    for row in rows:
        row.append(row[at])
    path = write_rows(tmp_path / "twice.csv", rows)
    exit_2(capsys, ["data", "kidney", "--data", str(path)], "column 'hemo' appears 2 times",
           f"columns {at + 1}, {len(rows[0])}")
    rows = real_rows()
    rows[0].append("wbcc")  # the Kaggle CSV's "wc" is the UCI "wbcc"
    for row in rows[1:]:
        row.append("7000")
    path = write_rows(tmp_path / "renamed.csv", rows)
    exit_2(capsys, ["data", "kidney", "--data", str(path)], "column 'wbcc'", "calls it 'wc'")


def test_a_windows_1252_file_is_read_and_says_so(tmp_path, capsys):
    rows = real_rows()
    rows[1][0] = "1 (Müller, café)"  # the id column, which the loader ignores
    path = write_rows(tmp_path / "excel.csv", rows, encoding="cp1252")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    data = load_ckd(path)
    assert len(data.frame) == 400 and data.encoding == "Windows-1252"
    assert main(["data", "kidney", "--data", str(path)]) == 0
    assert "not UTF-8, read as Windows-1252" in capsys.readouterr().out


def test_a_value_far_outside_its_range_is_refused_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rows = real_rows()
    at = rows[0].index("sod")
    rows[5][at] = "1e308"
    path = write_rows(tmp_path / "typo.csv", rows)
    exit_2(capsys, ["train", "kidney", "--data", str(path)], "line 6, column 'sod'", "1e+308",
           "far outside the plausible range 100 to 170")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["typo.csv"]


def test_the_real_datas_one_implausible_sodium_is_kept_and_reported(ckd_arff):
    data = load_ckd(ckd_arff)
    assert data.implausible == ("line 167, 'sod' = 4.5",)
    assert "1 value outside the plausible range kept (line 167, 'sod' = 4.5)" in data.describe()


# --- the console script: no traceback ---------------------------------------------------------

def test_the_console_script_prints_one_line_and_no_traceback(kidney_copy, tmp_path):
    set_json(kidney_copy / "export.json", {})
    write_manifest(kidney_copy)
    script = Path(sys.executable).with_name("pocketml")
    for argv in (["verify", str(kidney_copy)], ["bench", str(kidney_copy), "--repeats", "0"],
                 ["train", "kidney", "--seed", "4294967296"]):
        done = subprocess.run([str(script), *argv], capture_output=True, text=True, timeout=300,
                              cwd=tmp_path)
        assert done.returncode == 2, (argv, done.stderr)
        assert "Traceback" not in done.stderr and done.stderr.startswith("pocketml: error: ")
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


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
