"""The drawing pad's widgets: a square a finger draws on (its strokes kept as points, y up,
in the pad's own coordinates) and the screen around it. Layout is in pocketml.kv; what a
drawing means is pocketapp/pad.py's and drawing.py's."""

from __future__ import annotations

from kivy.graphics import Color, Line
from kivy.metrics import dp
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget


class DrawingPad(Widget):
    """Each touch that starts on the pad is a stroke, drawn as a white line while it moves."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.strokes: list[list[tuple[float, float]]] = []

    def on_touch_down(self, touch) -> bool:
        if not self.collide_point(*touch.pos):
            return super().on_touch_down(touch)
        touch.grab(self)
        self.strokes.append([self.local(touch)])
        with self.canvas:
            Color(1, 1, 1, 1)
            touch.ud["line"] = Line(points=list(touch.pos), width=dp(9), cap="round",
                                    joint="round")
        return True

    def on_touch_move(self, touch) -> bool:
        if touch.grab_current is not self:
            return super().on_touch_move(touch)
        self.strokes[-1].append(self.local(touch))
        touch.ud["line"].points += list(touch.pos)
        return True

    def on_touch_up(self, touch) -> bool:
        if touch.grab_current is not self:
            return super().on_touch_up(touch)
        touch.ungrab(self)
        return True

    def local(self, touch) -> tuple[float, float]:
        return touch.x - self.x, touch.y - self.y

    def clear(self) -> None:
        self.strokes.clear()
        self.canvas.clear()


class DrawingScreen(BoxLayout):
    heading = StringProperty()
    result = StringProperty()
    result_is_error = BooleanProperty(False)
    footer = StringProperty()
