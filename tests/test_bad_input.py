"""One message and exit 2 for every bad input a hostile but realistic user tried: no traceback,
and nothing written. Each case is one the README promises a clear message for."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pocketml.cli import main
from pocketml.folder.manifest import write_manifest
from pocketml.train.kidney.data import load_ckd
from pocketml.train.kidney.fetch import CSV_NAME, shipped_file

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
