"""The iOS build as kivy-ios really builds it: portrait locked in the generated project's
Info.plist (kivy-ios's main.m sets KIVY_ORIENTATION from it before Python starts), the
prerequisites and simulator destination of kivy-ios's own CI, and a simulator whose runtime
supports its device type."""

from __future__ import annotations

import importlib.util
import plistlib
import shlex

import pytest
import yaml

from app_fixtures import APP

ROOT = APP.parent
WORKFLOW = ROOT / ".github" / "workflows" / "phone.yml"
# What kivy-ios's template Info.plist allows: every orientation.
TEMPLATE = {"CFBundleIdentifier": "org.kivy.pocketmlckd", "UISupportedInterfaceOrientations": [
    "UIInterfaceOrientationPortrait", "UIInterfaceOrientationPortraitUpsideDown",
    "UIInterfaceOrientationLandscapeLeft", "UIInterfaceOrientationLandscapeRight"]}


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def kivy_orientation(info: dict) -> str:
    """KIVY_ORIENTATION as kivy-ios's main.m (export_orientation) builds it: each entry of
    UISupportedInterfaceOrientations without its 22-character "UIInterfaceOrientation"."""
    return " ".join(item[22:] for item in info["UISupportedInterfaceOrientations"])


def test_the_info_plist_allows_portrait_only(tmp_path):
    plist = tmp_path / "pocketmlckd-Info.plist"
    plist.write_bytes(plistlib.dumps(TEMPLATE))
    assert kivy_orientation(TEMPLATE) == "Portrait PortraitUpsideDown LandscapeLeft LandscapeRight"
    load(APP / "ios" / "lock_portrait.py", "lock_portrait").lock_portrait(plist)
    info = plistlib.loads(plist.read_bytes())
    assert kivy_orientation(info) == "Portrait"
    assert info["UISupportedInterfaceOrientations~ipad"] == ["UIInterfaceOrientationPortrait"]
    assert info["CFBundleIdentifier"] == TEMPLATE["CFBundleIdentifier"]  # nothing else changed
    assert [p.name for p in tmp_path.iterdir()] == [plist.name]  # no temporary left behind


def test_a_file_that_is_not_a_plist_is_named_and_left_alone(tmp_path):
    plist = tmp_path / "Info.plist"
    plist.write_text("not a plist")
    with pytest.raises(SystemExit, match="not a readable Info.plist"):
        load(APP / "ios" / "lock_portrait.py", "lock_portrait").lock_portrait(plist)
    assert plist.read_text() == "not a plist"


def test_main_py_no_longer_pretends_to_set_the_orientation():
    assert "KIVY_ORIENTATION" not in (APP / "main.py").read_text()


def ios_runs() -> str:
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["ios-simulator"]
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_the_workflow_and_readme_build_as_kivy_ios_ci_does():
    runs, readme = ios_runs(), (APP / "README.md").read_text()
    brew = "brew install autoconf automake libtool pkg-config"
    assert brew in runs and "brew link libtool" in runs and brew in readme
    portrait = "python mobile_app/ios/lock_portrait.py pocketmlckd-ios/pocketmlckd-Info.plist"
    assert portrait in runs and portrait in readme
    assert runs.index("toolchain create") < runs.index(portrait) < runs.index("xcodebuild")
    build = shlex.split(runs[runs.index("xcodebuild"):].replace("\\\n", " ").splitlines()[0])
    assert build[build.index("-destination") + 1] == "generic/platform=iOS Simulator"
    assert 'ARCHS=$sim_arch' in build and "-sdk" not in build


def runtime(version: str, *phones: str) -> dict:
    return {"platform": "iOS", "isAvailable": True, "version": version,
            "identifier": f"com.apple.CoreSimulator.SimRuntime.iOS-{version.replace('.', '-')}",
            "supportedDeviceTypes": [
                {"name": p, "productFamily": "iPhone" if p.startswith("iPhone") else "iPad",
                 "identifier": f"com.apple.CoreSimulator.SimDeviceType.{p.replace(' ', '-')}"}
                for p in phones]}


def test_the_simulator_pairs_a_runtime_with_a_device_it_supports():
    pick = load(ROOT / ".github" / "scripts" / "pick_simulator.py", "pick_simulator").pick
    listing = {"runtimes": [runtime("18.6", "iPhone 16", "iPhone 16 Pro"),
                            runtime("26.0", "iPhone 17", "iPhone 17 Pro", "iPad Pro"),
                            runtime("9.3", "iPhone 6s"),  # sorted by version, not by text
                            {**runtime("27.0", "iPhone 18"), "isAvailable": False}]}
    assert pick(listing) == ("com.apple.CoreSimulator.SimDeviceType.iPhone-17-Pro",
                             "com.apple.CoreSimulator.SimRuntime.iOS-26-0")
    with pytest.raises(SystemExit, match="no available iOS runtime"):
        pick({"runtimes": [runtime("26.0", "iPad Pro")]})
    assert "pick_simulator.py" in (ROOT / ".github/scripts/ios_selfcheck.sh").read_text()
