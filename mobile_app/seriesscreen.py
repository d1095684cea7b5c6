"""The forecaster's widgets: the window as a small chart with the forecast drawn after it, and
one editable cell per value under it. Layout is in pocketml.kv; what a window means and how it
is validated is pocketapp/series.py's (a form of one number per step)."""

from __future__ import annotations

from kivy.graphics import Color, Ellipse, Line, Rectangle
from kivy.metrics import dp
from kivy.properties import (BooleanProperty, ListProperty, NumericProperty, ObjectProperty,
                             StringProperty)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from pocketapp.validation import Invalid, parse_number

INK = (1, 1, 1, 1)
FORECAST = (0.98, 0.6, 0.2, 1)  # orange: the one value the model drew, not the person
GRID = (0.4, 0.4, 0.4, 1)
MARGIN = dp(12)  # room around the points for the dots and the bounds' labels


class SeriesChart(Widget):
    """The values oldest first, a gap where one is not a number yet, then the forecast, on the
    series' plausible range (grey lines at its bounds, widened if the forecast leaves it)."""

    values = ListProperty()  # floats, None where the cell does not hold a valid number
    forecast = ObjectProperty(None, allownone=True)
    low = NumericProperty(0)  # the series' plausible range: the chart's scale
    high = NumericProperty(1)
    low_y = NumericProperty(0)  # where the range's bounds are drawn: their labels follow
    high_y = NumericProperty(0)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        for name in ("values", "forecast", "low", "high", "pos", "size"):
            self.fbind(name, self.redraw)

    def scale(self) -> tuple[float, float]:
        """The value at the chart's lower margin and the span to its upper one: the range,
        widened to every value shown."""
        shown = [v for v in [*self.values, self.forecast] if v is not None]
        low, high = min([self.low, *shown]), max([self.high, *shown])
        return low, (high - low) or 1.0

    def y_of(self, value: float, scale: tuple[float, float]) -> float:
        low, span = scale
        return self.y + MARGIN + (value - low) / span * (self.height - 2 * MARGIN)

    def points(self, scale: tuple[float, float] | None = None
               ) -> list[tuple[float, float] | None]:
        """Where each value (then the forecast) is drawn; None for a gap."""
        scale = scale or self.scale()
        step = (self.width - 2 * MARGIN) / max(1, len(self.values))
        return [None if v is None else (self.x + MARGIN + i * step, self.y_of(v, scale))
                for i, v in enumerate([*self.values, self.forecast])]

    def redraw(self, *_) -> None:
        self.canvas.clear()
        scale = self.scale()
        *known, forecast = self.points(scale)
        self.low_y, self.high_y = self.y_of(self.low, scale), self.y_of(self.high, scale)
        with self.canvas:
            Color(0.12, 0.12, 0.12, 1)
            Rectangle(pos=self.pos, size=self.size)
            Color(*GRID)
            for y in (self.low_y, self.high_y):
                Line(points=[self.x, y, self.right, y], width=1)
            Color(*INK)
            for a, b in zip(known, known[1:]):
                if a and b:
                    Line(points=[*a, *b], width=dp(1.5))
            for point in filter(None, known):
                dot(point, dp(3.5))
            if forecast and known[-1]:
                Color(*FORECAST)
                Line(points=[*known[-1], *forecast], width=1, dash_length=dp(4),
                     dash_offset=dp(3))
                dot(forecast, dp(5))


def dot(centre: tuple[float, float], radius: float) -> None:
    Ellipse(pos=(centre[0] - radius, centre[1] - radius), size=(2 * radius, 2 * radius))


class ValueCell(BoxLayout):
    title = StringProperty()  # "t-3"
    invalid = BooleanProperty(False)  # refused at the last Predict

    def answer(self) -> str:
        return self.ids.entry.text


class SeriesScreen(BoxLayout):
    heading = StringProperty()
    caption = StringProperty()  # the unit, the order, the forecast's colour
    result = StringProperty()
    result_is_error = BooleanProperty(False)
    footer = StringProperty()

    def __init__(self, spec, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec
        self.cells: dict[str, ValueCell] = {}
        chart = self.ids.chart
        chart.low, chart.high = spec.low, spec.high
        for field in spec.fields:
            cell = ValueCell(title=field.name)
            cell.ids.entry.fbind("text", self.redraw_window)
            self.ids.cells.add_widget(cell)
            self.cells[field.name] = cell
        self.fill(spec.recent)

    def fill(self, window: list[float] | None) -> None:
        """The cells hold `window` (empty cells without one), and no forecast yet."""
        texts = self.spec.values(window) if window else {}
        for name, cell in self.cells.items():
            cell.ids.entry.text, cell.invalid = texts.get(name, ""), False
        self.ids.chart.forecast, self.result = None, ""

    def answers(self) -> dict[str, str]:
        return {name: cell.answer() for name, cell in self.cells.items()}

    def redraw_window(self, *_) -> None:
        """Each edit moves its point at once; the old forecast is for another window."""
        self.ids.chart.values = [self.number(field, cell.answer()) for field, cell
                                 in zip(self.spec.fields, self.cells.values())]
        self.ids.chart.forecast = None

    @staticmethod
    def number(field, text: str) -> float | None:
        try:
            return parse_number(text, field.low, field.high)
        except Invalid:
            return None
