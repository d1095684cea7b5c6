"""The app's calls into Android and iOS for its number keyboard and the user's text size,
against fakes that copy those APIs' contracts (tests/app/platform_fakes.py): neither platform runs
here. The real window shows that a number field asks for the keyboard once Kivy has asked for
its own, and the real app module sets the iOS text size before any widget exists."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import platform_fakes
from app_fixtures import APP, driver_env, run_driver
from platform_fakes import TYPE_CLASS_NUMBER, TYPE_NUMBER_FLAG_DECIMAL, PythonActivity, UIKit

sys.path.insert(0, str(APP))
from pocketapp.keyboard import ask_for_decimal_keys  # noqa: E402
from pocketapp.textsize import ios_font_scale  # noqa: E402


# --- Android: the decimal keypad ------------------------------------------------------------

def kivy_shows_the_number_keyboard() -> None:
    """What Kivy 2.3.1's show_keyboard does on Android for input_type "number"."""
    PythonActivity.changeKeyboard(TYPE_CLASS_NUMBER)


def test_on_android_a_number_field_gets_the_decimal_keypad():
    PythonActivity.reset()
    kivy_shows_the_number_keyboard()
    assert PythonActivity.keyboard_shown() == TYPE_CLASS_NUMBER  # Kivy's: no decimal key
    assert ask_for_decimal_keys("android", platform_fakes.JNIUS) is True
    shown = PythonActivity.keyboard_shown()
    assert shown == TYPE_CLASS_NUMBER | TYPE_NUMBER_FLAG_DECIMAL == 0x2002
    # the next number field: Kivy does not ask again while text input is active, and the
    # same type again does not restart the input method
    restarts = len(PythonActivity.restarts)
    ask_for_decimal_keys("android", platform_fakes.JNIUS)
    assert len(PythonActivity.restarts) == restarts and PythonActivity.keyboard_shown() == shown


# --- iOS: digits with a point, and the user's text size ---------------------------------------

def test_on_ios_sdls_text_field_shows_digits_and_a_point_at_once():
    kit = UIKit()
    kit.text_field.becomeFirstResponder()  # SDL_StartTextInput, from Kivy's request_keyboard
    assert kit.text_field.values["shown"] == 0  # the text keyboard: Kivy ignores input_type on iOS
    assert ask_for_decimal_keys("ios", kit.pyobjus) is True
    assert kit.text_field.values["shown"] == 2  # UIKeyboardTypeNumbersAndPunctuation


def test_on_ios_the_keyboard_type_holds_for_the_next_focus():
    kit = UIKit()
    ask_for_decimal_keys("ios", kit.pyobjus)
    assert kit.text_field.values["shown"] is None  # no keyboard yet, nothing reloaded
    kit.text_field.becomeFirstResponder()
    assert kit.text_field.values["shown"] == 2


def test_without_sdls_text_field_nothing_is_changed():
    assert ask_for_decimal_keys("ios", UIKit(with_text_field=False).pyobjus) is False


def test_a_desktop_keeps_its_keyboard():
    assert ask_for_decimal_keys("desktop") is False


@pytest.mark.parametrize("category, scale", [
    ("Large", 1.0), ("ExtraExtraExtraLarge", 23 / 17), ("ExtraLarge", 19 / 17),
    ("ExtraSmall", 0.85),  # 14/17, held at Android's smallest scale
    ("AccessibilityExtraExtraExtraLarge", 2.0),  # 53/17, held at Android's largest
])
def test_ios_text_size_becomes_kivys_font_scale(category, scale):
    assert ios_font_scale(UIKit(category).autoclass) == pytest.approx(scale)


def test_without_uikit_the_text_size_is_the_default():
    with pytest.raises(ImportError):
        import pyobjus  # noqa: F401
    assert ios_font_scale() == 1.0


def test_the_app_on_ios_sets_the_users_text_size_before_its_widgets(display, tmp_path):
    """main.py imported as on an iPhone (PLATFORM "ios", pyobjus a fake whose text size is the
    largest standard one): Kivy's sp follows it, as it follows Android's font scale."""
    code = (
        "import sys, types\n"
        f"sys.path[:0] = [{str(APP)!r}, {str(Path(__file__).parent)!r}]\n"
        "from platform_fakes import UIKit\n"
        "sys.modules['pyobjus'] = types.SimpleNamespace("
        "autoclass=UIKit('ExtraExtraExtraLarge').autoclass)\n"
        "import pocketapp.predictors\n"
        "pocketapp.predictors.PLATFORM = 'ios'\n"
        "import main\n"
        "from kivy.metrics import Metrics, sp\n"
        "print(Metrics.fontscale, sp(17))\n")
    env = {**driver_env(display, tmp_path / "kivy_home"), "KIVY_METRICS_DENSITY": "1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    fontscale, seventeen_sp = map(float, done.stdout.split()[-2:])
    assert fontscale == pytest.approx(23 / 17) and seventeen_sp == pytest.approx(23)


# --- the real window ----------------------------------------------------------------------------

def test_a_number_field_asks_for_decimal_keys_after_kivys_keyboard(display, tmp_path,
                                                                  kidney_bundle):
    report = run_driver(display, tmp_path, "keyboard", kidney_bundle)
    assert report["focused"] is True
    # once, for this platform, with Kivy's keyboard already requested for this very field
    assert report["keyboard_requests"] == [{"platform": "desktop", "kivy_keyboard_first": True}]
