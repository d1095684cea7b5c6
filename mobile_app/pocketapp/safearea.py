"""How much of the top and bottom of the screen the phone itself covers: on an iPhone the notch
(or Dynamic Island) and the home indicator. Kivy 2.3.1 draws full screen and knows no safe area,
so the app pads its screens by these insets.

On iOS they come from UIKit (the key window's safeAreaLayoutGuide, in points, which are Kivy's
dp there); if that cannot be read, the largest insets of current iPhones are used, so nothing
is ever drawn under the notch. Android and desktops draw inside their own bars: no insets."""

from __future__ import annotations

from dataclasses import dataclass

# Dynamic Island iPhones: 59 pt at the top; every Face ID iPhone: 34 pt for the home indicator.
LARGEST_IPHONE_INSETS = (59.0, 34.0)


@dataclass(frozen=True)
class Insets:
    top: float = 0.0  # dp
    bottom: float = 0.0


def insets_from_layout_frame(window_height: float, frame_y: float, frame_height: float) -> Insets:
    """The insets a safe-area frame (UIKit: origin at the top, y down) leaves in a window."""
    top = max(0.0, frame_y)
    return Insets(top, max(0.0, window_height - top - frame_height))


def safe_area(platform: str) -> Insets:
    if platform != "ios":
        return Insets()
    try:
        from pyobjus import autoclass

        window = autoclass("UIApplication").sharedApplication().keyWindow
        frame = window.safeAreaLayoutGuide.layoutFrame
        return insets_from_layout_frame(window.frame.size.height, frame.origin.y, frame.size.height)
    except Exception:  # no key window yet, or a pyobjus without these structs: stay clear
        return Insets(*LARGEST_IPHONE_INSETS)
