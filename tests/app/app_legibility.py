"""What a person can press and read on the app's real window, measured by the app driver
(tests/app/app_driver.py) with each screenshot: the height of every touch target in dp, and the
contrast of every text on screen against what is drawn behind it, taken from the rendered
pixels (WCAG 2's contrast ratio; 4.5:1 is its minimum for normal text).

A text's colour is its pixel of highest contrast with the background, which is the most common
colour in the text's box: antialiased glyph edges only blend towards the background, so a
measurement can be lower than the colours the layout asks for, never higher."""

from __future__ import annotations

import numpy as np
from kivy.core.window import Window
from kivy.metrics import dp
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.uix.textinput import TextInput


def touch_targets(root) -> list[dict]:
    """Every widget a finger presses (text fields, buttons, choices), with its height in dp."""
    return [{"kind": type(w).__name__, "text": w.text[:30], "height_dp": round(w.height / dp(1), 1)}
            for w in root.walk(restrict=True) if isinstance(w, (TextInput, ButtonBehavior))]


def text_contrast(root, pixels: np.ndarray) -> list[dict]:
    """Every text wholly on screen (`pixels`: the window, top row first, RGB 0-255) with its
    measured colour, background and contrast ratio."""
    measured = []
    for widget in root.walk(restrict=True):
        box = text_box(widget)
        if box is None or not on_screen(widget, box):
            continue
        left, bottom, right, top = (int(round(v)) for v in box)
        height = pixels.shape[0]
        region = pixels[height - top:height - bottom, left:right].reshape(-1, 3).astype(int)
        colours, counts = np.unique(region, axis=0, return_counts=True)
        background = colours[counts.argmax()]
        ratios = contrast(luminance(region), luminance(background[None])[0])
        text = region[ratios.argmax()]
        measured.append({"kind": type(widget).__name__, "text": widget.text[:30],
                         "state": getattr(widget, "state", None),
                         "ratio": round(float(ratios.max()), 2),
                         "text_rgb": text.tolist(), "background_rgb": background.tolist()})
    return measured


def text_box(widget) -> tuple[float, float, float, float] | None:
    """Where the widget's text is drawn, in window pixels (left, bottom, right, top)."""
    if isinstance(widget, Label) and widget.text.strip():
        widget.texture_update()
        width, height = widget.texture_size  # Kivy centres the texture in the label
        x, y = widget.to_window(widget.center_x - width / 2, widget.center_y - height / 2)
        return x, y, x + width, y + height
    if isinstance(widget, TextInput) and widget.text.strip():
        left, top, right, bottom = widget.padding
        x, y = widget.to_window(widget.x + left, widget.y + bottom)
        return x, y, x + widget.width - left - right, y + widget.height - top - bottom
    return None


def on_screen(widget, box) -> bool:
    """Whether the whole box is drawn: inside the window and any scroll view's viewport."""
    visible = [0, 0, Window.width, Window.height]
    parent = widget.parent
    while parent is not None and parent is not parent.parent:
        if isinstance(parent, ScrollView):
            x, y = parent.to_window(parent.x, parent.y)
            visible = [max(visible[0], x), max(visible[1], y),
                       min(visible[2], x + parent.width), min(visible[3], y + parent.height)]
        parent = parent.parent
    left, bottom, right, top = box
    return (right - left >= 1 and top - bottom >= 1 and left >= visible[0] - 0.5
            and bottom >= visible[1] - 0.5 and right <= visible[2] + 0.5
            and top <= visible[3] + 0.5)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG 2 relative luminance of sRGB colours (0-255, one per row)."""
    c = rgb / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return linear @ np.array([0.2126, 0.7152, 0.0722])


def contrast(first: np.ndarray, second: float) -> np.ndarray:
    lighter, darker = np.maximum(first, second), np.minimum(first, second)
    return (lighter + 0.05) / (darker + 0.05)
