"""Chain of custody: a model folder edited after training no longer passes `export`, `verify`,
`bundle` or the app, even with a manifest that matches the edit. The folder is bound to what
its training measured (training_record.json), it holds only what its manifest lists, and a
folder signed when it was written (`--sign KEY`) is refused by `verify --trusted-key` and
`bundle --sign` once anything in it changed."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import torch

from app_fixtures import APP, write_manifest as write_bundle_manifest
from pocketml.cli import main
from pocketml.folder.custody import RECORD
from pocketml.folder.signing import load_private_key, sign_manifest
from pocketml.folder.manifest import write_manifest
from pocketml.folder.artifacts import load_model, save_model
from test_trust_chain import edit_json, exit_2, keys  # noqa: F401  (keys: a fixture)

sys.path.insert(0, str(APP))
from pocketapp.bundle import BundleError, open_bundle  # noqa: E402
from pocketapp.predictors import load_predictor  # noqa: E402


def swap_classes(schema: dict) -> None:
    schema.update(classes=["ckd", "notckd"], positive_class="notckd")


def swap_sodium_and_hemoglobin(schema: dict) -> None:
    columns = schema["columns"]
    i, j = (next(k for k, c in enumerate(columns) if c["name"] == name) for name in ("sod", "hemo"))
    columns[i], columns[j] = columns[j], columns[i]


def widen_sodium(schema: dict) -> None:
    next(c for c in schema["columns"] if c["name"] == "sod").update(range=[-1000, 1000])


SCHEMA_EDITS = {
    "classes swapped": (swap_classes, "schema.json classes: ['ckd', 'notckd']; training "
                                      "recorded ['notckd', 'ckd']"),
    "sodium and hemoglobin swapped": (swap_sodium_and_hemoglobin,
                                      "schema.json columns, in model order: sg, al, hemo, sod"),
    "sodium range widened": (widen_sodium, "schema.json column sod: range [-1000, 1000]; "
                                           "training recorded [100, 170]"),
}


@pytest.mark.parametrize("edit, expected", SCHEMA_EDITS.values(), ids=list(SCHEMA_EDITS))
def test_a_schema_edited_after_training_is_named_by_export_verify_and_bundle(
        kidney_copy, tmp_path, capsys, edit, expected):
    edit_json(kidney_copy / "schema.json", edit)
    write_manifest(kidney_copy)  # the editor makes every checksum agree
    for argv in (["verify", str(kidney_copy)], ["export", str(kidney_copy), "--formats", "onnx"],
                 ["bundle", str(kidney_copy), "--to", str(tmp_path / "app")]):
        exit_2(capsys, argv, expected, "edited after training")
    assert not (tmp_path / "app").exists()


def test_columns_swapped_in_the_schema_and_its_record_alike_are_still_caught(kidney_copy, capsys):
    """The test set's sodium values (around 140) do not fit hemoglobin's range (3 to 20)."""
    edit_json(kidney_copy / "schema.json", swap_sodium_and_hemoglobin)
    edit_json(kidney_copy / RECORD, lambda r: swap_sodium_and_hemoglobin(r["schema"]))
    write_manifest(kidney_copy)
    exit_2(capsys, ["verify", str(kidney_copy)], "column 3 (hemo)", "outside its range [3, 20]")


def test_weights_edited_to_output_one_minus_p_no_longer_compute_the_recorded_metric(
        kidney_copy, tmp_path, capsys):
    flipped = load_model(kidney_copy)
    with torch.no_grad():  # sigmoid(-z) = 1 - sigmoid(z): a sick patient becomes "< 0.1 %"
        flipped.body[-1].weight.neg_()
        flipped.body[-1].bias.neg_()
    save_model(flipped, kidney_copy)
    write_manifest(kidney_copy)
    expected = ("the weights compute roc_auc 0.0000 on the folder's test set; training recorded "
                "1.0000")
    exit_2(capsys, ["export", str(kidney_copy), "--formats", "onnx,tflite"], expected)
    exit_2(capsys, ["verify", str(kidney_copy)], expected, "accuracy 0.0250")
    exit_2(capsys, ["bundle", str(kidney_copy), "--to", str(tmp_path / "app")], expected)
    assert not (tmp_path / "app").exists()


def test_a_folder_without_its_training_record_is_refused(kidney_copy, capsys):
    (kidney_copy / RECORD).unlink()
    write_manifest(kidney_copy)
    exit_2(capsys, ["verify", str(kidney_copy)], f"{RECORD}: missing", "Train the model again")


# --- nothing the manifest does not list -------------------------------------------------------

@pytest.fixture
def bundle_copy(kidney_bundle, tmp_path) -> Path:
    return Path(shutil.copytree(kidney_bundle, tmp_path / "model"))


@pytest.mark.parametrize("extra", ["a link to /etc", "an extra file", "a folder"])
def test_what_the_manifest_does_not_list_is_refused_by_verify_bundle_and_the_app(
        kidney_copy, bundle_copy, tmp_path, capsys, extra):
    for folder in (kidney_copy, bundle_copy):
        if extra == "a link to /etc":
            os.symlink("/etc", folder / "etc")
        elif extra == "an extra file":
            (folder / "notes.txt").write_text("not listed\n")
        else:
            (folder / "etc").mkdir()
    name = "notes.txt" if extra == "an extra file" else "etc"
    exit_2(capsys, ["verify", str(kidney_copy)], f"{name}", "not listed in the manifest")
    exit_2(capsys, ["bundle", str(kidney_copy), "--to", str(tmp_path / "app")],
           "not listed in the manifest")
    assert not (tmp_path / "app").exists()
    with pytest.raises(BundleError, match=f"{name}/?: not listed in the manifest"):
        open_bundle(bundle_copy)


def test_a_truncated_model_in_the_app_is_refused_in_words(bundle_copy):
    (bundle_copy / "model.tflite").write_bytes(b"")
    write_bundle_manifest(bundle_copy)  # a matching manifest: only the runtime can tell
    with pytest.raises(BundleError) as refused:
        load_predictor(open_bundle(bundle_copy), "desktop")
    message = str(refused.value)
    assert message.startswith("model.tflite cannot be loaded by LiteRT (desktop): the file is "
                              "damaged, truncated or not a model file")
    assert "Rebuild the bundle with `pocketml bundle`" in message


# --- signed when written, checked at every step ---------------------------------------------

def public(key: Path) -> str:
    return str(key.with_name(key.stem + ".pub.pem"))


def test_train_sign_signs_the_folder_and_verify_and_bundle_check_it(tmp_path, keys, ckd_csv,
                                                                    capsys):
    folder = tmp_path / "kidney"
    assert main(["train", "kidney", "--no-progress", "--data", str(ckd_csv), "--out",
                 str(folder), "--sign", str(keys["ours"])]) == 0
    assert (folder / "manifest.sig").is_file()
    exit_2(capsys, ["verify", str(folder), "--trusted-key", public(keys["ours"])],
           "Export it first")  # signed and intact, but nothing is exported yet
    # export --sign re-signs the folder it re-exports, once its signature has been checked.
    assert main(["export", str(folder), "--formats", "onnx,tflite", "--sign",
                 str(keys["ours"])]) == 0
    assert main(["verify", str(folder), "--trusted-key", public(keys["ours"])]) == 0
    exit_2(capsys, ["verify", str(folder), "--trusted-key", public(keys["theirs"])],
           "not signed by a trusted key", "not by key")
    assert main(["bundle", str(folder), "--to", str(tmp_path / "app"), "--sign",
                 str(keys["ours"])]) == 0
    assert open_bundle(tmp_path / "app", Path(public(keys["ours"])).read_bytes()).signer
    # A release key that trusts the training key's signature.
    assert main(["bundle", str(folder), "--to", str(tmp_path / "release"), "--sign",
                 str(keys["theirs"]), "--trusted-key", public(keys["ours"])]) == 0
    # Exported again without --sign: the old signature no longer covers the manifest.
    assert main(["export", str(folder), "--formats", "onnx,tflite"]) == 0
    assert not (folder / "manifest.sig").exists()
    exit_2(capsys, ["bundle", str(folder), "--to", str(tmp_path / "app"), "--sign",
                    str(keys["ours"])], "unsigned")


@pytest.fixture
def signed_copy(kidney_copy, keys) -> Path:
    """The exported kidney folder as `train --sign` and `export --sign` leave it."""
    sign_manifest(kidney_copy, load_private_key(keys["ours"]))
    return kidney_copy


def test_an_editor_who_rewrites_schema_record_and_manifest_alike_fails_the_signature(
        signed_copy, tmp_path, keys, capsys):
    """Unsigned, nothing can tell this edit from the training: the signature does."""
    assert main(["verify", str(signed_copy), "--trusted-key", public(keys["ours"])]) == 0
    edit_json(signed_copy / "schema.json", swap_classes)
    edit_json(signed_copy / RECORD, lambda r: swap_classes(r["schema"]))
    write_manifest(signed_copy)
    assert main(["verify", str(signed_copy)]) == 0  # consistent, so only a signature can tell
    capsys.readouterr()
    exit_2(capsys, ["verify", str(signed_copy), "--trusted-key", public(keys["ours"])],
           "changed after it was signed")
    exit_2(capsys, ["bundle", str(signed_copy), "--to", str(tmp_path / "app"), "--sign",
                    str(keys["ours"])], "changed after it was signed")
    exit_2(capsys, ["export", str(signed_copy), "--formats", "onnx", "--sign",
                    str(keys["ours"])], "changed after it was signed")
    assert not (tmp_path / "app").exists()


def test_bundle_sign_refuses_an_unsigned_folder(kidney_copy, tmp_path, keys, capsys):
    exit_2(capsys, ["bundle", str(kidney_copy), "--to", str(tmp_path / "app"), "--sign",
                    str(keys["ours"])], "unsigned (no manifest.sig)", "--sign KEY")
    exit_2(capsys, ["verify", str(kidney_copy), "--trusted-key", str(keys["ours"])],
           "not a PEM public key")
    assert not (tmp_path / "app").exists()
