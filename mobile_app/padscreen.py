"""The drawing pad's widgets: a square a finger draws on (its strokes kept as points, y up,
in fractions of the pad), the image the model saw with its occlusion map over it, and the
screen around them. Layout is in pocketml.kv; what a drawing means is pocketapp/pad.py's and
drawing.py's, what its map means occlusion.py's."""

from __future__ import annotations

from kivy.graphics import Color, Line, Rectangle
from kivy.graphics.texture import Texture
from kivy.metrics import dp
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget


class DrawingPad(Widget):
    """Each touch that starts on the pad is a stroke, drawn as a white line while it moves.
    Strokes are kept as fractions of the pad (0 to 1, y up) and redrawn wherever the layout
    moves or resizes the pad (the result appearing below it does), so the ink stays where it was
    drawn; the image is the same at any scale (drawing.py fits the ink to its box)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.strokes: list[list[tuple[float, float]]] = []
        self.fbind("pos", self.redraw)
        self.fbind("size", self.redraw)

    def on_touch_down(self, touch) -> bool:
        if not self.collide_point(*touch.pos):
            return super().on_touch_down(touch)
        touch.grab(self)
        self.strokes.append([self.fraction(touch)])
        with self.canvas:
            Color(1, 1, 1, 1)
            touch.ud["line"] = self.line(self.strokes[-1])
        return True

    def on_touch_move(self, touch) -> bool:
        if touch.grab_current is not self:
            return super().on_touch_move(touch)
        self.strokes[-1].append(self.fraction(touch))
        touch.ud["line"].points += list(touch.pos)
        return True

    def on_touch_up(self, touch) -> bool:
        if touch.grab_current is not self:
            return super().on_touch_up(touch)
        touch.ungrab(self)
        return True

    def fraction(self, touch) -> tuple[float, float]:
        return (touch.x - self.x) / self.width, (touch.y - self.y) / self.height

    def line(self, stroke: list[tuple[float, float]]) -> Line:
        points = [v for fx, fy in stroke
                  for v in (self.x + fx * self.width, self.y + fy * self.height)]
        return Line(points=points, width=dp(9), cap="round", joint="round")

    def redraw(self, *_) -> None:
        self.canvas.clear()
        with self.canvas:
            Color(1, 1, 1, 1)
            for stroke in self.strokes:
                self.line(stroke)

    def clear(self) -> None:
        self.strokes.clear()
        self.canvas.clear()


class OcclusionView(Widget):
    """The model's own input (grey levels, pixel for pixel) with each square's share of the
    answer over it: orange where blanking the ink lowers the answer's probability, blue where it
    raises it, the strongest at 3/4 opacity."""

    SUPPORTS, OPPOSES = (0.98, 0.6, 0.2), (0.35, 0.7, 0.9)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.shown = None  # (the map, the image as a texture), laid out wherever the view goes
        self.fbind("pos", self.redraw)
        self.fbind("size", self.redraw)

    def show(self, image: list[float], seen) -> None:
        side = seen.side
        texture = Texture.create(size=(side, side), colorfmt="luminance")
        texture.mag_filter = "nearest"  # pixels, as the model saw them, not a blur
        rows = [image[r * side:(r + 1) * side] for r in reversed(range(side))]  # bottom first
        texture.blit_buffer(bytes(round(v) for row in rows for v in row),
                            colorfmt="luminance", bufferfmt="ubyte")
        self.shown = seen, texture
        self.redraw()

    def clear(self) -> None:
        self.shown = None
        self.canvas.clear()

    def redraw(self, *_) -> None:
        if self.shown is None:
            return
        seen, texture = self.shown
        self.canvas.clear()
        cell = self.width / seen.side * seen.patch
        largest = seen.largest or 1.0
        with self.canvas:
            Color(1, 1, 1, 1)
            Rectangle(pos=self.pos, size=self.size, texture=texture)
            for r, row in enumerate(seen.losses):
                for c, loss in enumerate(row):
                    if loss:
                        Color(*(self.SUPPORTS if loss > 0 else self.OPPOSES),
                              0.75 * abs(loss) / largest)
                        Rectangle(pos=(self.x + c * cell, self.top - (r + 1) * cell),
                                  size=(cell, cell))


class DrawingScreen(BoxLayout):
    heading = StringProperty()
    result = StringProperty()
    explanation = StringProperty()  # what the occlusion map shows; empty while there is none
    result_is_error = BooleanProperty(False)
    footer = StringProperty()
