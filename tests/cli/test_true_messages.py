"""Every message the issue found misleading says what is true and names the command that
fixes it; keys are Ed25519 on both sides; the app requires the golden cases the bundle was made
with. (explain on a user-module folder: test_folder_gate.py.)"""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app_fixtures import APP, write_manifest as write_bundle_manifest
from pocketml.folder.errors import UserError
from pocketml.folder.custody import RECORD
from pocketml.folder.replace import replace_folder
from pocketml.folder.manifest import write_manifest
from test_trust_chain import edit_json, exit_2, keys  # noqa: F401  (keys: a fixture)

sys.path.insert(0, str(APP))
from pocketapp.bundle import open_bundle  # noqa: E402
from pocketapp.half_precision import Fp16Refused, load_fp16_predictor  # noqa: E402
from pocketapp.selfcheck import SelfCheckFailed, read_golden  # noqa: E402


@pytest.mark.parametrize("command", ["export", "bundle"])
def test_signing_an_unsigned_folder_names_train_sign(kidney_copy, tmp_path, keys, capsys,
                                                     command):
    argv = [command, str(kidney_copy), "--sign", str(keys["ours"])]
    err = exit_2(capsys, argv + (["--to", str(tmp_path / "app")] if command == "bundle" else []),
                 "unsigned (no manifest.sig)", f"`pocketml train MODEL --out {kidney_copy} "
                                               "--sign KEY`")
    assert "bundle --sign" not in err and "export it again" not in err, err


def test_a_threshold_edited_in_schema_and_record_alike_is_named(kidney_copy, capsys):
    edit_json(kidney_copy / "schema.json", lambda s: s.update(threshold=0.99))
    edit_json(kidney_copy / RECORD, lambda r: r["schema"].update(threshold=0.99))
    write_manifest(kidney_copy)
    err = exit_2(capsys, ["verify", str(kidney_copy)],
                 "the decision threshold (or the classes) in schema.json was changed after "
                 "training (roc_auc, which does not depend on it, is unchanged)")
    assert "model.safetensors was changed" not in err


def test_verify_on_a_trained_folder_not_yet_exported_names_export(kidney_copy, capsys):
    for name in ("export.json", "model.onnx", "model.tflite", "model_fp16.tflite",
                 "model_int8.tflite", "model.pte", "parity.json", "parity.md"):
        (kidney_copy / name).unlink(missing_ok=True)
    write_manifest(kidney_copy)  # as `pocketml train` leaves it
    err = exit_2(capsys, ["verify", str(kidney_copy)], "has not been exported yet",
                 f"pocketml export {kidney_copy}")
    assert "Is " not in err


def test_a_full_disk_at_the_first_write_never_says_free_0_mb(tmp_path):
    with pytest.raises(UserError) as refusal:
        with replace_folder(tmp_path / "out") as staging:
            raise OSError(errno.ENOSPC, "No space left on device", str(staging / "a"))
    message = str(refusal.value)
    assert "the disk is full" in message and "Free some space" in message
    assert "0.0 MB more" not in message


def test_an_rsa_trusted_key_is_refused_as_sign_refuses_it(kidney_copy, tmp_path, capsys):
    private, public = tmp_path / "rsa.pem", tmp_path / "rsa.pub.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-out", str(private)],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(private), "-pubout", "-out", str(public)],
                   check=True, capture_output=True)
    exit_2(capsys, ["verify", str(kidney_copy), "--trusted-key", str(public)],
           "not an Ed25519 key (RSAPublicKey)", "pocketml keygen")
    exit_2(capsys, ["bundle", str(kidney_copy), "--sign", str(private)], "not an Ed25519 key")


@pytest.fixture
def bundle_copy(kidney_bundle, tmp_path) -> Path:
    return Path(shutil.copytree(kidney_bundle, tmp_path / "model"))


def test_the_app_names_a_golden_json_that_is_a_list(bundle_copy):
    (bundle_copy / "golden.json").write_text("[]")
    write_bundle_manifest(bundle_copy)
    with pytest.raises(SelfCheckFailed, match=r"^golden\.json is a JSON list, not the golden "
                                              r"document .* Rebuild the bundle"):
        read_golden(open_bundle(bundle_copy))


def test_a_broken_delegates_json_is_named(bundle_copy):
    (bundle_copy / "delegates.json").write_text("{not json")
    write_bundle_manifest(bundle_copy)
    with pytest.raises(Fp16Refused, match=r"^delegates\.json cannot be read \(.*\), so nothing "
                                          r"shows .* Rebuild the bundle"):
        load_fp16_predictor(open_bundle(bundle_copy), "desktop")


def cut_golden(bundle: Path, keep: int) -> None:
    golden = json.loads((bundle / "golden.json").read_text())
    golden["cases"] = golden["cases"][:keep]
    (bundle / "golden.json").write_text(json.dumps(golden))


def test_the_bundle_records_its_golden_cases_and_the_app_requires_them(bundle_copy):
    manifest = json.loads((bundle_copy / "manifest.json").read_text())
    assert manifest["golden_cases"] == 32  # where a signature covers it
    cut_golden(bundle_copy, 20)
    write_manifest(bundle_copy, [bundle_copy / n for n in manifest["files"]],
                   {"golden_cases": 32})  # the checksums agree; the record is the signed one
    with pytest.raises(SelfCheckFailed, match=r"holds 20 golden cases; the bundle was made with "
                                              r"32"):
        read_golden(open_bundle(bundle_copy))


def test_a_golden_json_cut_to_one_case_is_refused_even_with_its_manifest_rewritten(
        bundle_copy):
    cut_golden(bundle_copy, 1)
    write_bundle_manifest(bundle_copy)  # a forger's manifest: no record of the count
    with pytest.raises(SelfCheckFailed, match=r"holds 1 golden case\(s\); this app checks "
                                              r"this model on at least 16"):
        read_golden(open_bundle(bundle_copy))
