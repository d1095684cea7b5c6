"""Nothing lost, the same way in every command: pocketml replaces only folders it wrote,
refuses a bad target before any work, swaps a folder in whole (trained, exported and verified)
or not at all, cleans what dead runs left, and refuses a second run on a folder another run is
writing; a pocketml folder holding what pocketml did not write is refused (exit 2, naming it)
unless --force; a full disk during train, export or bundle is one message naming the folder
and the space it needs, with the previous folder as it was; `verify` on a read-only folder
reports its verdict and says what it could not write."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from pocketml.cli import main
from pocketml.folder.errors import UserError
from pocketml.folder.manifest import write_manifest
from pocketml.folder.replace import folder_lock, replace_folder


POCKETML = Path(sys.executable).with_name("pocketml")


def tree(folder: Path) -> dict[str, str]:
    """Every file below `folder` (hidden ones too) with its sha256."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def user_folder(path: Path) -> Path:
    """A folder of the user's own: not written by pocketml."""
    path.mkdir(parents=True)
    (path / "main.py").write_text("print('my app')\n")
    (path / "notes.txt").write_text("do not lose me\n")
    return path


@contextmanager
def read_only(path: Path):
    """A folder nothing may be written into. Root ignores file modes, so as root the folder is
    made immutable (chattr +i), which binds root too."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield path
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(0o755)


def refused(capsys, argv: list[str], *expected: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("pocketml: error: "), err
    for part in expected:
        assert part in err, (part, err)
    return err


# --- the mechanism ---------------------------------------------------------------------------

def test_a_folder_is_replaced_whole_and_only_on_success(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "model"
    with replace_folder(target) as staging:
        (staging / "a.txt").write_text("first")
    assert (target / "a.txt").read_text() == "first"
    assert (target / "manifest.json").is_file()  # what makes it pocketml's for the next run
    with pytest.raises(RuntimeError):
        with replace_folder(target) as staging:
            (staging / "a.txt").write_text("second")
            raise RuntimeError("midway")
    assert (target / "a.txt").read_text() == "first"
    with replace_folder(target) as staging:
        (staging / "b.txt").write_text("third")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt", "manifest.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_what_dead_runs_left_is_cleaned_and_a_half_swap_is_undone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "model"
    with replace_folder(target) as staging:
        (staging / "a.txt").write_text("first")
    # A run killed mid-way leaves its staging folder and a temporary file inside the target.
    (tmp_path / ".model.tmp-99999-abcd").mkdir()
    (tmp_path / ".model.tmp-99999-abcd" / "model.onnx").write_text("half")
    (target / ".tmp-99999-model.tflite").write_text("half")
    with replace_folder(target, keep_contents=True) as staging:
        assert sorted(p.name for p in staging.iterdir()) == ["a.txt", "manifest.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert not (target / ".tmp-99999-model.tflite").exists()
    # A run killed between moving the old folder aside and moving the new one in.
    target.rename(tmp_path / ".model.old-99999-efgh")
    with replace_folder(target, keep_contents=True) as staging:
        assert (staging / "a.txt").read_text() == "first"
    assert (target / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_a_second_run_on_a_folder_being_written_is_refused(tmp_path, monkeypatch, capsys,
                                                          kidney_folder):
    monkeypatch.chdir(tmp_path)
    folder = Path(shutil.copytree(kidney_folder, tmp_path / "kidney"))
    before = tree(folder)
    with folder_lock(folder):
        for argv in (["export", str(folder), "--formats", "onnx"], ["verify", str(folder)],
                     ["train", "kidney", "--out", str(folder)],
                     ["bundle", str(folder), "--to", str(tmp_path / "app")]):
            refused(capsys, argv, "another pocketml command", "is writing it right now")
    assert tree(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kidney"]


# --- never destroy what pocketml did not write ----------------------------------------------

def test_train_into_a_folder_of_the_users_refuses_and_keeps_every_file(tmp_path, monkeypatch,
                                                                       capsys):
    monkeypatch.chdir(tmp_path)
    mydocs = user_folder(tmp_path / "mydocs")
    before = tree(mydocs)
    refused(capsys, ["train", "kidney", "--out", "mydocs"], "mydocs",
            "holds files pocketml did not write")
    assert tree(mydocs) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mydocs"]


def test_bundle_into_a_folder_of_the_users_refuses_and_keeps_its_main_py(tmp_path, monkeypatch,
                                                                          capsys, kidney_folder):
    monkeypatch.chdir(tmp_path)
    myapp = user_folder(tmp_path / "myapp")
    before = tree(myapp)
    refused(capsys, ["bundle", str(kidney_folder), "--to", "myapp"],
            "holds files pocketml did not write")
    assert tree(myapp) == before


@pytest.mark.parametrize("argv", [
    ["train", "kidney", "--out", "afile"],
    ["bundle", "{kidney}", "--to", "afile"],
    ["export", "--model", "nets:build", "--input-shape", "1,3", "--out", "afile"],
    ["all", "--artifacts", "afile"],
])
def test_an_existing_file_as_the_target_is_refused_and_survives(tmp_path, monkeypatch, capsys,
                                                               kidney_folder, argv):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("precious\n")
    argv = [a.replace("{kidney}", str(kidney_folder)) for a in argv]
    refused(capsys, argv, "afile")
    assert (tmp_path / "afile").read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


@pytest.mark.parametrize("target", [".", "..", "here/.."])
def test_the_current_folder_or_one_above_it_is_refused(tmp_path, monkeypatch, capsys,
                                                       kidney_folder, target):
    work = tmp_path / "work"
    work.mkdir()
    (work / "here").mkdir()
    monkeypatch.chdir(work)
    before = tree(tmp_path)
    for argv in (["bundle", str(kidney_folder), "--to", target],
                 ["train", "kidney", "--out", target]):
        refused(capsys, argv, "the current folder or one above it")
    assert tree(tmp_path) == before


def test_a_read_only_place_is_refused_before_any_work(tmp_path, monkeypatch, capsys,
                                                      kidney_folder):
    monkeypatch.chdir(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    kidney = Path(shutil.copytree(kidney_folder, tmp_path / "kidney"))
    before = tree(tmp_path)
    with read_only(locked), read_only(kidney):
        refused(capsys, ["train", "kidney", "--out", "locked/kidney"], "not writable")
        refused(capsys, ["bundle", str(kidney_folder), "--to", "locked/app"], "not writable")
        refused(capsys, ["train", "kidney", "--out", "kidney"], "not writable")
    assert tree(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kidney", "locked"]


# --- "the previous folder stays as it was", for every command --------------------------------

def test_pocketml_all_killed_after_training_keeps_the_previous_exported_folder(
        tmp_path, kidney_folder, ckd_csv):
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    previous = Path(shutil.copytree(kidney_folder, artifacts / "kidney"))
    before = tree(previous)
    run = subprocess.Popen([str(POCKETML), "all", "--no-progress", "--data", str(ckd_csv),
                            "--artifacts", str(artifacts), "--app-model", str(tmp_path / "app")],
                           cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        # Trained and exporting: the new folder has its weights and its first exported file.
        while not list(artifacts.glob(".kidney.tmp-*/model.onnx")):
            assert run.poll() is None, "pocketml all ended before it was killed"
            assert time.monotonic() < deadline, "pocketml all never reached its export"
            time.sleep(0.02)
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    assert tree(previous) == before
    assert list(artifacts.glob(".kidney.tmp-*"))  # the dead run's staging folder...
    assert main(["verify", str(previous)]) == 0  # ...is cleaned by the next command on it
    assert sorted(p.name for p in artifacts.iterdir()) == ["kidney"]
    assert not (tmp_path / "app").exists()


def test_a_failed_export_leaves_the_folder_as_it_was(tmp_path, monkeypatch, kidney_folder):
    from pocketml.export import model_folder

    folder = Path(shutil.copytree(kidney_folder, tmp_path / "kidney"))
    before = tree(folder)

    def fail_midway(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(model_folder, "write_manifest", fail_midway)
    with pytest.raises(OSError, match="simulated"):
        model_folder.export_folder(folder, ("onnx", "tflite"), log=lambda _: None)
    assert tree(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kidney"]


def test_a_folder_pocketml_wrote_is_recognised_by_its_manifest(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("from an earlier run")
    write_manifest(target)
    with replace_folder(target) as staging:
        (staging / "new.txt").write_text("this run")
    assert sorted(p.name for p in target.iterdir()) == ["manifest.json", "new.txt"]
    (target / "manifest.json").write_text('{"format": "something else"}')
    with pytest.raises(UserError, match="holds files pocketml did not write"):
        with replace_folder(target):
            pass


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def with_user_files(folder: Path) -> Path:
    (folder / "notes.txt").write_text("do not lose me\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "figure.png").write_bytes(b"mine")
    return folder


@pytest.fixture
def pocketml_folder(tmp_path, monkeypatch) -> Path:
    """A folder pocketml wrote (it holds a pocketml manifest), as the target of a command."""
    monkeypatch.chdir(tmp_path)
    with replace_folder(tmp_path / "out") as staging:
        (staging / "model.onnx").write_bytes(b"an earlier run's file")
    return tmp_path / "out"


def test_train_export_and_bundle_refuse_a_folder_holding_files_pocketml_did_not_write(
        pocketml_folder, kidney_folder, tmp_path, capsys):
    kidney = with_user_files(Path(shutil.copytree(kidney_folder, tmp_path / "kidney")))
    target = with_user_files(pocketml_folder)
    before = tree(tmp_path)
    for argv in (["train", "kidney", "--out", str(target)],
                 ["train", "sequence", "--cell", "rnn", "--out", str(target)],
                 ["export", str(kidney), "--formats", "onnx"],
                 ["bundle", str(kidney_folder), "--to", str(target)],
                 ["compare-optimizers", "rnn", "--out", str(target)]):
        refused(capsys, argv, "holds what pocketml did not write", "notes.txt, sub/", "--force")
    assert tree(tmp_path) == before


def test_force_replaces_the_folder_without_the_users_files(pocketml_folder, kidney_folder,
                                                           tmp_path):
    kidney = with_user_files(Path(shutil.copytree(kidney_folder, tmp_path / "kidney")))
    target = with_user_files(pocketml_folder)
    assert main(["bundle", str(kidney_folder), "--to", str(target), "--force"]) == 0
    assert main(["export", str(kidney), "--formats", "onnx", "--force"]) == 0
    for folder in (target, kidney):
        assert not (folder / "notes.txt").exists() and not (folder / "sub").exists()
    assert main(["verify", str(kidney)]) == 0


# --- a full disk -----------------------------------------------------------------------------

def test_a_full_disk_during_training_is_one_message_and_the_previous_folder_stays(
        pocketml_folder, monkeypatch):
    from pocketml.folder import artifacts
    from pocketml.train.sequence.train import sequence_training, train_sequence

    before = tree(pocketml_folder)
    monkeypatch.setattr(artifacts, "save_file", no_space)  # the weights are the first write
    quick = dataclasses.replace(sequence_training("rnn"), epochs=2, progress=False)
    with pytest.raises(UserError) as refusal:  # the CLI prints it as one line, exit 2
        train_sequence(pocketml_folder, "rnn", config=quick, log=lambda _: None)
    message = str(refusal.value)
    for part in (f"{pocketml_folder.resolve()}: the disk is full", "the folder it replaces takes",
                 "Free at least", "the previous folder is as it was"):
        assert part in message, (part, message)
    assert refusal.value.__cause__ is None and refusal.value.__suppress_context__
    assert tree(pocketml_folder) == before
    assert sorted(p.name for p in pocketml_folder.parent.iterdir()) == ["out"]


def test_a_full_disk_during_export_or_bundle_is_one_message(kidney_folder, tmp_path,
                                                            monkeypatch, capsys):
    from pocketml.export import model_folder
    from pocketml.export.formats import FORMATS

    kidney = Path(shutil.copytree(kidney_folder, tmp_path / "kidney"))
    before = tree(kidney)

    def converter_meets_a_full_disk(job, path):
        try:
            no_space()
        except OSError as err:  # converters wrap what they meet in their own errors
            raise RuntimeError("serialization failed") from err

    monkeypatch.setitem(FORMATS, "onnx", dataclasses.replace(
        FORMATS["onnx"], export=converter_meets_a_full_disk))
    refused(capsys, ["export", str(kidney), "--formats", "onnx"],
            f"{kidney.resolve()}: the disk is full", "Free at least")
    assert tree(kidney) == before
    monkeypatch.setattr(model_folder, "write_golden", no_space)
    refused(capsys, ["bundle", str(kidney), "--to", str(tmp_path / "app")],
            f"{(tmp_path / 'app').resolve()}: the disk is full", "no folder was written")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kidney"]


def test_verify_on_a_read_only_folder_reports_the_verdict_and_what_it_could_not_write(
        kidney_folder, tmp_path, capsys):
    kidney = Path(shutil.copytree(kidney_folder, tmp_path / "kidney"))
    before = tree(kidney)
    with read_only(kidney):
        assert main(["verify", str(kidney)]) == 0
    out = capsys.readouterr().out
    assert "parity: PASSED (parity.json and parity.md could not be written in" in out
    assert tree(kidney) == before
