"""Sunspots and arithmetic series, windowing, and a chronological split that leaks nothing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pocketml.train.sequence.data import (Series, arithmetic, chronological_split, load_series,
                                          make_windows, naive_forecast, rmse, split_points,
                                          sunspots, training_values)


def time_index_series(sequences: int, length: int, window: int) -> Series:
    """Each value is its own time step, so a window shows exactly which steps it used."""
    return Series("time", np.tile(np.arange(length, dtype=np.float32), (sequences, 1)), window,
                  "step")


def test_sunspots_are_the_yearly_record():
    series = sunspots()
    assert series.values.shape == (1, 309)  # 1700..2008
    assert series.values[0, 0] == 5.0 and series.values[0, -1] == pytest.approx(2.9)
    assert series.values.min() >= 0
    parts = chronological_split(series)
    train_end, test_start = split_points(309)
    assert (train_end, test_start) == (216, 263)
    assert {p: len(w.y) for p, w in parts.items()} == {
        "train": train_end - series.window, "validation": test_start - train_end,
        "test": 309 - test_start}
    assert parts["test"].x.shape == (46, series.window, 1) and parts["test"].y.shape == (46, 1)


@given(sequences=st.integers(1, 4), length=st.integers(20, 80), window=st.integers(1, 10))
def test_split_is_chronological_and_leak_free(sequences, length, window):
    series = time_index_series(sequences, length, window)
    train_end, test_start = split_points(length)
    parts = chronological_split(series)
    # Training never sees a validation or test step, as input or as target.
    assert parts["train"].x.max() < train_end and parts["train"].y.max() < train_end
    assert ((parts["validation"].y >= train_end) & (parts["validation"].y < test_start)).all()
    assert (parts["test"].y >= test_start).all()
    for w in parts.values():
        # Inputs are the `window` steps just before the target, oldest first.
        np.testing.assert_array_equal(w.x[:, :, 0], w.y - np.arange(window, 0, -1))
    # Every step after the first window is the target of exactly one window per sequence.
    targets = np.concatenate([w.y[:, 0] for w in parts.values()])
    assert sorted(targets.tolist()) == sorted(list(range(window, length)) * sequences)
    assert training_values(series).max() < train_end


def test_arithmetic_windows_predict_the_next_term():
    series = arithmetic(n_sequences=50, length=20, seed=1)
    steps = np.diff(series.values, axis=1)
    assert (steps == steps[:, :1]).all()  # a, a+d, a+2d, ...
    assert np.abs(steps[:, 0]).max() <= 10 and len(np.unique(steps[:, 0])) > 5
    test = chronological_split(series)["test"]
    d = test.x[:, -1, 0] - test.x[:, -2, 0]
    np.testing.assert_array_equal(test.y[:, 0], test.x[:, -1, 0] + d)
    # The naive forecast misses by exactly one step d.
    assert rmse(naive_forecast(test), test.y) == pytest.approx(np.sqrt(np.mean(d ** 2)))
    np.testing.assert_array_equal(arithmetic(50, 20, seed=1).values, series.values)


def test_make_windows_shapes():
    w = make_windows(np.arange(30, dtype=np.float32).reshape(2, 15), window=4, start=0, stop=10)
    assert w.x.shape == (12, 4, 1) and w.y.shape == (12, 1) and w.x.dtype == np.float32


def test_unknown_series_is_refused():
    with pytest.raises(ValueError, match="sunspots, arithmetic"):
        load_series("stocks")
