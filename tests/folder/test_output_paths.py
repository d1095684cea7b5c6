"""Output paths follow the rules model folders follow (pocketml/folder/replace.py): `diagnose`'s
output is a pocketml folder (a user's files, a link, a place inside the model folder or a
folder another run is writing are refused before any work; a full disk, a read-only place, a
file in the way are one message, exit 2), and `keygen` writes the key pair whole or not at all.
Each case is one the issue found overwriting a user's file or ending in a traceback."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from pocketml.cli import main
from pocketml.folder.replace import folder_lock, written_by_pocketml
from test_output_folders import read_only, refused, tree


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def diagnose(folder: Path, out: Path | None = None) -> list[str]:
    return ["diagnose", str(folder), "--format", "onnx"] + (["--out", str(out)] if out else [])


def users_report(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "diagnosis.md").write_text("my own notes\n")
    return folder


def test_a_folder_holding_a_users_diagnosis_md_is_refused(kidney_copy, tmp_path, capsys):
    out = users_report(tmp_path / "mine")
    refused(capsys, diagnose(kidney_copy, out), "holds files pocketml did not write")
    assert (out / "diagnosis.md").read_text() == "my own notes\n"


def test_a_linked_default_output_is_never_written_through(kidney_copy, tmp_path, capsys):
    elsewhere = users_report(tmp_path / "elsewhere")
    default = kidney_copy.with_name("kidney-diagnosis")
    default.mkdir()
    (default / "onnx").symlink_to(elsewhere)
    refused(capsys, diagnose(kidney_copy), "a symbolic link")
    assert (elsewhere / "diagnosis.md").read_text() == "my own notes\n"
    (default / "onnx").unlink()
    default.rmdir()
    default.symlink_to(tmp_path / "elsewhere")  # a link above the output too
    refused(capsys, diagnose(kidney_copy), "is a symbolic link, and pocketml never writes "
                                           "through one")
    assert sorted(p.name for p in elsewhere.iterdir()) == ["diagnosis.md"]


@pytest.mark.parametrize("inside", ["", "reports"])
def test_an_output_inside_the_model_folder_is_refused(kidney_copy, capsys, inside):
    before = tree(kidney_copy)
    refused(capsys, diagnose(kidney_copy, kidney_copy / inside),
            "inside the model folder", "give a folder beside it")
    assert tree(kidney_copy) == before


def test_a_second_run_into_the_same_output_is_refused_while_the_first_writes(
        kidney_copy, tmp_path, capsys):
    out = tmp_path / "diagnosis"
    with folder_lock(out):  # what a first run holds from start to end
        refused(capsys, diagnose(kidney_copy, out), "another pocketml command", "is writing it")
    assert not out.exists()


def test_a_file_a_read_only_place_or_a_file_for_parent_is_one_message(kidney_copy, tmp_path,
                                                                       capsys):
    (tmp_path / "a_file").write_text("mine\n")
    refused(capsys, diagnose(kidney_copy, tmp_path / "a_file"), "a file is there")
    refused(capsys, diagnose(kidney_copy, tmp_path / "a_file" / "out"), "is a file, not a folder")
    locked = tmp_path / "locked"
    locked.mkdir()
    with read_only(locked):
        err = refused(capsys, diagnose(kidney_copy, locked / "out"))
    assert "Traceback" not in err and ("not writable" in err or "cannot create" in err), err
    assert (tmp_path / "a_file").read_text() == "mine\n"


def test_a_full_disk_is_one_message_and_a_diagnosis_replaces_the_last_one(
        kidney_copy, tmp_path, capsys, monkeypatch):
    out = tmp_path / "diagnosis"
    assert main(diagnose(kidney_copy, out)) == 0
    assert written_by_pocketml(out)  # a pocketml folder: the next run may replace it
    before = tree(out)
    assert sorted(before) == ["diagnosis.md", "error_per_layer.png", "manifest.json"]
    monkeypatch.setattr("pocketml.export.diagnose.drift.atomic_write_bytes", no_space)
    err = refused(capsys, diagnose(kidney_copy, out), f"{out.resolve()}: the disk is full",
                  "the previous folder is as it was")
    assert "0.0 MB more" not in err and "Traceback" not in err
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    monkeypatch.undo()
    assert main(diagnose(kidney_copy, out)) == 0  # its own earlier output is replaced


def test_keygen_on_a_full_disk_writes_no_key_at_all(tmp_path, capsys, monkeypatch):
    calls = []

    def disk_fills_after_the_private_key(descriptor):
        calls.append(descriptor)
        if len(calls) > 1:
            no_space()

    monkeypatch.setattr("pocketml.folder.new_files.os.fsync", disk_fills_after_the_private_key)
    key = tmp_path / "keys" / "signing.pem"
    err = refused(capsys, ["keygen", str(key), "--no-app"], "the disk is full",
                  "Nothing was written")
    assert "Traceback" not in err and len(calls) == 2
    assert list(key.parent.iterdir()) == []  # no private key without its .pub.pem, no temp
    monkeypatch.undo()
    assert main(["keygen", str(key), "--no-app"]) == 0  # nothing to delete by hand first
    assert sorted(p.name for p in key.parent.iterdir()) == ["signing.pem", "signing.pub.pem"]
    assert os.stat(key).st_mode & 0o777 == 0o600


def test_keygen_into_an_app_writes_all_four_files_or_none(tmp_path, capsys, monkeypatch):
    app = tmp_path / "app"
    (app / "pocketapp").mkdir(parents=True)
    (app / "main.py").write_text("")
    monkeypatch.setattr("pocketml.folder.new_files.os.link", no_space)  # the very last step fails
    refused(capsys, ["keygen", str(tmp_path / "k.pem"), "--app", str(app)], "the disk is full")
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) \
        == ["app/main.py"]
