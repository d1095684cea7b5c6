"""The refusal screen speaks to the person holding the phone: what happened and what to do, in
words; the technical reason (checksums, signatures, golden rows) only behind "Details", with the
bundle named by its folder, and in full in the log. The real app under Xvfb."""

from __future__ import annotations

import shutil
import sys

from app_fixtures import APP, flip_byte, keep_screenshots, run_driver

sys.path.insert(0, str(APP))
from pocketapp import refusal  # noqa: E402


def refused(display, tmp_path, bundle, **options) -> dict:
    report = run_driver(display, tmp_path / "run", "refused", bundle, **options)
    assert report["screen"] == "ErrorScreen" and report["model_loaded"] is False
    return report


def test_a_damaged_copy_says_reinstall_and_keeps_the_checksums_behind_details(display, tmp_path,
                                                                               kidney_bundle):
    bundle = shutil.copytree(kidney_bundle, tmp_path / "model")
    flip_byte(bundle / "model.tflite")
    report = refused(display, tmp_path, bundle, size="360x740")
    assert report["summary"] == refusal.CHANGED
    shown = " ".join(report["shown"])
    assert "changed or damaged" in shown and "Reinstall the app" in shown and "Details" in shown
    for technical in ("sha256", "checksum", "manifest", str(tmp_path), "model.tflite"):
        assert technical not in shown, technical
    detailed = " ".join(report["shown_with_details"])
    assert "model.tflite does not match its checksum" in detailed and "Hide details" in detailed
    assert str(tmp_path) not in detailed  # the folder by its name: "model: the files do not ..."
    assert report["message"].startswith("model: ")
    [logged] = report["log"]
    assert logged.startswith(f"pocketml: refused {bundle}: {bundle}: ")  # the log: in full
    for shot, audit in report["audits"].items():
        assert audit["problems"] == [], (shot, audit["problems"])  # nothing cut, with details too
    keep_screenshots(report)


def test_each_kind_of_refusal_has_its_own_words():
    from pocketapp.bundle import BundleError
    from pocketapp.predictors import ModelMismatch
    from pocketapp.selfcheck import SelfCheckFailed
    from pocketapp.signature import SignatureError

    assert refusal.for_the_person(SelfCheckFailed("row 3 differs")) == refusal.DIFFERS
    for err in (BundleError("x"), SignatureError("x"), ModelMismatch("x")):
        assert refusal.for_the_person(err) == refusal.CHANGED
    assert refusal.for_the_person(RuntimeError("no LiteRT")) == refusal.NOT_STARTED
