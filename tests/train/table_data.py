"""CSVs pocketml has never seen, built from scikit-learn's bundled real data sets with a
categorical column, tab/space noise and missing values added, as a user's own export would
have them: wine (3 cultivars, multi-class) and diabetes (disease progression, regression)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes, load_wine

from pocketml.cli import main

CULTIVARS = {0: "barolo", 1: "grignolino", 2: "barbera"}


def noisy(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """`frame` as a hospital or lab export writes it: some values missing (empty or ?), and
    stray tabs and spaces around some words."""
    rng = np.random.default_rng(seed)
    frame = frame.astype(object)
    for column in frame.columns[:3]:
        frame.loc[rng.random(len(frame)) < 0.08, column] = rng.choice(["", "?"])
    return frame


def wine_csv(folder: Path) -> Path:
    data = load_wine(as_frame=True).frame
    data["target"] = data["target"].map(CULTIVARS)
    data.insert(0, "colour", np.where(data["color_intensity"] > 5, "deep", "pale"))
    table = noisy(data, 0)
    table.loc[3, "colour"], table.loc[4, "target"] = " Deep\t", "barolo\t"
    path = folder / "wine.csv"
    table.to_csv(path, index=False)
    return path


def diabetes_csv(folder: Path) -> Path:
    data = load_diabetes(as_frame=True, scaled=False).frame
    data.insert(0, "sex", data.pop("sex").map({1.0: "female", 2.0: "male"}))
    path = folder / "diabetes.csv"
    noisy(data, 1).to_csv(path, index=False)
    return path


DIABETES_SIDECAR = {
    "target": {"label": "disease progression after one year", "unit": "points"},
    "columns": {"bmi": {"label": "body mass index", "unit": "kg/m²", "range": [15, 50]},
                "age": {"unit": "years"}}}


def train(csv: Path, out: Path, *extra: str) -> int:
    """`pocketml train table` on `csv` into `out`; its exit status."""
    return main(["train", "table", "--data", str(csv), "--out", str(out), "--no-progress",
                 *extra])


def trained_and_exported(csv: Path, out: Path, *extra: str) -> Path:
    """A table model trained, exported in every default format and verified."""
    from pocketml.export.formats import DEFAULT_FORMATS
    from pocketml.export.model_folder import export_folder

    assert train(csv, out, *extra) == 0
    assert export_folder(out, DEFAULT_FORMATS, log=lambda _: None)
    return out
