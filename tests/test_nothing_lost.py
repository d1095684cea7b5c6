"""Nothing lost, the same way in every command: a pocketml folder holding what pocketml did not
write is refused (exit 2, naming it) unless --force; a full disk during train, export or bundle
is one message naming the folder and the space it needs, with the previous folder as it was;
`verify` on a read-only folder reports its verdict and says what it could not write."""

from __future__ import annotations

import dataclasses
import errno
import shutil
from pathlib import Path

import pytest

from pocketml.cli import main
from pocketml.folder.errors import UserError
from pocketml.folder.replace import replace_folder
from test_output_folders import read_only, refused, tree


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
