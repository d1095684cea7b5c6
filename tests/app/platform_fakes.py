"""Fakes of the Android and iOS APIs the app calls for its keyboard and text size, copying what
their documentation and source say they do; `JNIUS` and `UIKit().pyobjus` stand in for the
jnius and pyobjus modules. Imported by tests/app/test_app_phone_apis.py and test_ios_bridges.py,
and by the app started with a fake pyobjus in a subprocess."""

from __future__ import annotations

import types
from dataclasses import dataclass

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


JNIUS = types.SimpleNamespace(autoclass=android_autoclass)


# --- UIKit through pyobjus ---------------------------------------------------------------------
# pyobjus (pyobjus/pyobjus.pyx, autoclass) builds an object's Python class from every method of
# its runtime class and of all its superclasses (resolve_super_class_methods), then adds the
# properties of that class alone (get_class_properties(cls): class_copyPropertyList(cls)), which
# replace the methods of the same name. So `obj.name` is the value only of a property declared on
# the object's own class; a property declared on a superclass is its getter method, to be
# called, and reading it as an attribute gives a bound method. Key-value coding (valueForKey:,
# valueForKeyPath: on NSObject) reaches a property either way, scalars boxed in NSNumber and
# structs in NSValue. The declaring classes below follow UIKit's headers; SDL 2's window, view
# controller and view are its own subclasses (src/video/uikit/SDL_uikitwindow.h,
# SDL_uikitviewcontroller.h, SDL_uikitview.h), and its hidden text field a plain UITextField that
# setView: adds to the controller's view (SDL_uikitviewcontroller.m, initKeyboard).


class ObjcClass:
    """A runtime class: its superclass, the properties its own @interface declares, those of
    protocols it adopts without declaring them (accessors and key-value coding, no property
    entry), and its own methods (Python functions taking the object first)."""

    def __init__(self, name: str, superclass: "ObjcClass | None" = None,
                 properties: tuple[str, ...] = (), adopted: tuple[str, ...] = (), **methods):
        self.name, self.superclass = name, superclass
        self.properties, self.adopted, self.methods = properties, adopted, methods

    def chain(self):
        cls = self
        while cls is not None:
            yield cls
            cls = cls.superclass

    def declares_anywhere(self, name: str) -> bool:
        return any(name in cls.properties + cls.adopted for cls in self.chain())

    def method(self, name: str):
        """The implementation pyobjus finds for `name`: a method, else a property's getter or
        setter declared on this class or a superclass; None if the class has neither."""
        for cls in self.chain():
            if name in cls.methods:
                return cls.methods[name]
        if self.declares_anywhere(name):
            return lambda obj: obj.values[name]
        setter = name.startswith("set") and name.endswith("_") and name[3:-1]
        if setter and self.declares_anywhere(setter[0].lower() + setter[1:]):
            return lambda obj, value: obj.values.__setitem__(setter[0].lower() + setter[1:],
                                                             value)
        return None

    def __call__(self, **values) -> "ObjcObject":
        return ObjcObject(self, values)


class ObjcObject:
    """An instance as pyobjus hands it over: own-class properties are values, the rest methods."""

    def __init__(self, cls: ObjcClass, values: dict):
        object.__setattr__(self, "objc_class", cls)
        object.__setattr__(self, "values", values)

    def __getattr__(self, name: str):
        cls = self.objc_class
        if name in cls.properties:
            return self.values[name]
        method = cls.method(name)
        if method is None:
            raise AttributeError(f"'{cls.name}' object has no attribute '{name}'")
        return lambda *args: method(self, *args)


def boxed(value):
    """What key-value coding returns for a property's value."""
    if isinstance(value, bool | int | float):
        return NSNumber(number=value)
    if isinstance(value, CGRect):
        return NSValue(rect=value)
    return value


def value_for_key(obj: ObjcObject, key) -> object:
    key = str(key)
    if not obj.objc_class.declares_anywhere(key):  # NSUnknownKeyException
        raise KeyError(f"[<{obj.objc_class.name}> valueForUndefinedKey:]: {key}")
    return boxed(obj.values[key])


def value_for_key_path(obj: ObjcObject, path) -> object:
    for key in str(path).split("."):
        obj = value_for_key(obj, key)
    return obj


class NSString(str):
    """objc_str's result: an NSString the fake reads as its text."""


def is_kind_of_class(obj: ObjcObject, oclass: ObjcClass) -> bool:
    return oclass in obj.objc_class.chain()


NSObject = ObjcClass("NSObject", None, (), valueForKey_=value_for_key,
                     valueForKeyPath_=value_for_key_path, isKindOfClass_=is_kind_of_class)
NSNumber = ObjcClass("NSNumber", NSObject, (), intValue=lambda o: int(o.values["number"]),
                     floatValue=lambda o: float(o.values["number"]))
NSArray = ObjcClass("NSArray", NSObject, (), count=lambda o: len(o.values["items"]),
                    objectAtIndex_=lambda o, i: o.values["items"][i])


@dataclass
class CGPoint:
    x: float
    y: float


@dataclass
class CGSize:
    width: float
    height: float


@dataclass
class CGRect:
    """A struct pyobjus returns with its members as attributes (origin.y, size.height)."""
    origin: CGPoint
    size: CGSize


NSValue = ObjcClass("NSValue", NSObject, (), CGRectValue=lambda o: o.values["rect"])


def become_first_responder(responder: ObjcObject) -> bool:
    """What SDL_StartTextInput does to its text field: the keyboard of its keyboardType shows."""
    responder.values.update(isFirstResponder=True, shown=responder.values.get("keyboardType"))
    return True


def reload_input_views(responder: ObjcObject) -> None:
    """A new keyboardType shows at once only through reloadInputViews while first responder."""
    if responder.values.get("isFirstResponder"):
        responder.values["shown"] = responder.values.get("keyboardType")


UIResponder = ObjcClass("UIResponder", NSObject, ("isFirstResponder",),
                        becomeFirstResponder=become_first_responder,
                        reloadInputViews=reload_input_views)
UIView = ObjcClass("UIView", UIResponder, ("frame", "subviews", "safeAreaLayoutGuide"))
UIWindow = ObjcClass("UIWindow", UIView, ("rootViewController",))
UIViewController = ObjcClass("UIViewController", UIResponder, ("view",))
UIApplication = ObjcClass("UIApplication", UIResponder, ("keyWindow",))
UILayoutGuide = ObjcClass("UILayoutGuide", NSObject, ("layoutFrame",))
UIControl = ObjcClass("UIControl", UIView)
# keyboardType comes from the UITextInputTraits protocol, which UITextField.h adopts without
# declaring the property on the class: a getter and setKeyboardType: to pyobjus.
UITextField = ObjcClass("UITextField", UIControl, (), adopted=("keyboardType",))
SDL_uikitwindow = ObjcClass("SDL_uikitwindow", UIWindow)
SDL_uikitviewcontroller = ObjcClass("SDL_uikitviewcontroller", UIViewController)
SDL_uikitview = ObjcClass("SDL_uikitview", UIView)
# The safe area guide UIView makes for itself: a UILayoutGuide subclass, so to pyobjus its
# layoutFrame is inherited.
SafeAreaLayoutGuide = ObjcClass("_UIViewSafeAreaLayoutGuide", UILayoutGuide)


class UIKit:
    """One app's UIKit: SDL's window, root view controller and view, which holds SDL's hidden
    text field; the safe area of the screen; and the content size category of Settings' text
    size. `pyobjus` is the module the app imports (autoclass and objc_str)."""

    # UIFontTextStyleBody's size, pt, per content size category (Apple's Human Interface
    # Guidelines, "Dynamic Type sizes"); Large is the default
    BODY_POINTS = {"ExtraSmall": 14, "Small": 15, "Medium": 16, "Large": 17, "ExtraLarge": 19,
                   "ExtraExtraLarge": 21, "ExtraExtraExtraLarge": 23, "AccessibilityMedium": 28,
                   "AccessibilityLarge": 33, "AccessibilityExtraLarge": 40,
                   "AccessibilityExtraExtraLarge": 47, "AccessibilityExtraExtraExtraLarge": 53}

    def __init__(self, category: str = "Large", with_text_field: bool = True,
                 screen: tuple[float, float] = (844, 390), safe: tuple[float, float] = (47, 763)):
        """`screen`: the window's height and width (pt); `safe`: the safe area's y and height."""
        self.category = category
        self.text_field = UITextField(keyboardType=0, isFirstResponder=False, shown=None) \
            if with_text_field else None
        view = SDL_uikitview(subviews=NSArray(items=[self.text_field] if with_text_field else []))
        controller = SDL_uikitviewcontroller(view=view)
        height, width = screen
        guide = SafeAreaLayoutGuide(layoutFrame=CGRect(CGPoint(0, safe[0]),
                                                       CGSize(width, safe[1])))
        window = SDL_uikitwindow(rootViewController=controller, safeAreaLayoutGuide=guide,
                                 frame=CGRect(CGPoint(0, 0), CGSize(width, height)))
        self.application = UIApplication(keyWindow=window)
        self.pyobjus = types.SimpleNamespace(autoclass=self.autoclass, objc_str=NSString)

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
