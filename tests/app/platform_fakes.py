"""Fakes of the Android and iOS APIs the app calls for its keyboard and text size, copying what
their documentation and source say they do; `android_autoclass` / `ios_autoclass` stand in for
pyjnius's and pyobjus's `autoclass`. Imported by tests/app/test_app_phone_apis.py, and by the app
started with a fake pyobjus in a subprocess."""

from __future__ import annotations

import types

# android.text.InputType
TYPE_CLASS_TEXT, TYPE_CLASS_NUMBER = 0x1, 0x2
TYPE_TEXT_VARIATION_VISIBLE_PASSWORD, TYPE_NUMBER_FLAG_DECIMAL = 0x90, 0x2000


class PythonActivity:
    """python-for-android's org.kivy.android.PythonActivity, as far as the keyboard goes. Its
    static changeKeyboard(inputType) stores the type in SDLActivity.keyboardInputType, which
    SDL's DummyEdit.onCreateInputConnection hands the input method as EditorInfo.inputType, and
    calls InputMethodManager.restartInput(mTextEdit) only when the type changed: only then does
    the input method read it again. Kivy's show_keyboard calls it with TYPE_CLASS_NUMBER for
    input_type "number" (kivy/core/window/_window_sdl2.pyx), unless text input is active."""

    keyboardInputType = TYPE_CLASS_TEXT | TYPE_TEXT_VARIATION_VISIBLE_PASSWORD  # SDL's default
    restarts: list[int] = []  # the inputType the input method was restarted with, in order

    @classmethod
    def reset(cls) -> None:
        cls.keyboardInputType = TYPE_CLASS_TEXT | TYPE_TEXT_VARIATION_VISIBLE_PASSWORD
        cls.restarts = []

    @classmethod
    def changeKeyboard(cls, inputType: int) -> None:  # noqa: N802, N803 (Java's names)
        if cls.keyboardInputType != inputType:
            cls.keyboardInputType = inputType
            cls.restarts.append(inputType)

    @classmethod
    def keyboard_shown(cls) -> int:
        """The inputType of the keyboard on screen: the last one the input method read."""
        return cls.restarts[-1]


def android_autoclass(name: str):
    return {"org.kivy.android.PythonActivity": PythonActivity}[name]


class UIView:
    """A UIView with subviews (an NSArray: count, objectAtIndex:)."""

    def __init__(self, *subviews):
        self.subviews = NSArray(subviews)

    def isKindOfClass_(self, objc_class) -> bool:  # noqa: N802
        return isinstance(self, objc_class)


class NSArray:
    def __init__(self, items):
        self.items = list(items)

    def count(self) -> int:
        return len(self.items)

    def objectAtIndex_(self, index: int):  # noqa: N802
        return self.items[index]


class UITextField(UIView):
    """UITextInputTraits' keyboardType as UIKit documents it: a new value shows when the field
    next becomes first responder, or at once through reloadInputViews while it is one."""

    def __init__(self):
        super().__init__()
        self.keyboardType = 0  # UIKeyboardTypeDefault
        self.first_responder = False
        self.shown = None  # the keyboardType of the keyboard on screen; None: no keyboard

    def setKeyboardType_(self, value: int) -> None:  # noqa: N802
        self.keyboardType = value

    def becomeFirstResponder(self) -> bool:  # noqa: N802 (what SDL_StartTextInput does)
        self.first_responder, self.shown = True, self.keyboardType
        return True

    def isFirstResponder(self) -> bool:  # noqa: N802
        return self.first_responder

    def reloadInputViews(self) -> None:  # noqa: N802
        if self.first_responder:
            self.shown = self.keyboardType


class UIKit:
    """One app's UIKit: SDL's root view controller, whose view holds SDL's hidden text field,
    and the content size category of Settings' text size."""

    # UIFontTextStyleBody's size, pt, per content size category (Apple's Human Interface
    # Guidelines, "Dynamic Type sizes"); Large is the default
    BODY_POINTS = {"ExtraSmall": 14, "Small": 15, "Medium": 16, "Large": 17, "ExtraLarge": 19,
                   "ExtraExtraLarge": 21, "ExtraExtraExtraLarge": 23, "AccessibilityMedium": 28,
                   "AccessibilityLarge": 33, "AccessibilityExtraLarge": 40,
                   "AccessibilityExtraExtraLarge": 47, "AccessibilityExtraExtraExtraLarge": 53}

    def __init__(self, category: str = "Large", with_text_field: bool = True):
        self.category = category
        self.text_field = UITextField() if with_text_field else None
        sdl_view = UIView(*([self.text_field] if with_text_field else []))
        controller = types.SimpleNamespace(view=sdl_view)
        window = types.SimpleNamespace(rootViewController=controller)
        self.application = types.SimpleNamespace(keyWindow=window)

    def autoclass(self, name: str):
        kit = self
        classes = {
            "UIApplication": types.SimpleNamespace(sharedApplication=lambda: kit.application),
            "UITextField": types.SimpleNamespace(oclass=lambda: UITextField),
            "UIFontMetrics": types.SimpleNamespace(defaultMetrics=lambda: FontMetrics(kit)),
        }
        return classes[name]


class FontMetrics:
    """UIFontMetrics.defaultMetrics (the body style): scaledValueForValue: scales a length by
    the current content size category, relative to Large."""

    def __init__(self, kit: UIKit):
        self.kit = kit

    def scaledValueForValue_(self, value: float) -> float:  # noqa: N802
        return value * UIKit.BODY_POINTS[self.kit.category] / UIKit.BODY_POINTS["Large"]
