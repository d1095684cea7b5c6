"""The text size a person chose on an iPhone, as Kivy's font scale.

Kivy 2.3.1 reads Android's font scale (Configuration.fontScale) into Metrics.fontscale, and on
iOS always uses 1: the Text Size setting (Settings > Display & Brightness, and Accessibility's
Larger Text) is ignored. iOS keeps that setting as a content size category, and UIFontMetrics
scales a length by it relative to the default category (Large): body text of 17 pt is 14 pt at
the smallest size, 23 pt at the largest standard one and 53 pt at the largest accessibility one.
That ratio becomes the app's font scale, within the range Android itself offers (0.85 to 2),
read at start as Kivy reads Android's.

`autoclass` is pyobjus's, or a fake of it in the tests."""

from __future__ import annotations

BODY_POINTS = 17.0  # UIFontTextStyleBody at the default content size category
SMALLEST, LARGEST = 0.85, 2.0  # Android's font scales, from "small" to its largest


def ios_font_scale(autoclass=None) -> float:
    """The font scale of the iPhone's text size setting; 1 if UIKit cannot be asked."""
    try:
        if autoclass is None:
            from pyobjus import autoclass
        metrics = autoclass("UIFontMetrics").defaultMetrics()
        scale = metrics.scaledValueForValue_(BODY_POINTS) / BODY_POINTS
    except Exception:  # no pyobjus, or an iOS before UIFontMetrics (11): the default size
        return 1.0
    return min(max(scale, SMALLEST), LARGEST)
