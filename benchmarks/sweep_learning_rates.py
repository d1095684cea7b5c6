"""Where the learning rates in train/loop.py's OPTIMIZERS (and the models' own) come from: each
optimizer trains each model at every rate of a grid, judged by its validation loss (the rows
early stopping watches), or for the kidney MLP by the cross-validated Brier score on its
training rows: the test rows are never looked at. The rate kept has the lowest mean of that
figure over itself and its neighbours on the grid: on one seed a single rate's figure moves
by more than neighbouring rates differ, and a rate beside one that diverges is a poor default.

    python benchmarks/sweep_learning_rates.py [--models kidney,rnn,lstm] [--rates 1e-4,...,1]
                                              [--seeds 0] [--epochs N]

Prints, per model, that figure per optimizer and rate (the kept one starred), and the
held-out figure at the kept rate. A script, not a test: it trains 6 x 9 times per model.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

from pocketml.train.compare import MODELS, compare_optimizers
from pocketml.train.loop import OPTIMIZERS

GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)


def kept_rate(figures: dict[float, float | None]) -> float:
    """The rate whose figure, averaged with its neighbours' (None: diverged), is lowest."""
    rates = list(figures)
    values = [math.inf if figures[r] is None else figures[r] for r in rates]
    smoothed = [sum(values[max(0, i - 1):i + 2]) / len(values[max(0, i - 1):i + 2])
                for i in range(len(values))]
    return rates[smoothed.index(min(smoothed))]


def sweep(model: str, rates: list[float], seeds: list[int], epochs: int | None,
          work: Path) -> None:
    tuned_by = MODELS[model].tuned_by
    losses: dict[str, dict[float, float | None]] = {name: {} for name in OPTIMIZERS}
    held_out: dict[str, dict[float, float | None]] = {name: {} for name in OPTIMIZERS}
    for rate in rates:
        results = compare_optimizers(model, work / f"{model}-{rate:g}", seeds=seeds,
                                     progress=False, epochs=epochs,
                                     rates=dict.fromkeys(OPTIMIZERS, rate), log=lambda _: None)
        for row in results["optimizers"]:
            losses[row["optimizer"]][rate] = row[tuned_by]["mean"]
            held_out[row["optimizer"]][rate] = row[results["rank_by"]["metric"]]["mean"]
        print(f"  {model} at {rate:g} done", flush=True)
    label = results["rank_by"]["label"]
    print(f"\n{MODELS[model].description}: {tuned_by} per learning rate "
          f"(seeds {seeds}, * kept)")
    print(f"{'optimizer':>9} " + " ".join(f"{rate:>9g}" for rate in rates)
          + f"  kept    {label} there")
    for name, by_rate in losses.items():
        kept = kept_rate(by_rate)
        cells = " ".join(f"{'diverged' if by_rate[r] is None else f'{by_rate[r]:.4g}':>8}"
                         + ("*" if r == kept else " ") for r in rates)
        print(f"{name:>9} {cells}  {kept:<7g} {held_out[name][kept]:.4g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="kidney,rnn,lstm")
    parser.add_argument("--rates", default=",".join(f"{r:g}" for r in GRID))
    parser.add_argument("--seeds", default="0", help="comma-separated; the losses are averaged")
    parser.add_argument("--epochs", type=int, help="cap each training (default: the model's own)")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory(prefix="pocketml-sweep-") as work:
        for model in args.models.split(","):
            sweep(model, rates, seeds, args.epochs, Path(work))


if __name__ == "__main__":
    main()
