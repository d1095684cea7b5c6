"""Strokes drawn with a finger become the image the digits model was trained on
(pocketapp/drawing.py): ink scaled to MNIST's 20-pixel box, grey levels 0-255 with anti-aliased
edges, the centre of mass where the 5,000 real digits have theirs, whatever the size and place
of the drawing on the screen."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pocketml.pocketapp.drawing import rasterize
from pocketml.train.digits.data import load_mnist_5k

ONE = [[(100.0, 400.0), (110.0, 100.0)]]
ZERO = [[(200 + 80 * math.cos(t), 250 + 120 * math.sin(t))
         for t in np.linspace(0, 2 * math.pi, 60)]]
SEVEN = [[(0.0, 300.0), (200.0, 300.0), (80.0, 0.0)]]
FOUR = [[(60.0, 300.0), (0.0, 120.0), (150.0, 120.0)], [(110.0, 220.0), (110.0, 0.0)]]


def image(strokes) -> np.ndarray:
    return np.asarray(rasterize(strokes)).reshape(28, 28)


def centre_of_mass(pixels: np.ndarray) -> tuple[float, float]:
    rows, columns = np.mgrid[0:28, 0:28]
    return (float((pixels * rows).sum() / pixels.sum()),
            float((pixels * columns).sum() / pixels.sum()))


def ink_span(pixels: np.ndarray) -> int:
    inked = pixels > 0
    return max(int(np.ptp(np.flatnonzero(inked.any(axis))) + 1) for axis in (0, 1))


@pytest.fixture(scope="module")
def real_digits() -> np.ndarray:
    return load_mnist_5k().images.astype(np.float64)


@pytest.mark.parametrize("strokes", [ONE, ZERO, SEVEN, FOUR])
def test_a_drawing_is_placed_as_the_real_digits_are(strokes, real_digits):
    drawn = image(strokes)
    assert drawn.min() == 0 and drawn.max() == 255
    spans = [ink_span(d) for d in real_digits]
    assert np.percentile(spans, 5) <= ink_span(drawn) <= max(spans) == 20
    # The real digits were moved by whole pixels to put their centre of mass nearest (14, 14):
    # theirs lie at 14.0 on average, spread 0.29 (1/sqrt(12)), never more than half a pixel off.
    real = np.array([centre_of_mass(d) for d in real_digits[:500]])
    assert np.abs(real.mean(axis=0) - 14).max() < 0.05 and np.abs(real - 14).max() <= 0.5
    assert np.abs(np.array(centre_of_mass(drawn)) - 14).max() <= 0.5
    # grey edges as the anti-aliased scans have: a third to a half of the ink is full
    full = (drawn >= 250).sum() / (drawn > 0).sum()
    assert 0.25 < full < 0.6


def test_the_same_drawing_anywhere_and_at_any_size_is_the_same_image():
    moved = [[(3 * x + 500, 3 * y - 40) for x, y in stroke] for stroke in SEVEN]
    assert np.array_equal(image(SEVEN), image(moved))


def test_a_vertical_stroke_is_a_one_standing_up():
    drawn = image([[(0.0, 100.0), (0.0, 0.0)]])  # drawn from top to bottom, y up
    inked_rows = np.flatnonzero((drawn > 0).any(axis=1))
    inked_columns = np.flatnonzero((drawn > 0).any(axis=0))
    assert len(inked_rows) >= 18 and len(inked_columns) <= 4


def test_nothing_drawn_is_refused():
    with pytest.raises(ValueError, match="nothing is drawn"):
        rasterize([])
