"""How much of the top and bottom of the screen the phone itself covers: on an iPhone the notch
(or Dynamic Island) and the home indicator; on Android 15 and later, where an app that targets
API 35 is drawn edge to edge and SDL does not opt out, the status bar, the navigation bar, a
camera cut-out and the soft keyboard while it is open. Kivy 2.3.1 knows no safe area, so the app pads its screens by these insets.

On iOS they come from UIKit (the key window's safeAreaLayoutGuide, in points, which are Kivy's
dp there), read by key-value coding: the key window is SDL's UIWindow subclass, on which pyobjus
makes UIView's properties getter methods, not attributes (keyboard.py says why). On Android they come from the window's WindowInsets through pyjnius (system bars and
display cut-out), counted only where the app's content view really lies under them: before
edge to edge, Android keeps the window clear of its bars itself. Where they cannot be read, the
largest insets of current phones are used, so nothing is ever drawn under a bar. Desktops: none.
"""

from __future__ import annotations

from dataclasses import dataclass

# Dynamic Island iPhones: 59 pt at the top; every Face ID iPhone: 34 pt for the home indicator.
LARGEST_IPHONE_INSETS = (59.0, 34.0)
# Android: a status bar beside a tall cut-out (48 dp), and the three-button navigation bar.
LARGEST_ANDROID_INSETS = (48.0, 48.0)
EDGE_TO_EDGE_API = 35  # Android 15 draws an app targeting API 35 under its bars
INSETS_TYPES_API = 30  # WindowInsets.getInsets(Type mask); before it, the per-side getters
DISPLAY_CUTOUT_API = 28


@dataclass(frozen=True)
class Insets:
    top: float = 0.0  # dp
    bottom: float = 0.0


def insets_from_layout_frame(window_height: float, frame_y: float, frame_height: float) -> Insets:
    """The insets a safe-area frame (UIKit: origin at the top, y down) leaves in a window."""
    top = max(0.0, frame_y)
    return Insets(top, max(0.0, window_height - top - frame_height))


def safe_area(platform: str) -> Insets:
    if platform == "ios":
        return ios_safe_area()
    if platform == "android":
        return android_safe_area()
    return Insets()


def ios_safe_area() -> Insets:
    try:
        from pyobjus import autoclass, objc_str

        window = autoclass("UIApplication").sharedApplication().valueForKey_(objc_str("keyWindow"))
        frame = window.valueForKeyPath_(objc_str("safeAreaLayoutGuide.layoutFrame")).CGRectValue()
        height = window.valueForKey_(objc_str("frame")).CGRectValue().size.height
        return insets_from_layout_frame(height, frame.origin.y, frame.size.height)
    except Exception:  # no key window yet, or a pyobjus without these structs: stay clear
        return Insets(*LARGEST_IPHONE_INSETS)


def android_safe_area() -> Insets:
    try:  # the bridge itself: a failure here must not stop the app before any screen exists
        from jnius import autoclass

        sdk = autoclass("android.os.Build$VERSION").SDK_INT
    except Exception:  # the phone's API level unknown: stay clear as on the newest
        return Insets(*LARGEST_ANDROID_INSETS)
    try:
        activity = autoclass("org.kivy.android.PythonActivity").mActivity
        decor = activity.getWindow().getDecorView()
        insets = decor.getRootWindowInsets()  # None until the window is attached
        if insets is None:
            raise LookupError("the window has no insets yet")
        top, bottom = covered_insets(autoclass, insets, sdk)
        content = autoclass("android.graphics.Rect")()
        decor.findViewById(autoclass("android.R$id").content).getGlobalVisibleRect(content)
        # Kivy's dp() multiplies by scaledDensity (kivy/metrics.py), so divide by the same.
        density = activity.getResources().getDisplayMetrics().scaledDensity
    except Exception:  # a layout not ready, an API this phone lacks: stay clear of the bars
        return Insets(*LARGEST_ANDROID_INSETS) if sdk >= EDGE_TO_EDGE_API else Insets()
    return Insets(max(0, top - content.top) / density,
                  max(0, bottom - (decor.getHeight() - content.bottom)) / density)


def covered_insets(autoclass, insets, sdk: int) -> tuple[int, int]:
    """Pixels the system bars and the display cut-out take at the window's top and bottom, and
    from Android 15 the soft keyboard too: edge to edge, nothing resizes the window for it any
    more, so the form would lie under it."""
    if sdk >= INSETS_TYPES_API:
        kinds = autoclass("android.view.WindowInsets$Type")
        mask = kinds.systemBars() | kinds.displayCutout()
        covered = insets.getInsets(mask | kinds.ime() if sdk >= EDGE_TO_EDGE_API else mask)
        return covered.top, covered.bottom
    top, bottom = insets.getSystemWindowInsetTop(), insets.getSystemWindowInsetBottom()
    cutout = insets.getDisplayCutout() if sdk >= DISPLAY_CUTOUT_API else None
    if cutout is not None:  # None too on a phone without one
        top, bottom = max(top, cutout.getSafeInsetTop()), max(bottom, cutout.getSafeInsetBottom())
    return top, bottom
