"""Packaging: buildozer.spec as buildozer itself reads it, the iOS Podfile and build steps, and
the launcher functions behind the CLI (run the app, build the debug or release APK or say why
not, and where the app's bundle lives). The hosted workflow: tests/app/test_workflows.py."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from app_fixtures import APP, ROOT
from pocketml import app_launcher, cli, commands
from pocketml.folder.errors import UserError


@pytest.fixture(scope="module")
def spec():
    """buildozer.spec through buildozer's own reader (SpecParser), as `buildozer` loads it."""
    from buildozer import Buildozer

    overrides = [name for name in os.environ if name.startswith(("APP_", "BUILDOZER_"))]
    assert not overrides, f"environment variables would override the spec: {overrides}"
    return Buildozer(filename=str(APP / "buildozer.spec")).config


def test_buildozer_spec_names_the_app(spec):
    assert spec.getdefault("app", "title") == "pocketml CKD"
    assert spec.getdefault("app", "package.name") == "pocketmlckd"
    assert spec.getdefault("app", "package.domain") == "org.pocketml"
    assert spec.getdefault("app", "version") == "0.1.0"
    assert spec.getdefault("app", "source.dir") == "."


def test_buildozer_spec_packages_the_bundle_and_the_runtime(spec):
    requirements = [r.split("==")[0] for r in spec.getlist("app", "requirements")]
    assert {"python3", "kivy", "pyjnius", "ecdsa", "six"} <= set(requirements)
    assert "cryptography" not in requirements  # its recipe needs Rust; ecdsa is pure Python
    # manifest.sig and trusted_signer.pem: a signed bundle must stay signed on the phone
    assert {"py", "kv", "json", "tflite", "onnx", "sig", "pem"} <= set(
        spec.getlist("app", "source.include_exts"))
    dependencies = spec.getlist("app", "android.gradle_dependencies")
    assert any(d.startswith("com.google.ai.edge.litert:litert:") for d in dependencies)
    assert spec.getlist("app", "android.archs") == ["arm64-v8a", "armeabi-v7a", "x86_64"]
    assert int(spec.getdefault("app", "android.minapi")) >= 21


def test_the_apk_loads_on_16_kb_pages_and_google_play_takes_it(spec):
    [litert] = [d for d in spec.getlist("app", "android.gradle_dependencies")
                if d.startswith("com.google.ai.edge.litert:litert:")]
    version = tuple(int(n) for n in litert.rsplit(":", 1)[1].split("."))
    assert version >= (1, 4, 0), litert  # before 1.4.0 its native libraries are 4 KB-aligned
    assert int(re.match(r"\d+", spec.getdefault("app", "android.ndk"))[0]) >= 28  # 16 KB default
    assert int(spec.getdefault("app", "android.api")) >= 35  # Google Play's target API


def test_python_for_android_is_pinned_to_a_release(spec):
    """buildozer follows p4a's moving master unless p4a.branch names a release tag."""
    assert re.fullmatch(r"v\d{4}\.\d{2}\.\d{2}", spec.getdefault("app", "p4a.branch", ""))


def test_the_offline_app_asks_for_no_permissions(spec):
    assert spec.getlist("app", "android.permissions", []) == []


def test_ios_podfile_links_the_pod_through_inherited_settings():
    podfile = (APP / "ios" / "Podfile").read_text()
    assert "pod 'TensorFlowLiteObjC'" in podfile
    hook = podfile[podfile.index("post_install do |installer|"):]
    assert "%w[OTHER_LDFLAGS FRAMEWORK_SEARCH_PATHS]" in hook and "'$(inherited)'" in hook
    assert "user_project.save" in hook


def test_ios_steps_build_from_a_clean_copy_of_the_app():
    readme = (APP / "README.md").read_text()
    ios = readme[readme.index("## iOS"):readme.index("## What has and has not been run")]
    assert "kivy-ios" in ios and "pod install" in ios and "$(inherited)" in ios
    copy, create = ios.index("rsync"), ios.index("toolchain create")
    assert copy < create and "--exclude .buildozer" in ios and "--exclude bin" in ios
    assert "`toolchain update` does not copy the app" in ios


# --- the launcher -----------------------------------------------------------------------------

@pytest.fixture
def no_subprocess(monkeypatch):
    """Record commands instead of running them (the app would open a window, buildozer would
    download an SDK)."""
    calls = []
    monkeypatch.setattr(subprocess, "call", lambda command, **kw: calls.append((command, kw)) or 0)
    return calls


def test_build_apk_stops_before_any_download_and_says_what_is_missing(monkeypatch, capsys,
                                                                      no_subprocess, tmp_path):
    monkeypatch.setattr(app_launcher, "DEFAULT_BUNDLE", tmp_path)
    (tmp_path / "manifest.json").write_text("{}")
    monkeypatch.setattr(app_launcher, "android_sdk_present", lambda: False)
    monkeypatch.setattr(app_launcher, "reachable", lambda host, port: False)
    assert app_launcher.build_apk() == 2
    assert no_subprocess == []  # buildozer never started
    message = capsys.readouterr().err
    assert "the Android SDK and NDK" in message and "dl.google.com" in message
    assert app_launcher.WORKFLOW in message and (ROOT / app_launcher.WORKFLOW).is_file()
    assert "Traceback" not in message


@pytest.fixture
def as_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.delenv("BUILDOZER_WARN_ON_ROOT", raising=False)


def test_as_root_build_apk_stops_before_buildozer_asks_and_says_what_to_do(
        monkeypatch, capsys, no_subprocess, tmp_path, as_root):
    monkeypatch.setattr(app_launcher, "DEFAULT_BUNDLE", tmp_path)
    (tmp_path / "manifest.json").write_text("{}")
    assert app_launcher.build_apk() == 2
    assert no_subprocess == []  # buildozer never started, so it never asked
    message = capsys.readouterr().err
    assert "this runs as root" in message and 'continue [y/n]?' in message
    assert "Run pocketml apk as a normal user" in message
    assert "BUILDOZER_WARN_ON_ROOT=0 pocketml apk" in message
    assert "Traceback" not in message


def test_as_root_with_buildozers_root_warning_off_nothing_is_asked(monkeypatch, as_root):
    assert app_launcher.buildozer_would_ask_about_root()  # buildozer.spec: warn_on_root = 1
    monkeypatch.setenv("BUILDOZER_WARN_ON_ROOT", "0")  # buildozer's own override of the spec
    assert not app_launcher.buildozer_would_ask_about_root()
    assert not any("root" in m for m in app_launcher.missing_for_apk())


def test_a_normal_user_is_not_asked_about_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert not app_launcher.buildozer_would_ask_about_root()


def test_build_apk_runs_buildozer_in_the_app_folder_when_nothing_is_missing(
        monkeypatch, no_subprocess, tmp_path):
    monkeypatch.setattr(app_launcher, "DEFAULT_BUNDLE", tmp_path)
    (tmp_path / "manifest.json").write_text("{}")
    monkeypatch.setattr(app_launcher, "missing_for_apk", lambda: [])
    assert app_launcher.build_apk() == 0
    [(command, options)] = no_subprocess
    assert command[1:] == ["android", "debug"] and options["cwd"] == APP


# The release build's keystore and trust checks: tests/test_release_signed.py.


def test_apk_names_every_tool_a_build_needs_and_no_rust(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on the PATH at all
    monkeypatch.setattr(app_launcher, "buildozer_would_ask_about_root", lambda: False)
    monkeypatch.setattr(app_launcher, "buildozer_command", lambda: None)
    monkeypatch.setattr(app_launcher.importlib.util, "find_spec", lambda name: None)
    missing = "\n".join(app_launcher.missing_for_apk())
    for tool in app_launcher.BUILD_TOOLS + ("javac", "buildozer", "Cython"):
        assert tool in missing, tool
    assert "rust" not in missing.lower() and "cargo" not in missing


def test_build_apk_without_a_bundle_is_a_user_error(monkeypatch, tmp_path, no_subprocess):
    monkeypatch.setattr(app_launcher, "DEFAULT_BUNDLE", tmp_path / "model")
    with pytest.raises(UserError, match="pocketml all"):
        app_launcher.build_apk()


def test_run_app_points_the_app_at_the_bundle(no_subprocess, tmp_path):
    (tmp_path / "manifest.json").write_text("{}")  # the app itself checks the bundle
    assert app_launcher.run_app(tmp_path) == 0
    [(command, options)] = no_subprocess
    assert command[1:] == [str(APP / "main.py")]
    assert options["env"]["POCKETML_BUNDLE"] == str(tmp_path.resolve())


def test_run_app_without_a_bundle_is_a_user_error(tmp_path, no_subprocess):
    with pytest.raises(UserError, match="no model bundle in .*pocketml all"):
        app_launcher.run_app(tmp_path / "nowhere")
    assert no_subprocess == []


def test_all_app_and_apk_use_the_same_bundle_from_any_folder(monkeypatch, tmp_path, no_subprocess):
    """`pocketml all` writes the bundle where `pocketml app` (and `apk`) read it, wherever it is
    run from: beside the package, never relative to the current folder."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    written = commands.app_model_folder(cli.build_parser().parse_args(["all"]))
    assert written == app_launcher.DEFAULT_BUNDLE == APP / "model" and written.is_absolute()
    bundle = tmp_path / "model"
    (bundle).mkdir()
    (bundle / "manifest.json").write_text("{}")
    monkeypatch.setattr(app_launcher, "DEFAULT_BUNDLE", bundle)
    assert commands.app_model_folder(cli.build_parser().parse_args(["all"])) == bundle
    assert cli.main(["app"]) == 0
    [(_, options)] = no_subprocess
    assert options["env"]["POCKETML_BUNDLE"] == str(bundle)
    chosen = cli.build_parser().parse_args(["all", "--app-model", "mine"])
    assert commands.app_model_folder(chosen) == Path("mine")  # given: as the user wrote it
