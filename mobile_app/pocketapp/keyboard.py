"""The keyboard a number field opens: digits and a decimal point, on Android and on iOS.

Kivy 2.3.1 honours TextInput.input_type only on Android, where "number" asks for
TYPE_CLASS_NUMBER alone: a keypad without a decimal key, while specific gravity needs 1.005 to
1.025. On iOS it opens the full text keyboard. So when a number field has taken the focus (and
Kivy has asked for its own keyboard), the app asks the platform for a better one:

- Android: python-for-android's static PythonActivity.changeKeyboard(inputType), the call Kivy
  itself makes, with TYPE_CLASS_NUMBER | TYPE_NUMBER_FLAG_DECIMAL. It stores the type SDL's input
  view gives the input method and restarts the input when the type changed, so this second
  call replaces Kivy's number pad by the decimal one.
- iOS: SDL 2 receives text through a hidden UITextField, a subview of the root view
  controller's view. It gets UIKeyboardTypeNumbersAndPunctuation, then reloadInputViews when it
  already shows its keyboard (UIKit applies a new keyboardType at the next focus otherwise).
  Not UIKeyboardTypeDecimalPad: that pad shows only the region's separator ("," in much of the
  world), which the form refuses ("use a dot for decimals"), and has no key to close it.

On iOS every property is read by key-value coding (valueForKeyPath:, valueForKey:): pyobjus makes
an attribute only of a property declared on the object's own class, and SDL's window, view
controller and view are subclasses of UIKit's, so `keyWindow.rootViewController.view` read as
attributes would meet getter methods, not values (pyobjus.pyx, autoclass). Key-value coding
reaches a property wherever it is declared.

Nothing here imports pyjnius or pyobjus until a phone asks: `bridge` is the jnius or pyobjus
module, or a fake of it in the tests."""

from __future__ import annotations

# android.text.InputType
TYPE_CLASS_NUMBER = 0x0002
TYPE_NUMBER_FLAG_DECIMAL = 0x2000
ANDROID_DECIMAL_KEYPAD = TYPE_CLASS_NUMBER | TYPE_NUMBER_FLAG_DECIMAL
# UIKit's UIKeyboardType
UI_KEYBOARD_TYPE_NUMBERS_AND_PUNCTUATION = 2


def ask_for_decimal_keys(platform: str, bridge=None) -> bool:
    """Ask this platform for a keyboard with digits and a decimal point; whether it was asked
    (a desktop has its own keyboard). Raises what the platform's bridge raises."""
    if platform == "android":
        if bridge is None:
            import jnius as bridge
        bridge.autoclass("org.kivy.android.PythonActivity").changeKeyboard(ANDROID_DECIMAL_KEYPAD)
        return True
    if platform == "ios":
        if bridge is None:
            import pyobjus as bridge
        return _ios_text_field_asks(bridge.autoclass, bridge.objc_str)
    return False


def _ios_text_field_asks(autoclass, objc_str) -> bool:
    text_field_class = autoclass("UITextField").oclass()
    subviews = autoclass("UIApplication").sharedApplication().valueForKeyPath_(
        objc_str("keyWindow.rootViewController.view.subviews"))
    for index in range(subviews.count()):
        field = subviews.objectAtIndex_(index)
        if field.isKindOfClass_(text_field_class):
            shown = field.valueForKey_(objc_str("keyboardType")).intValue()
            if shown != UI_KEYBOARD_TYPE_NUMBERS_AND_PUNCTUATION:
                field.setKeyboardType_(UI_KEYBOARD_TYPE_NUMBERS_AND_PUNCTUATION)
                if field.isFirstResponder():
                    field.reloadInputViews()
            return True
    return False
