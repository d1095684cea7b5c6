"""One table over several model folders: each model's held-out metric, the size of every
exported file and the parity verdict, as `pocketml all` prints it and writes it to
artifacts/summary.md."""

from __future__ import annotations

from pathlib import Path

from pocketml.export.formats import DEFAULT_FORMATS, FORMATS
from pocketml.export.tolerances import FP32
from pocketml.export.model_folder import EXPORTS
from pocketml.folder.artifacts import METRICS, read_json

FP32_FORMATS = tuple(name for name, f in FORMATS.items() if f.tolerance is FP32)


def headline(metrics: dict) -> str:
    """The figure a reader judges the model by, on data it never trained on."""
    test = metrics["test"]
    if "rmse" in test:
        return f"RMSE {test['rmse']:.3g} (naive last value {test['naive_rmse']:.3g})"
    if "root_mean_squared_error" in test:  # a table's regressor (train/table/)
        return f"test RMSE {test['root_mean_squared_error']:.4g}, R² {test['r2']:.3f}"
    if "roc_auc" in test:
        cv = metrics["cv"]
        return (f"CV accuracy {cv['accuracy']['mean']:.4f}, CV ROC AUC "
                f"{cv['roc_auc']['mean']:.4f}; test accuracy {test['accuracy']:.3f}")
    held_out = test.get("digits", metrics.get("split", {}).get("test_rows", "?"))
    return f"accuracy {test['accuracy']:.4f} on {held_out} held out"


def summary_row(name: str, folder: Path, seconds: float) -> dict:
    folder = Path(folder)
    exports = read_json(folder / EXPORTS)
    parity = read_json(folder / "parity.json")["formats"] if (folder / "parity.json").is_file() else {}
    return {
        "model": name,
        "metric": headline(read_json(folder / METRICS)),
        "sizes": {fmt: (None if e["error"] else e["bytes"]) for fmt, e in exports.items()},
        "fp32_max_abs_diff": max((parity[f]["max_abs_diff"] for f in FP32_FORMATS if f in parity),
                                 default=None),
        "verified": bool(parity),
        "failed": [fmt for fmt, entry in parity.items() if not entry["passed"]],
        "seconds": round(seconds, 1),
    }


def summary_markdown(rows: list[dict]) -> str:
    sizes = list(DEFAULT_FORMATS)
    lines = ["| model | held-out metric | " + " | ".join(sizes)
             + " | fp32 max abs diff | parity | seconds |",
             "|---|---|" + "---|" * len(sizes) + "---|---|---|"]
    for row in rows:
        cells = [("—" if row["sizes"].get(f) is None else f"{row['sizes'][f] / 1024:.1f} KB")
                 for f in sizes]
        diff = "—" if row["fp32_max_abs_diff"] is None else f"{row['fp32_max_abs_diff']:.1e}"
        verdict = ("not verified" if not row["verified"] else "✓ all formats"
                   if not row["failed"] else "✗ " + ", ".join(row["failed"]))
        lines.append(f"| {row['model']} | {row['metric']} | " + " | ".join(cells)
                     + f" | {diff} | {verdict} | {row['seconds']} |")
    return "\n".join(lines) + "\n"
