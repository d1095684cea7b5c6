"""Series for next-value forecasting, cut into windows without letting the future leak in.

Two series that need no download:
  * sunspots: yearly mean sunspot numbers 1700-2008 (statsmodels ships them);
  * arithmetic: the lecture's "predict the next number", many sequences a, a+d, a+2d, ...
    with random integer a and d.

A series is a [sequences, time] array. Each sequence is split in time order: the first 70% of
its steps for training, the next 15% for validation, the last 15% for testing. A window's
target lies in one part and its inputs are the `window` values before it: validation and test
windows may look back at earlier training values (the past is known when forecasting), but no
training input or target ever comes from a validation or test step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPLIT_FRACTIONS = (0.7, 0.15)  # train, validation; the test part is the rest
PARTS = ("train", "validation", "test")


@dataclass
class Series:
    name: str
    values: np.ndarray  # float32 [sequences, time]
    window: int  # input steps per forecast
    unit: str


@dataclass
class Windows:
    x: np.ndarray  # float32 [N, window, 1]: the raw values before each target
    y: np.ndarray  # float32 [N, 1]: the next value


def sunspots() -> Series:
    from statsmodels.datasets import sunspots as dataset

    values = dataset.load_pandas().data["SUNACTIVITY"].to_numpy(np.float32)
    # Window 11: one solar cycle of history.
    return Series("sunspots", values[None, :], window=11, unit="yearly mean sunspot number")


def arithmetic(n_sequences: int = 300, length: int = 20, seed: int = 0) -> Series:
    rng = np.random.default_rng(seed)
    start = rng.integers(-100, 101, size=(n_sequences, 1))
    step = rng.integers(-10, 11, size=(n_sequences, 1))
    values = (start + step * np.arange(length)).astype(np.float32)
    return Series("arithmetic", values, window=5, unit="number")


SERIES = {"sunspots": sunspots, "arithmetic": arithmetic}


def load_series(name: str) -> Series:
    if name not in SERIES:
        raise ValueError(f"series {name!r}: choose one of {', '.join(SERIES)}")
    return SERIES[name]()


def split_points(length: int, fractions=SPLIT_FRACTIONS) -> tuple[int, int]:
    """Time indices where validation and test start."""
    train_end = round(length * fractions[0])
    return train_end, round(length * (fractions[0] + fractions[1]))


def make_windows(values: np.ndarray, window: int, start: int, stop: int) -> Windows:
    """Windows whose targets are the steps [start, stop) of every sequence."""
    targets = range(max(start, window), stop)
    x = np.stack([values[:, t - window:t] for t in targets], axis=1)  # [S, targets, window]
    y = np.stack([values[:, t] for t in targets], axis=1)  # [S, targets]
    return Windows(x.reshape(-1, window, 1).astype(np.float32),
                   y.reshape(-1, 1).astype(np.float32))


def chronological_split(series: Series) -> dict[str, Windows]:
    train_end, test_start = split_points(series.values.shape[1])
    bounds = {"train": (0, train_end), "validation": (train_end, test_start),
              "test": (test_start, series.values.shape[1])}
    return {part: make_windows(series.values, series.window, *bounds[part]) for part in PARTS}


def training_values(series: Series) -> np.ndarray:
    """The values a scaler may be fitted on: the training part of every sequence."""
    return series.values[:, :split_points(series.values.shape[1])[0]]


def naive_forecast(windows: Windows) -> np.ndarray:
    """The baseline to beat: tomorrow is like today (the window's last value)."""
    return windows.x[:, -1, :]


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(predicted) - np.asarray(actual)) ** 2)))
