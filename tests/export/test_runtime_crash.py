"""A crash in one runtime is a row, not the end: LiteRT's CompiledModel and TensorFlow's TFLite
interpreter segfault on a truncated model.tflite (exit 139 before, with no message and no
parity.json). Their rows run in a child process (export/isolated.py), so the crash fails those
rows and verify still judges every other file and writes its report."""

from __future__ import annotations

import json
import signal

import numpy as np
import pytest

from pocketml.cli import main
from pocketml.export.isolated import Child, IsolatedRunner, RuntimeCrashed
from pocketml.export.runtimes import FP16_ARITHMETIC, load_runner
from pocketml.folder.manifest import write_manifest
from pocketml.folder.artifacts import load_test_set

CRASHED = f"RuntimeCrashed: the runtime crashed (signal {signal.SIGSEGV.value}) on this file"


def truncate_tflite(folder) -> None:
    data = (folder / "model.tflite").read_bytes()
    (folder / "model.tflite").write_bytes(data[:len(data) // 2])
    write_manifest(folder)  # the manifest agrees: only running the file shows it is broken


def test_a_truncated_tflite_fails_its_rows_and_parity_json_is_written(kidney_copy, tmp_path,
                                                                      capsys):
    truncate_tflite(kidney_copy)
    (kidney_copy / "parity.json").unlink()
    assert main(["verify", str(kidney_copy)]) == 1
    out = capsys.readouterr().out
    assert "parity: FAILED: tflite on litert, tflite on tensorflow (parity.json" in out
    rows = json.loads((kidney_copy / "parity.json").read_text())["formats"]
    tflite = rows["tflite"]["runtimes"]
    assert tflite["tensorflow"]["error"] == CRASHED
    # the fp16 row only gates the app's fp16 delegates: a file it cannot drive is "not run"
    assert tflite[FP16_ARITHMETIC]["error"] == f"not run: {CRASHED}"
    # LiteRT's interpreter refuses the file with its own exception, as it does in process
    assert tflite["litert"]["error"] == "ValueError: The model is not a valid Flatbuffer buffer"
    # the rows after the crashes ran in a new child and still pass
    for fmt in ("onnx", "tflite_fp16", "tflite_int8", "executorch"):
        assert all(row["passed"] for row in rows[fmt]["runtimes"].values()), fmt
    assert "the runtime crashed (signal 11)" in (kidney_copy / "parity.md").read_text()
    assert main(["bundle", str(kidney_copy), "--to", str(tmp_path / "app")]) == 2
    assert "parity FAILED" in capsys.readouterr().err
    assert not (tmp_path / "app").exists()


def test_a_child_runs_a_file_as_the_runtime_does_in_process(kidney_folder):
    path = kidney_folder / "model.tflite"
    inputs = [load_test_set(kidney_folder)[0][:5]]
    child = Child(["litert"])
    try:
        runner = IsolatedRunner(child, path, "litert")
        assert np.array_equal(runner.run(inputs)[0], load_runner(path, "litert").run(inputs)[0])
        assert runner.batch_limit is None
    finally:
        child.finish()
    assert child.process.returncode == 0  # it ends at the end of its input


def test_a_child_that_dies_is_named_and_the_next_row_gets_another(kidney_folder):
    child = Child([])
    child.process.kill()
    child.process.wait()
    with pytest.raises(RuntimeCrashed, match=rf"^the runtime crashed \(signal "
                                             rf"{signal.SIGKILL.value}\) on this file$"):
        IsolatedRunner(child, kidney_folder / "model.tflite", "litert")


def test_a_child_that_stops_answering_is_a_hang_not_a_wait_forever(kidney_folder, monkeypatch):
    monkeypatch.setattr("pocketml.export.isolated.ANSWER_SECONDS", 1)
    child = Child([])
    child.process.send_signal(signal.SIGSTOP)  # alive, but never answers
    with pytest.raises(RuntimeCrashed, match=r"^the runtime hung \(no answer in 1 s\)"):
        IsolatedRunner(child, kidney_folder / "model.tflite", "litert")
    assert child.process.returncode is not None  # it was ended, not left behind
