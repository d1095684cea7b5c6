"""Nothing faked: an editor of a model folder or a bundle cannot get a wrong model past
`verify`, `bundle` or the app by rewriting the manifest. Names must stay inside the folder,
schemas must mean something, bundles are made only from verified files, user code runs only
when the user says so, and a signed bundle proves who made it."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from app_fixtures import APP, write_manifest as write_bundle_manifest
from pocketml.cli import main
from pocketml.export.api import export_module
from pocketml.folder.signing import load_private_key, sign_manifest
from pocketml.folder.manifest import write_manifest
from pocketml.folder.artifacts import load_model, load_test_set

sys.path.insert(0, str(APP))
from pocketapp.bundle import BundleError, open_bundle  # noqa: E402
from pocketapp.predictors import ModelMismatch, load_predictor  # noqa: E402
from pocketapp.signature import fingerprint  # noqa: E402

SILENT = dict(log=lambda _: None)


def exit_2(capsys, argv: list[str], *expected: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("pocketml: error: ") and "Traceback" not in err, err
    for part in expected:
        assert part in err, (part, err)
    return err


def edit_json(path: Path, edit) -> None:
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document, indent=2))


@pytest.fixture
def bundle_copy(kidney_bundle, tmp_path) -> Path:
    return Path(shutil.copytree(kidney_bundle, tmp_path / "model"))


# --- a swapped model with a rewritten manifest ----------------------------------------------

def test_a_model_that_outputs_one_minus_p_is_never_bundled(kidney_copy, tmp_path, capsys):
    flipped = load_model(kidney_copy)
    with torch.no_grad():  # sigmoid(-z) = 1 - sigmoid(z): a sick patient becomes "< 0.1%"
        flipped.body[-1].weight.neg_()
        flipped.body[-1].bias.neg_()
    # `pocketml export` refuses weights that no longer compute what training measured
    # (tests/folder/test_custody.py), so the editor converts them with the Python API.
    other = tmp_path / "other"
    x, _ = load_test_set(kidney_copy)
    export_module(flipped, (torch.from_numpy(x[:2]),), other, ("onnx", "tflite"), **SILENT)
    for name in ("model.onnx", "model.tflite"):
        shutil.copy2(other / name, kidney_copy / name)
    write_manifest(kidney_copy)  # the editor makes the checksums agree
    exit_2(capsys, ["bundle", str(kidney_copy), "--to", str(tmp_path / "app")],
           "parity FAILED", "not bundled")
    assert not (tmp_path / "app").exists()


# --- schemas that pass every checksum but mean nonsense --------------------------------------

def drop_range(schema):
    next(c for c in schema["columns"] if c["name"] == "sod").pop("range")


def drop_first_column(schema):
    schema["columns"].pop(0)
    schema["input"].update(shape=[-1, 9])


SCHEMA_EDITS = {
    "positive class flipped": (lambda s: s.update(positive_class="notckd"), "positive_class"),
    "threshold 1.01": (lambda s: s.update(threshold=1.01), "threshold 1.01"),
    "threshold NaN": (lambda s: s.update(threshold=float("nan")), "threshold"),
    "range removed": (drop_range, "column sod: range None"),
    "range reversed": (lambda s: s["columns"][0].update(range=[1.025, 1.005]), "low < high"),
    "infinite range": (lambda s: s["columns"][2].update(range=[100, 1e999]), "finite"),
    "same class twice": (lambda s: s.update(classes=["ckd", "ckd"]), "each class must appear once"),
    "column named twice": (lambda s: s["columns"][1].update(name="sg", field="sg"),
                           "each column name must appear once"),
    "a column dropped": (drop_first_column, "9 columns, the model takes 10"),
}


@pytest.mark.parametrize("edit, expected", SCHEMA_EDITS.values(), ids=list(SCHEMA_EDITS))
def test_a_meaningless_schema_is_refused_by_verify_bundle_and_the_app(
        kidney_copy, bundle_copy, tmp_path, capsys, edit, expected):
    edit_json(kidney_copy / "schema.json", edit)
    write_manifest(kidney_copy)
    exit_2(capsys, ["verify", str(kidney_copy)], "schema.json", expected)
    exit_2(capsys, ["bundle", str(kidney_copy), "--to", str(tmp_path / "app")], expected)
    assert not (tmp_path / "app").exists()
    edit_json(bundle_copy / "schema.json", edit)
    write_bundle_manifest(bundle_copy)
    if edit is drop_first_column:  # a sound schema of the wrong width: the model tells
        with pytest.raises(ModelMismatch, match="schema.json lists 9 columns"):
            load_predictor(open_bundle(bundle_copy), "desktop")
    else:
        with pytest.raises(BundleError, match=expected.split(":")[0]):
            open_bundle(bundle_copy)


def test_sodium_of_a_million_gets_no_prediction_however_the_schema_was_edited(bundle_copy):
    edit_json(bundle_copy / "schema.json", drop_range)
    write_bundle_manifest(bundle_copy)
    with pytest.raises(BundleError, match="range"):
        open_bundle(bundle_copy)


# --- names and links that leave the folder ---------------------------------------------------

@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "sub/schema.json", ".."])
def test_manifest_names_outside_the_folder_are_refused_everywhere(kidney_copy, bundle_copy,
                                                                  tmp_path, capsys, name):
    for folder in (kidney_copy, bundle_copy):
        edit_json(folder / "manifest.json",
                  lambda m: m["files"].update({name: {"sha256": "0" * 64, "bytes": 1}}))
    exit_2(capsys, ["verify", str(kidney_copy)], repr(name), "not a plain file name")
    exit_2(capsys, ["bundle", str(kidney_copy), "--to", str(tmp_path / "app")],
           "not a plain file name")
    with pytest.raises(BundleError, match="not a plain file name"):
        open_bundle(bundle_copy)


def test_a_symlinked_schema_is_never_followed(kidney_copy, bundle_copy, tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere.json"
    shutil.copy2(kidney_copy / "schema.json", elsewhere)
    for folder in (kidney_copy, bundle_copy):
        (folder / "schema.json").unlink()
        (folder / "schema.json").symlink_to(elsewhere)
    write_manifest(kidney_copy, files=[kidney_copy / n for n in json.loads(
        (kidney_copy / "manifest.json").read_text())["files"]])
    exit_2(capsys, ["bundle", str(kidney_copy), "--to", str(tmp_path / "app")],
           "schema.json: a symbolic link")
    assert not (tmp_path / "app").exists()
    write_bundle_manifest(bundle_copy)
    with pytest.raises(BundleError, match="symbolic link"):
        open_bundle(bundle_copy)


# --- a folder's own code runs only when the user says so -------------------------------------

USER_MODULE = textwrap.dedent('''
    from pathlib import Path

    import torch
    from torch import nn

    Path("module_ran.txt").write_text("imported")  # a module that acts when imported

    def build():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)).eval()
''')


def test_verify_runs_a_folders_module_only_with_trust_source(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "user_nets.py").write_text(USER_MODULE)
    assert main(["export", "--model", "user_nets:build", "--input-shape", "1,3",
                 "--out", "downloaded", "--formats", "onnx"]) == 0
    (tmp_path / "module_ran.txt").unlink()
    sys.modules.pop("user_nets")
    capsys.readouterr()
    exit_2(capsys, ["verify", "downloaded"], "'user_nets:build'", "--trust-source")
    exit_2(capsys, ["export", "downloaded", "--formats", "onnx"], "--trust-source")
    assert not (tmp_path / "module_ran.txt").exists()
    assert main(["verify", "downloaded", "--trust-source"]) == 0
    assert (tmp_path / "module_ran.txt").exists()


# --- authenticity: signed bundles ------------------------------------------------------------

@pytest.fixture
def app_copy(tmp_path) -> Path:
    return Path(shutil.copytree(APP, tmp_path / "mobile_app",
                                ignore=shutil.ignore_patterns("model", ".buildozer", "bin")))


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(
        tmp_path, app_copy, capsys):
    key = tmp_path / "keys" / "signing.pem"
    assert main(["keygen", str(key), "--app", str(app_copy)]) == 0
    assert key.stat().st_mode & 0o777 == 0o600
    public = (tmp_path / "keys" / "signing.pub.pem").read_bytes()
    assert public.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert (app_copy / "trusted_signer.pem").read_bytes() == public
    assert fingerprint(public) in capsys.readouterr().out
    before = key.read_bytes()
    exit_2(capsys, ["keygen", str(key), "--app", str(app_copy)], "never overwrites")
    assert key.read_bytes() == before
    exit_2(capsys, ["keygen", str(tmp_path / "other.pem"), "--app", str(tmp_path)], "no main.py")


@pytest.fixture
def keys(tmp_path) -> dict[str, Path]:
    paths = {name: tmp_path / "keys" / f"{name}.pem" for name in ("ours", "theirs")}
    for path in paths.values():
        assert main(["keygen", str(path), "--no-app"]) == 0
    return paths


def public(key: Path) -> bytes:
    return key.with_name(key.stem + ".pub.pem").read_bytes()


@pytest.fixture
def signed_folder(kidney_folder, tmp_path, keys) -> Path:
    """The kidney folder signed by "ours" when it was written (`train --sign`): `bundle --sign`
    takes only a folder signed by a key it trusts (tests/folder/test_custody.py)."""
    folder = Path(shutil.copytree(kidney_folder, tmp_path / "signed-kidney"))
    sign_manifest(folder, load_private_key(keys["ours"]))
    return folder


def theirs_trusting_ours(keys) -> list[str]:
    return ["--sign", str(keys["theirs"]), "--trusted-key",
            str(keys["ours"].with_name("ours.pub.pem"))]


def test_a_signed_bundle_opens_only_with_the_key_that_signed_it(signed_folder, tmp_path, keys,
                                                               capsys):
    bundle = tmp_path / "signed"
    assert main(["bundle", str(signed_folder), "--to", str(bundle), "--sign",
                 str(keys["ours"])]) == 0
    assert f"signed by key {fingerprint(public(keys['ours']))}" in capsys.readouterr().out
    assert open_bundle(bundle, public(keys["ours"])).signer == fingerprint(public(keys["ours"]))
    assert open_bundle(bundle).signer is None  # an app that trusts no key: unsigned mode
    with pytest.raises(BundleError, match="signed by key .*, not by key"):
        open_bundle(bundle, public(keys["theirs"]))


def test_a_resigned_rewritten_or_unsigned_bundle_is_refused_when_a_key_is_configured(
        signed_folder, tmp_path, keys):
    ours = public(keys["ours"])
    signed = tmp_path / "signed"
    assert main(["bundle", str(signed_folder), "--to", str(signed), "--sign",
                 str(keys["ours"])]) == 0
    # Rewritten after signing: a schema edit with a manifest that matches it again.
    rewritten = Path(shutil.copytree(signed, tmp_path / "rewritten"))
    edit_json(rewritten / "schema.json", lambda s: s.update(threshold=0.9))
    write_bundle_manifest(rewritten)
    with pytest.raises(BundleError, match="changed after it was signed"):
        open_bundle(rewritten, ours)
    # Re-signed by someone else's key.
    resigned = tmp_path / "resigned"
    assert main(["bundle", str(signed_folder), "--to", str(resigned),
                 *theirs_trusting_ours(keys)]) == 0
    with pytest.raises(BundleError, match="not by key"):
        open_bundle(resigned, ours)
    # Unsigned.
    unsigned = tmp_path / "unsigned"
    assert main(["bundle", str(signed_folder), "--to", str(unsigned)]) == 0
    assert not (unsigned / "manifest.sig").exists()
    with pytest.raises(BundleError, match="unsigned"):
        open_bundle(unsigned, ours)


def test_bundle_refuses_a_key_that_is_not_a_private_ed25519_key(kidney_folder, tmp_path, keys,
                                                                capsys):
    exit_2(capsys, ["bundle", str(kidney_folder), "--to", str(tmp_path / "app"), "--sign",
                    str(keys["ours"].with_name("ours.pub.pem"))], "private key")
    exit_2(capsys, ["bundle", str(kidney_folder), "--to", str(tmp_path / "app"), "--sign",
                    str(tmp_path / "absent.pem")], "no such key file")
    assert not (tmp_path / "app").exists()


def test_the_app_window_says_signed_or_unsigned_and_refuses_a_foreign_signature(
        signed_folder, tmp_path, keys, monkeypatch):
    from app_fixtures import run_driver, virtual_display

    signed, foreign = tmp_path / "signed", tmp_path / "foreign"
    assert main(["bundle", str(signed_folder), "--to", str(signed), "--sign",
                 str(keys["ours"])]) == 0
    assert main(["bundle", str(signed_folder), "--to", str(foreign),
                 *theirs_trusting_ours(keys)]) == 0
    with virtual_display() as display:
        unsigned_run = run_driver(display, tmp_path / "run-unsigned", "form", signed)
        monkeypatch.setenv("POCKETML_TRUSTED_SIGNER", str(keys["ours"].with_name("ours.pub.pem")))
        signed_run = run_driver(display, tmp_path / "run-signed", "form", signed)
        foreign_run = run_driver(display, tmp_path / "run-foreign", "refused", foreign)
    assert unsigned_run["footer"].endswith("unsigned")
    assert signed_run["footer"].endswith(f"signed by key {fingerprint(public(keys['ours']))}")
    assert foreign_run["screen"] == "ErrorScreen" and foreign_run["model_loaded"] is False
    assert "not by key" in foreign_run["message"]
