"""Android 15 edge to edge: the soft keyboard's inset is padded like the bars (nothing resizes the
window for it any more), and every platform call at start-up falls back instead of crashing
before the app has a screen to say anything on (tests/app/phone_fakes.py's Phone)."""

from __future__ import annotations

import sys

from app_fixtures import APP
from insets_fakes import DISPLAY_CUTOUT, IME, NAVIGATION_BARS, STATUS_BARS, GraphicsInsets, Phone
from phone_fakes import FakeJnius

sys.path.insert(0, str(APP))
from pocketapp.safearea import LARGEST_ANDROID_INSETS, Insets, safe_area  # noqa: E402

PIXEL = dict(height=2400, density=2.625)
BARS = {STATUS_BARS: GraphicsInsets(top=63), NAVIGATION_BARS: GraphicsInsets(bottom=126),
        DISPLAY_CUTOUT: GraphicsInsets(top=137)}
KEYBOARD = {**BARS, IME: GraphicsInsets(bottom=880)}  # a Gboard of 880 px over the nav bar


def insets_on(monkeypatch, jnius) -> Insets:
    monkeypatch.setitem(sys.modules, "jnius", jnius)
    return safe_area("android")


def test_edge_to_edge_the_open_keyboard_is_padded(monkeypatch):
    phone = Phone(sdk=35, content_top=0, content_bottom=2400, insets=KEYBOARD, **PIXEL)
    assert insets_on(monkeypatch, phone.jnius()) == Insets(137 / 2.625, 880 / 2.625)
    closed = Phone(sdk=35, content_top=0, content_bottom=2400, insets=BARS, **PIXEL)
    assert insets_on(monkeypatch, closed.jnius()) == Insets(137 / 2.625, 126 / 2.625)


def test_before_edge_to_edge_android_resizes_for_the_keyboard_itself(monkeypatch):
    """API 34: the content view ends above the keyboard; padding for it again would waste it."""
    phone = Phone(sdk=34, content_top=137, content_bottom=2400 - 880, insets=KEYBOARD, **PIXEL)
    assert insets_on(monkeypatch, phone.jnius()) == Insets(0, 0)


def test_no_jnius_at_start_up_falls_back_instead_of_crashing(monkeypatch):
    assert insets_on(monkeypatch, None) == Insets(*LARGEST_ANDROID_INSETS)  # import raises


def test_no_build_version_at_start_up_falls_back_instead_of_crashing(monkeypatch):
    jnius = Phone(sdk=35, content_top=0, content_bottom=2400, insets=BARS, **PIXEL).jnius()
    del jnius.classes["android.os.Build$VERSION"]  # autoclass raises ClassNotFoundException
    assert insets_on(monkeypatch, jnius) == Insets(*LARGEST_ANDROID_INSETS)


def test_an_activity_that_is_not_there_yet_falls_back(monkeypatch):
    jnius = FakeJnius(**{"android.os.Build$VERSION": type("VERSION", (), {"SDK_INT": 35})})
    assert insets_on(monkeypatch, jnius) == Insets(*LARGEST_ANDROID_INSETS)
