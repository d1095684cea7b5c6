"""Packaging: buildozer.spec as buildozer itself reads it, the iOS Podfile, the APK workflow,
and the launcher functions behind the CLI (run the app, build the APK or say why not)."""

from __future__ import annotations

import os
import subprocess

import pytest

from app_fixtures import APP, ROOT
from pocketml import app_launcher
from pocketml.errors import UserError


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
    assert {"python3", "kivy", "pyjnius", "cryptography"} <= set(requirements)
    # manifest.sig and trusted_signer.pem: a signed bundle must stay signed on the phone
    assert {"py", "kv", "json", "tflite", "onnx", "sig", "pem"} <= set(
        spec.getlist("app", "source.include_exts"))
    dependencies = spec.getlist("app", "android.gradle_dependencies")
    assert any(d.startswith("com.google.ai.edge.litert:litert:") for d in dependencies)
    assert spec.getlist("app", "android.archs") == ["arm64-v8a", "armeabi-v7a"]
    assert int(spec.getdefault("app", "android.minapi")) >= 21
    assert int(spec.getdefault("app", "android.api")) >= 33


def test_the_offline_app_asks_for_no_permissions(spec):
    assert spec.getlist("app", "android.permissions", []) == []


def test_ios_podfile_and_readme():
    assert "pod 'TensorFlowLiteObjC'" in (APP / "ios" / "Podfile").read_text()
    readme = (APP / "README.md").read_text()
    assert "kivy-ios" in readme and "toolchain create" in readme and "pod install" in readme


def test_apk_workflow_bundles_the_model_then_builds_and_uploads_the_apk():
    import yaml

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "android-apk.yml").read_text())
    steps = workflow["jobs"]["apk"]["steps"]
    commands = [step.get("run", "") for step in steps]
    uploads = [step for step in steps if step.get("uses", "").startswith("actions/upload-artifact")]
    bundle = next(i for i, c in enumerate(commands) if "pocketml all" in c)
    build = next(i for i, c in enumerate(commands) if "buildozer android debug" in c)
    assert bundle < build < steps.index(uploads[0])
    assert uploads[0]["with"]["path"].endswith(".apk")


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
    assert ".github/workflows/android-apk.yml" in message
    assert "Traceback" not in message


def test_build_apk_runs_buildozer_in_the_app_folder_when_nothing_is_missing(
        monkeypatch, no_subprocess, tmp_path):
    monkeypatch.setattr(app_launcher, "DEFAULT_BUNDLE", tmp_path)
    (tmp_path / "manifest.json").write_text("{}")
    monkeypatch.setattr(app_launcher, "missing_for_apk", lambda: [])
    assert app_launcher.build_apk() == 0
    [(command, options)] = no_subprocess
    assert command[1:] == ["android", "debug"] and options["cwd"] == APP


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
