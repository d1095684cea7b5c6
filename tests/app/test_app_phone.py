"""The real app on phone-sized screens, under Xvfb: 360x740 and 320x640 at density 1 (1 dp =
1 px), at the phone's normal font size and at font scale 1.3. On every screenshot no label may
be shortened, overflow its box or run off the screen, every touch target is at least 48 dp
tall and every text has at least 4.5:1 contrast with what is behind it, measured from the
rendered pixels; number fields open the number pad; on an iPhone the form stays clear of the
notch and the home indicator.

The screenshots are kept in artifacts/screenshots/ (app_*_phone_WxH_fsS.png), for people to look
at; the README shows one."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
from matplotlib.image import imread

from app_fixtures import (APP, GOLDEN, form_answers, keep_screenshots, phone_metrics, run_driver,
                          write_manifest)

PHONES = [("360x740", 1.0), ("360x740", 1.3), ("320x640", 1.3)]
MIN_TOUCH_DP = 48  # Android's minimum touch target (Apple's: 44 pt)
MIN_CONTRAST = 4.5  # WCAG 2's minimum for normal text


def assert_nothing_cut(report: dict, size: str) -> None:
    width, height = (int(n) for n in size.split("x"))
    assert report["window"] == [width, height]
    assert report["audits"], "no screenshot was audited"
    for shot, audit in report["audits"].items():
        assert audit["labels"] >= 2, shot
        assert audit["problems"] == [], f"{shot}: {json.dumps(audit['problems'], indent=1)}"
    for shot in report["screenshots"]:
        pixels = imread(shot)
        assert pixels.shape[:2] == (height, width), shot
        assert pixels[..., :3].std() > 0.05, f"{shot} is blank"  # a drawn frame, not a black buffer
    assert_usable(report)


def assert_usable(report: dict) -> None:
    """Every touch target tall enough, every text on screen legible, on every screenshot."""
    for shot, targets in report["targets"].items():
        short = [t for t in targets if t["height_dp"] < MIN_TOUCH_DP]
        assert short == [], f"{shot}: touch targets under {MIN_TOUCH_DP} dp: {short}"
    for shot, texts in report["contrast"].items():
        assert len(texts) >= 2, f"{shot}: no text was measured"
        faint = [t for t in texts if t["ratio"] < MIN_CONTRAST]
        assert faint == [], f"{shot}: text under {MIN_CONTRAST}:1: {json.dumps(faint, indent=1)}"


def tag(size: str, fontscale: float) -> str:
    return f"phone_{size}_fs{fontscale:g}"


@pytest.mark.parametrize("size, fontscale", PHONES)
def test_a_patient_on_a_phone_screen_sees_every_word(display, tmp_path, kidney_bundle,
                                                     kidney_schema, kidney_patient, size,
                                                     fontscale):
    report = run_driver(display, tmp_path, "patient", kidney_bundle,
                        metrics=phone_metrics(fontscale), size=size, tag=tag(size, fontscale),
                        answers=form_answers(kidney_schema, kidney_patient))
    assert_nothing_cut(report, size)
    # every field could be reached and filled on the small screen: the model was asked
    # the row, then one run per coalition of fields for its explanation
    assert report["predictions"] == 1 + 2 ** len(report["fields"])
    assert report["result"].startswith("Probability of ckd: ")
    assert report["footer"].startswith("verified on this device: 32/32, max diff ")
    # "abnormal" does not fit beside "pus cells in urine (pc)" on a phone: its own row
    own_row = {f["name"]: f["own_row"] for f in report["fields"] if "own_row" in f}
    assert own_row["pc"] is True
    # every kind of target was measured; the explanation scrolls the chosen answers out of
    # view on these screens, so their white labels are measured once scrolled back to them
    result, answers = (f"app_{shot}_{tag(size, fontscale)}.png" for shot in ("result", "answers"))
    assert {t["kind"] for t in report["targets"][result]} == {"NumberInput", "ChoiceButton",
                                                              "SubmitButton"}
    chosen = [t for t in report["contrast"][answers] if t["state"] == "down"]
    assert len(chosen) >= 1
    assert all(t["text_rgb"] == [255, 255, 255] for t in chosen)
    keep_screenshots(report)


def test_bad_inputs_on_the_smallest_screen_at_font_scale_1_3(display, tmp_path, kidney_bundle,
                                                             kidney_schema, kidney_patient):
    size, fontscale = "320x640", 1.3
    report = run_driver(display, tmp_path, "bad_inputs", kidney_bundle,
                        metrics=phone_metrics(fontscale), size=size, tag=tag(size, fontscale),
                        answers=form_answers(kidney_schema, kidney_patient),
                        bad=["1,02", "abc", "9999"], showcase=["1,02", "nan", "", "99"])
    assert_nothing_cut(report, size)
    messages = {case["text"]: case["message"] for case in report["bad"]}
    assert messages == {"1,02": "use a dot for decimals: 1.02", "abc": "not a number: abc",
                        "9999": "outside the plausible range 1.005 to 1.025"}
    assert report["predictions"] == 0
    keep_screenshots(report)


def test_number_fields_open_the_number_pad_and_keep_every_character(display, tmp_path,
                                                                    kidney_bundle):
    """input_type "number" asks Android for its number keyboard, which NumberInput then asks to
    have a decimal point (tests/app/test_app_phone_apis.py); no input_filter, so a comma typed on a
    keypad that offers one still reaches the validation and its "use a dot" hint."""
    report = run_driver(display, tmp_path, "form", kidney_bundle)
    numeric = [f for f in report["fields"] if f["kind"] == "NumericEntry"]
    assert [f["name"] for f in numeric] == ["sg", "al", "sod", "hemo"]
    assert all(f["number_input"] and f["input_type"] == "number"
               and f["input_filter"] is None for f in numeric)


def test_a_refusal_on_the_smallest_screen_is_readable_whole(display, tmp_path, kidney_bundle):
    bundle = shutil.copytree(kidney_bundle, tmp_path / "model")
    golden = json.loads((bundle / GOLDEN).read_text())
    golden["cases"][0]["output"][0] += 0.5
    (bundle / GOLDEN).write_text(json.dumps(golden))
    write_manifest(bundle)
    size, fontscale = "320x640", 1.3
    report = run_driver(display, tmp_path / "run", "refused", bundle,
                        metrics=phone_metrics(fontscale), size=size, tag=tag(size, fontscale))
    assert report["screen"] == "ErrorScreen" and "golden rows differ" in report["message"]
    assert_nothing_cut(report, size)
    keep_screenshots(report)


def test_on_an_iphone_the_form_stays_clear_of_the_notch_and_home_indicator(
        display, tmp_path, kidney_bundle, kidney_schema, kidney_patient):
    """An iPhone 14's screen in points (390x844) with its safe-area insets, 47 and 34 pt."""
    size, top, bottom = "390x844", 47, 34
    report = run_driver(display, tmp_path, "patient", kidney_bundle, metrics=phone_metrics(1.3),
                        size=size, safe_area=f"{top},{bottom}", tag=f"iphone_{size}",
                        answers=form_answers(kidney_schema, kidney_patient))
    assert_nothing_cut(report, size)
    lowest, highest = report["content_y"]
    assert lowest >= bottom and highest <= 844 - top, report["content_y"]
    keep_screenshots(report)


def test_safe_area_insets_come_from_uikits_layout_frame():
    sys.path.insert(0, str(APP))
    from pocketapp.safearea import LARGEST_IPHONE_INSETS, Insets, insets_from_layout_frame, safe_area

    assert insets_from_layout_frame(844, 47, 763) == Insets(47, 34)  # iPhone 14, portrait
    assert insets_from_layout_frame(667, 20, 647) == Insets(20, 0)  # iPhone SE: no indicator
    assert safe_area("desktop") == Insets(0, 0)  # Android: tests/app/test_app_platforms.py
    # no UIKit here (no pyobjus): the app pads as much as the largest iPhone insets
    assert safe_area("ios") == Insets(*LARGEST_IPHONE_INSETS)


# iOS portrait: tests/test_ios_build.py (locked in the Xcode project's Info.plist).
