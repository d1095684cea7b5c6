"""A release build exists only signed. `pocketml apk --release` refuses (exit 2, naming `pocketml
keygen --app` and `--sign`) unless the app folder pins a trusted key and its bundle is signed by
it, before it looks for any build tool; the release workflow pins the key from the repository,
signs the bundle from a secret that only that step sees, and check_release_contents.py opens the
built APK and AAB (packed as python-for-android packs them) and proves both from their files."""

from __future__ import annotations

import compileall
import importlib.util
import io
import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

from app_fixtures import APP
from pocketml import app_launcher, cli
from pocketml.folder.signing import load_private_key, sign_manifest
from pocketml.pocketapp.signature import key_sha256

ROOT = APP.parent
WORKFLOW = ROOT / ".github" / "workflows" / "phone.yml"
CONTENTS = ROOT / ".github" / "scripts" / "check_release_contents.py"
HOW = ("pocketml keygen KEY --app mobile_app", "pocketml all --sign KEY")


@pytest.fixture(scope="module")
def keys(kidney_folder, tmp_path_factory) -> dict[str, Path]:
    """An app folder pinned to "ours", the kidney bundle signed by ours, theirs' key."""
    root = tmp_path_factory.mktemp("release")
    app = Path(shutil.copytree(APP, root / "mobile_app", ignore=shutil.ignore_patterns(
        "model", ".buildozer", "bin", "__pycache__", "trusted_signer.pem", "build_trust.py")))
    assert cli.main(["keygen", str(root / "ours.pem"), "--app", str(app)]) == 0
    assert cli.main(["keygen", str(root / "theirs.pem"), "--no-app"]) == 0
    folder = Path(shutil.copytree(kidney_folder, root / "kidney"))
    sign_manifest(folder, load_private_key(root / "ours.pem"))
    assert cli.main(["bundle", str(folder), "--to", str(app / "model"),
                     "--sign", str(root / "ours.pem")]) == 0
    return {"app": app, "ours": root / "ours.pem", "theirs": root / "theirs.pem"}


@pytest.fixture
def release(keys, tmp_path, monkeypatch):
    """`pocketml apk --release` on a copy of the pinned app; `looked` records whether the
    build tools were looked for."""
    app = Path(shutil.copytree(keys["app"], tmp_path / "mobile_app"))
    monkeypatch.setattr(app_launcher, "APP", app)
    monkeypatch.setattr(app_launcher, "DEFAULT_BUNDLE", app / "model")
    looked = []
    monkeypatch.setattr(app_launcher, "missing_for_apk", lambda: looked.append(1) or [])
    monkeypatch.setattr(app_launcher, "missing_for_release", lambda: [])
    started = []
    monkeypatch.setattr(app_launcher.subprocess, "call", lambda cmd, **kw: started.append(cmd) or 0)
    return {"app": app, "looked": looked, "started": started}


def refused(release, capsys, *expected: str) -> str:
    assert cli.main(["apk", "--release"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pocketml: error: ") and err.count("\n") == 1, err
    for part in (*HOW, *expected):
        assert part in err, (part, err)
    assert release["looked"] == [] and release["started"] == []  # no SDK tool was looked for
    return err


def test_a_pinned_app_with_its_signed_bundle_builds(release, capsys):
    assert cli.main(["apk", "--release"]) == 0
    assert "the app trusts key " in capsys.readouterr().out
    assert release["looked"] == [1] and release["started"][0][1:] == ["android", "release"]


def test_an_app_without_a_pinned_key_is_refused(release, capsys):
    (release["app"] / "trusted_signer.pem").unlink()
    (release["app"] / "pocketapp" / "build_trust.py").unlink()
    refused(release, capsys, "no trusted key is pinned", "trusted_signer.pem", "build_trust.py")


def test_a_key_file_that_is_not_the_pinned_one_is_refused(release, keys, capsys):
    shutil.copy(keys["theirs"].with_name("theirs.pub.pem"), release["app"] / "trusted_signer.pem")
    refused(release, capsys, "were not written together")


def test_an_unsigned_bundle_is_refused(release, capsys):
    (release["app"] / "model" / "manifest.sig").unlink()
    refused(release, capsys, "unsigned")


def test_a_bundle_signed_by_another_key_is_refused(release, keys, capsys):
    sign_manifest(release["app"] / "model", load_private_key(keys["theirs"]))
    refused(release, capsys, "not by key")


def test_a_bundle_changed_after_signing_is_refused(release, capsys):
    schema = release["app"] / "model" / "schema.json"
    schema.write_text(schema.read_text().replace('"yes"', '"YES"'))
    refused(release, capsys, "schema.json")


# --- what is inside the built APK and AAB ----------------------------------------------------

def contents_checker():
    spec = importlib.util.spec_from_file_location("check_release_contents", CONTENTS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def p4a_package(app: Path, out: Path, inside: str) -> Path:
    """The app folder packed as python-for-android packs it (build.py's make_tar): compiled
    with `compileall -b -OO`, .py files left out, a gzip'd tar at `inside` in the zip."""
    work = Path(shutil.copytree(app, out.with_suffix(".src")))
    assert compileall.compile_dir(str(work), quiet=1, legacy=True, optimize=2)
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz", format=tarfile.USTAR_FORMAT) as tar:
        for path in sorted(p for p in work.rglob("*") if p.is_file() and p.suffix != ".py"):
            tar.add(path, path.relative_to(work).as_posix())
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(inside, data.getvalue())
        archive.writestr("AndroidManifest.xml", b"binary xml")
    return out


@pytest.mark.parametrize("kind, inside", [("apk", "assets/private.tar"),
                                          ("aab", "base/assets/private.tar")])
def test_the_built_packages_carry_the_pin_and_a_bundle_signed_by_it(keys, tmp_path, kind,
                                                                    inside, capsys):
    package = p4a_package(keys["app"], tmp_path / f"app-release.{kind}", inside)
    assert contents_checker().main([str(package)]) == 0
    pem = (keys["app"] / "trusted_signer.pem").read_bytes()
    assert key_sha256(pem)[:16] in capsys.readouterr().out


@pytest.mark.parametrize("change, expected", [
    (lambda app: (app / "trusted_signer.pem").unlink(), "trusted_signer.pem not in the app"),
    (lambda app: (app / "model" / "manifest.sig").unlink(), "model/manifest.sig not in the app"),
    (lambda app: (app / "pocketapp" / "build_trust.py").write_text(
        'TRUSTED_KEY_SHA256 = "' + "0" * 64 + '"\n'), "does not pin the packaged"),
    (lambda app: (app / "model" / "golden.json").write_text("{}"), "would refuse its own bundle"),
])
def test_a_package_without_them_fails_the_check(keys, tmp_path, capsys, change, expected):
    app = Path(shutil.copytree(keys["app"], tmp_path / "app"))
    change(app)
    package = p4a_package(app, tmp_path / "app-release.apk", "assets/private.tar")
    assert contents_checker().main([str(package)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("::error::") and expected in out, out


# --- the release job --------------------------------------------------------------------------

def release_steps() -> list[dict]:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]["android-release"]["steps"]


def test_secrets_reach_only_the_steps_that_use_them():
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["android-release"]
    assert "secrets." not in json.dumps(job.get("env", {}))
    for step in job["steps"]:
        outside_env = {k: v for k, v in step.items() if k != "env"}
        assert "secrets." not in json.dumps(outside_env), step.get("name")
    [signing] = [s for s in job["steps"] if "POCKETML_SIGNING_KEY" in json.dumps(s.get("env"))]
    assert "pocketml all --sign" in signing["run"] and 'rm -f "$key"' in signing["run"]


def test_the_job_pins_the_repositorys_key_then_signs_then_builds():
    names = [json.dumps(s) for s in release_steps()]
    where = lambda text: next(i for i, s in enumerate(names) if text in s)
    assert where(".github/release/trusted_signer.pem") < where("pocketml all --sign") \
        < where("pocketml apk --release") < where("check_release.sh")
    assert "pocketml-bundle" not in "".join(names)  # never the unsigned bundle of the debug jobs
    assert "check_release_contents.py" in (ROOT / ".github/scripts/check_release.sh").read_text()
