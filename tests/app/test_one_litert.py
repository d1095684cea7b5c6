"""One LiteRT from proof to phone: the release the proofs run (the ai-edge-litert wheel) is the
one pyproject.toml pins and the one the Android app links (buildozer.spec), the parity report
and the bundle's manifest name it, and the app's self-check line names what computed on the
device beside what computed the proof. iOS links a pod of its own, pinned and named."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

from phone_fakes import FakeJnius, FakePyobjus

from pocketml.pocketapp.bundle import open_bundle
from pocketml.pocketapp.contract import PROOF_RUNTIMES
from pocketml.pocketapp.predictors import IOS_POD, AndroidLiteRT, IOSTFLite
from pocketml.pocketapp.selfcheck import verify_on_device

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "mobile_app"
WHEEL = version("ai-edge-litert")


def android_litert(spec: Path) -> str:
    """The release of com.google.ai.edge.litert:litert that buildozer.spec links, read by
    buildozer's own reader."""
    from buildozer import Buildozer

    dependencies = Buildozer(filename=str(spec)).config.getlist(
        "app", "android.gradle_dependencies", [])
    [litert] = [d for d in dependencies if d.startswith("com.google.ai.edge.litert:litert:")]
    return litert.rsplit(":", 1)[1]


def test_the_apk_links_the_litert_release_every_proof_runs():
    linked = android_litert(APP / "buildozer.spec")
    assert linked == WHEEL, (f"buildozer.spec links LiteRT {linked} but the proofs ran "
                             f"ai-edge-litert {WHEEL}: pin com.google.ai.edge.litert:litert:{WHEEL}")


def test_a_spec_linking_another_release_is_caught(tmp_path):
    spec = tmp_path / "buildozer.spec"
    spec.write_text((APP / "buildozer.spec").read_text().replace(f"litert:{WHEEL}", "litert:1.4.2"))
    assert android_litert(spec) == "1.4.2" != WHEEL


def test_pyproject_pins_the_wheel_exactly_to_that_release():
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"ai-edge-litert=={WHEEL}" in dependencies


def test_the_ios_pod_is_pinned_exactly_and_named_by_the_app():
    podfile = (APP / "ios" / "Podfile").read_text()
    [(name, pin)] = re.findall(r"^\s*pod '(TensorFlowLiteObjC)', '([^']+)'", podfile, re.M)
    assert re.fullmatch(r"\d+\.\d+\.\d+", pin), f"{pin}: not one exact release"
    assert IOS_POD == f"{name} {pin}"
    readme = (APP / "README.md").read_text()
    assert IOS_POD in readme and f"ai-edge-litert {WHEEL}" in readme


def test_parity_report_and_bundle_name_the_release_that_computed(kidney_folder, kidney_bundle):
    parity = json.loads((kidney_folder / "parity.json").read_text())
    assert parity["runtime_versions"]["litert"] == f"ai-edge-litert {WHEEL}"
    assert parity["runtime_versions"]["onnxruntime"] == f"onnxruntime {version('onnxruntime')}"
    assert f"litert: ai-edge-litert {WHEEL}" in (kidney_folder / "parity.md").read_text()
    manifest = json.loads((kidney_bundle / "manifest.json").read_text())
    assert manifest[PROOF_RUNTIMES] == parity["runtime_versions"]


def test_the_android_self_check_line_names_both_releases(kidney_bundle, monkeypatch):
    monkeypatch.setitem(sys.modules, "jnius", FakeJnius())
    bundle = open_bundle(kidney_bundle)
    line = verify_on_device(bundle, AndroidLiteRT.load(bundle)).log_line
    assert line.startswith(f"self-check passed on LiteRT (Android) (LiteRT {WHEEL}; the proof "
                           f"ran ai-edge-litert {WHEEL}): 32/32 golden rows"), line


def test_the_ios_self_check_line_names_the_pod(kidney_bundle, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyobjus", FakePyobjus())
    bundle = open_bundle(kidney_bundle)
    line = verify_on_device(bundle, IOSTFLite.load(bundle)).log_line
    assert f"({IOS_POD}; the proof ran ai-edge-litert {WHEEL})" in line, line


def test_a_runtime_that_cannot_say_its_release_still_passes_the_check(kidney_bundle, monkeypatch):
    jnius = FakeJnius()
    del jnius.classes["org.tensorflow.lite.TensorFlowLite"]
    monkeypatch.setitem(sys.modules, "jnius", jnius)
    bundle = open_bundle(kidney_bundle)
    line = verify_on_device(bundle, AndroidLiteRT.load(bundle)).log_line
    assert "(release unknown (java.lang.ClassNotFoundException: " in line
