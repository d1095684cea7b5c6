"""The iOS bridges by pyobjus's real rule (tests/app/platform_fakes.py): an attribute is a value only
for a property declared on the object's own class, and SDL's window, view controller and view
are subclasses, so what UIKit declares on UIWindow, UIViewController and UIView are methods on
them. The keyboard and safe-area code read through key-value coding, which works either way."""

from __future__ import annotations

import sys

import pytest

from app_fixtures import APP
from platform_fakes import UIKit, UITextField

sys.path.insert(0, str(APP))
from pocketapp.keyboard import ask_for_decimal_keys  # noqa: E402
from pocketapp.safearea import LARGEST_IPHONE_INSETS, Insets, safe_area  # noqa: E402


def test_the_fake_follows_pyobjus_own_class_properties_only():
    kit = UIKit()
    window = kit.application.keyWindow  # declared on UIApplication itself: a value
    assert window.objc_class.name == "SDL_uikitwindow"
    assert callable(window.rootViewController)  # declared on UIWindow: a getter method
    with pytest.raises(AttributeError):
        window.rootViewController.view  # what keyboard.py read before: a method has no .view
    controller = window.rootViewController()
    assert controller.view().subviews().count() == 1
    assert window.safeAreaLayoutGuide().layoutFrame().origin.y == 47
    field = controller.view().subviews().objectAtIndex_(0)
    assert field.isKindOfClass_(UITextField) and callable(field.keyboardType)  # protocol's
    assert field.valueForKey_("keyboardType").intValue() == 0
    with pytest.raises(KeyError):
        field.valueForKey_("notAProperty")


@pytest.fixture
def ios(monkeypatch):
    def install(kit: UIKit) -> UIKit:
        monkeypatch.setitem(sys.modules, "pyobjus", kit.pyobjus)
        return kit
    return install


@pytest.mark.parametrize("screen, safe, insets", [
    ((844, 390), (47, 763), Insets(47, 34)),  # iPhone 14: notch and home indicator
    ((852, 393), (59, 759), Insets(59, 34)),  # iPhone 15: Dynamic Island
    ((667, 375), (20, 647), Insets(20, 0)),  # iPhone SE: status bar, no indicator
])
def test_the_safe_area_is_this_phones_not_the_fallback(ios, screen, safe, insets):
    ios(UIKit(screen=screen, safe=safe))
    assert safe_area("ios") == insets


def test_without_a_key_window_the_safe_area_falls_back_to_the_largest(ios):
    kit = ios(UIKit())
    kit.application.values["keyWindow"] = None  # before the window exists
    assert safe_area("ios") == Insets(*LARGEST_IPHONE_INSETS)


def test_sdls_field_asks_through_key_value_coding(ios):
    kit = ios(UIKit())
    kit.text_field.becomeFirstResponder()
    assert ask_for_decimal_keys("ios") is True  # the app's own `import pyobjus`
    assert kit.text_field.values["keyboardType"] == kit.text_field.values["shown"] == 2
