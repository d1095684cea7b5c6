"""`pocketml compare-optimizers MODEL`: the lecture's optimizers on one model, seed for seed.

Each optimizer trains the model with the function `pocketml train` uses, at its own learning
rate (train/loop.py's OPTIMIZERS, or the model's own), on the same split from the same initial
weights. The folder gets validation_loss.png (one curve per optimizer), comparison.md and
comparison.json (held-out metrics, epochs to the best epoch, seconds), and the log a verdict.
With several seeds each figure is a mean ± standard deviation over them: one seed cannot tell
two optimizers apart when they differ by less than a seed moves them.

The kidney MLP is judged by its cross-validation on the 320 training patients as well as by
the 80 held-out ones: on 80 patients one error moves the accuracy by 0.0125, more than the
optimizers differ. The baselines are not trained again: they do not use an optimizer.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from pocketml.folder.errors import UserError
from pocketml.folder.replace import replace_folder
from pocketml.folder import artifacts
from pocketml.train.loop import OPTIMIZERS, History, check_run_options

# Overrides of a model's training settings, by the names TrainConfig and MLPClassifier share:
# optimizer, lr, epochs, seed, device, progress, description.
Overrides = dict
TABLE, RESULTS, PLOT = "comparison.md", "comparison.json", "validation_loss.png"
T = TypeVar("T")


@dataclass
class Trained:
    """What one optimizer's training gave."""
    history: History
    held_out: dict[str, float]
    seconds: float  # the training whose curve is plotted (for kidney: the fit on all rows)


@dataclass(frozen=True)
class Model:
    """How one model is trained and judged."""
    description: str
    metrics: dict[str, str]  # held-out metric -> its label; the first ranks the optimizers
    lower_is_better: bool
    # What a learning rate is chosen by (lower is better), never a test row: "best_val_loss",
    # or a held-out metric that comes from the training rows alone.
    tuned_by: str
    # Loads the data once (given the log); returns the function that trains with `Overrides`.
    prepare: Callable[[Callable[[str], None]], Callable[[Overrides], Trained]]


def timed_fit(fit: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = fit()
    return result, round(time.perf_counter() - started, 2)


def prepare_kidney(log) -> Callable[[Overrides], Trained]:
    from pocketml.train.kidney.data import load_ckd
    from pocketml.train.kidney.fetch import obtain_ckd
    from pocketml.train.kidney.pipeline import build_pipeline, with_categories
    from pocketml.train.kidney.cross_validation import (candidate_models, cross_validate_model,
                                                        split_train_test)
    from pocketml.train.kidney.options import KidneyOptions
    from pocketml.train.metrics import binary_metrics

    path, origin = obtain_ckd(False, log)
    log(f"data from {origin}")
    frame = with_categories(load_ckd(path).frame)

    def train(settings: Overrides) -> Trained:
        options = KidneyOptions(seed=settings["seed"], progress=settings["progress"])
        x_train, x_test, y_train, y_test = split_train_test(frame, options)

        def pipeline():
            mlp = candidate_models(options, len(x_train))["mlp"].set_params(**settings)
            return build_pipeline(mlp, options.balance, options.features, options.select,
                                  options.k, options.seed)

        cv, _ = cross_validate_model(settings["description"], pipeline(), x_train, y_train,
                                     options)
        final, seconds = timed_fit(lambda: pipeline().fit(x_train, y_train))
        test = binary_metrics(y_test, final.predict_proba(x_test)[:, 1])
        return Trained(final["model"].history_,
                       {"cv_brier": cv["brier"]["mean"], "cv_accuracy": cv["accuracy"]["mean"],
                        "cv_roc_auc": cv["roc_auc"]["mean"], "test_accuracy": test["accuracy"]},
                       seconds)
    return train


def prepare_digits(log) -> Callable[[Overrides], Trained]:
    from pocketml.train.digits.data import load_digits
    from pocketml.train.digits.train import DIGITS_TRAINING, fit_digits

    digits = load_digits()
    log(digits.describe())

    def train(settings: Overrides) -> Trained:
        config = dataclasses.replace(DIGITS_TRAINING, **settings)
        (_, history, _, metrics), seconds = timed_fit(lambda: fit_digits(digits, config))
        return Trained(history, {"accuracy": metrics["test"]["accuracy"]}, seconds)
    return train


def prepare_sequence(cell: str) -> Callable:
    def prepare(log) -> Callable[[Overrides], Trained]:
        from pocketml.train.sequence.data import load_series
        from pocketml.train.sequence.train import fit_sequence, sequence_training

        series = load_series("sunspots")

        def train(settings: Overrides) -> Trained:
            config = dataclasses.replace(sequence_training(cell), **settings)
            (_, history, _, _, metrics), seconds = timed_fit(
                lambda: fit_sequence(series, cell, config))
            return Trained(history, {"rmse": metrics["test"]["rmse"]}, seconds)
        return train
    return prepare


MODELS: dict[str, Model] = {
    "kidney": Model("kidney MLP (CKD, 320 training and 80 held-out patients)",
                    {"cv_brier": "CV Brier", "cv_accuracy": "CV accuracy",
                     "cv_roc_auc": "CV ROC AUC", "test_accuracy": "test accuracy"},
                    True,
                    # Its 48 validation rows are separated perfectly at most rates, so their
                    # loss only rewards overconfidence: cross-validation on all 320 judges.
                    "cv_brier", prepare_kidney),
    "digits": Model("digits CNN (1,000 held-out MNIST digits)", {"accuracy": "test accuracy"},
                    False, "best_val_loss", prepare_digits),
    "rnn": Model("RNN on the yearly sunspots (46 held-out years)",
                 {"rmse": "test RMSE"}, True, "best_val_loss", prepare_sequence("rnn")),
    "lstm": Model("LSTM on the yearly sunspots (46 held-out years)",
                  {"rmse": "test RMSE"}, True, "best_val_loss", prepare_sequence("lstm")),
}


def check_comparison(model: str, optimizers: Sequence[str], seeds: Sequence[int],
                     device: str, epochs: int | None) -> None:
    """Refuse a bad model, optimizer, seed or device before anything is trained or written."""
    if model not in MODELS:
        raise UserError(f"compare-optimizers {model!r}: choose one of {', '.join(MODELS)}.")
    if not optimizers:
        raise UserError(f"--optimizers: name at least one of {', '.join(OPTIMIZERS)}.")
    if not seeds:
        raise UserError("--seeds: give at least 1 seed.")
    if epochs is not None and epochs < 1:
        raise UserError(f"--epochs {epochs}: give 1 or more, or leave it out for the model's "
                        "own.")
    for optimizer in optimizers:
        for seed in seeds:
            check_run_options(device, seed, optimizer)


def compare_optimizers(model: str, out: Path | None = None,
                       optimizers: Sequence[str] = tuple(OPTIMIZERS),
                       seeds: Sequence[int] = (0,), device: str = "auto",
                       progress: bool = True, epochs: int | None = None,
                       rates: dict[str, float] | None = None, log=print,
                       force: bool = False) -> dict:
    """Train `model` with each optimizer and each seed; write the folder `out` (default
    artifacts/compare-<model>), replaced whole on success. `epochs` caps the training (None:
    the model's own), `rates` sets an optimizer's learning rate (None: its own), `force` replaces
    `out` even if it holds files pocketml did not write."""
    optimizers, seeds = list(dict.fromkeys(optimizers)), list(dict.fromkeys(seeds))
    check_comparison(model, optimizers, seeds, device, epochs)
    out = Path(f"artifacts/compare-{model}") if out is None else Path(out)
    spec = MODELS[model]
    with replace_folder(out, "--out", force=force) as folder:
        train = spec.prepare(log)
        runs = []
        for optimizer in optimizers:
            for seed in seeds:
                settings = {"optimizer": optimizer, "seed": seed, "device": device,
                            "progress": progress, "description": f"{model} {optimizer}",
                            **({} if epochs is None else {"epochs": epochs}),
                            **({"lr": rates[optimizer]} if optimizer in (rates or {}) else {})}
                runs.append(run_record(optimizer, seed, train(settings)))
                log(f"{optimizer:>8} seed {seed}: " + ", ".join(
                    f"{spec.metrics[k]} {v:.4g}" for k, v in runs[-1]["held_out"].items())
                    + f"; best epoch {runs[-1]['epochs_to_best']} of "
                      f"{runs[-1]['epochs_run']}, {runs[-1]['seconds']} s")
        results = summarize(model, spec, runs, optimizers, seeds)
        artifacts.write_json(folder / RESULTS, results)
        table = table_markdown(spec, results)
        (folder / TABLE).write_text(f"{table}\n{results['verdict']}\n")
        plot_validation_loss(folder / PLOT, spec, runs, seeds[0])
    log(f"{table}wrote {out}\n{results['verdict']}")
    return results


def run_record(optimizer: str, seed: int, trained: Trained) -> dict:
    history = trained.history
    losses = [loss if math.isfinite(loss) else None for loss in history.val_loss]
    best = losses[history.best_epoch]  # None: diverged at once, the initial weights kept
    return {"optimizer": optimizer, "seed": seed, "settings": history.optimizer,
            "held_out": trained.held_out, "best_val_loss": best,
            "diverged": None in losses,
            # Each validation check of these models is one pass over the training rows.
            "epochs_to_best": history.best_epoch + 1, "epochs_run": len(losses),
            "stopped_by": history.stopped_by, "seconds": trained.seconds,
            "device": history.device, "val_loss": losses}


def spread(values: list[float | None]) -> dict:
    """Mean and standard deviation over the seeds; None where a seed has no value."""
    if None in values:
        return {"mean": None, "std": None}
    std = float(np.std(values))
    # Equal figures give a rounding error as their spread (1e-16), not a spread.
    return {"mean": float(np.mean(values)), "std": std if std > 1e-12 else 0.0}


def summarize(model: str, spec: Model, runs: list[dict], optimizers: list[str],
              seeds: list[int]) -> dict:
    """Per optimizer, each figure's mean and standard deviation over the seeds; the ranking
    by the first held-out metric; the verdict."""
    rows = []
    for optimizer in optimizers:
        mine = [r for r in runs if r["optimizer"] == optimizer]
        figures = {**{k: [r["held_out"][k] for r in mine] for k in spec.metrics},
                   **{k: [r[k] for r in mine] for k in
                      ("best_val_loss", "epochs_to_best", "epochs_run", "seconds")}}
        rows.append({"optimizer": optimizer, "settings": mine[0]["settings"],
                     "diverged": sum(r["diverged"] for r in mine),
                     **{k: spread(v) for k, v in figures.items()}})
    rank_by = next(iter(spec.metrics))
    sign = 1 if spec.lower_is_better else -1
    # A run that diverged has no figure (or an infinite one): it ranks last.
    rows.sort(key=lambda row: sign * row[rank_by]["mean"] if finite(row[rank_by]["mean"])
              else math.inf)
    return {"model": model, "description": spec.description, "seeds": seeds,
            "rank_by": {"metric": rank_by, "label": spec.metrics[rank_by],
                        "lower_is_better": spec.lower_is_better},
            "optimizers": rows, "verdict": verdict(model, spec, rows, rank_by, len(seeds)),
            "runs": runs}


def verdict(model: str, spec: Model, rows: list[dict], rank_by: str, seeds: int) -> str:
    def value(row: dict) -> str:
        mean, std = row[rank_by]["mean"], row[rank_by]["std"]
        return f"{mean:.4g}" + (f" ± {std:.2g}" if seeds > 1 else "")

    label = spec.metrics[rank_by]
    best = rows[0]
    line = (f"{model}, {seeds} seed{'s' if seeds > 1 else ''}: best {label} with "
            f"{best['optimizer']} ({value(best)})")
    if len(rows) > 1:
        line += f", then {rows[1]['optimizer']} ({value(rows[1])})"
        rmsprop = [i for i, row in enumerate(rows) if row["optimizer"] == "rmsprop"]
        if rmsprop:
            line += (f"; rmsprop ranks {rmsprop[0] + 1} of {len(rows)} "
                     f"({value(rows[rmsprop[0]])})")
        if seeds > 1:
            # Intervals of one standard deviation that overlap the best's: the seeds move
            # these optimizers by more than they differ.
            tied = [row["optimizer"] for row in rows[1:] if finite(row[rank_by]["mean"])
                    and abs(row[rank_by]["mean"] - best[rank_by]["mean"])
                    <= row[rank_by]["std"] + best[rank_by]["std"]]
            line += (f"; within one standard deviation of {best['optimizer']}: "
                     f"{', '.join(tied)}" if tied else
                     f"; {best['optimizer']} is more than one standard deviation ahead of all")
    fastest = min(rows, key=lambda row: row["epochs_to_best"]["mean"])
    return line + (f"; fewest epochs to its best: {fastest['optimizer']} "
                   f"({fastest['epochs_to_best']['mean']:.0f}).")


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def table_markdown(spec: Model, results: dict) -> str:
    seeds = len(results["seeds"])

    def cell(figure: dict, digits: int = 4) -> str:
        if figure["mean"] is None:
            return "diverged"
        return (f"{figure['mean']:.{digits}g}"
                + (f" ± {figure['std']:.2g}" if seeds > 1 else ""))

    header = (["optimizer", "learning rate", *spec.metrics.values(), "best validation loss",
               "epochs to best", "epochs run", "seconds"])
    lines = [f"{spec.description}; seed{'s' if seeds > 1 else ''} "
             f"{', '.join(map(str, results['seeds']))}; ranked by "
             f"{results['rank_by']['label']}"
             + (" (means ± standard deviations over the seeds)" if seeds > 1 else ""), "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in results["optimizers"]:
        diverged = f" (diverged: {row['diverged']} of {seeds} seeds)" if row["diverged"] else ""
        lines.append("| " + " | ".join([
            row["optimizer"] + diverged, f"{row['settings']['lr']:g}",
            *(cell(row[k]) for k in spec.metrics), cell(row["best_val_loss"]),
            cell(row["epochs_to_best"], 3), cell(row["epochs_run"], 3),
            cell(row["seconds"], 3)]) + " |")
    return "\n".join(lines) + "\n"


def plot_validation_loss(path: Path, spec: Model, runs: list[dict], seed: int) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for run in (r for r in runs if r["seed"] == seed):
        losses = [np.nan if loss is None else loss for loss in run["val_loss"]]
        line, = ax.plot(np.arange(1, run["epochs_run"] + 1), losses,
                        label=f"{run['optimizer']} (lr {run['settings']['lr']:g})"
                              + (", diverged" if run["diverged"] else ""))
        if run["best_val_loss"] is not None:
            ax.plot(run["epochs_to_best"], run["best_val_loss"], "o", color=line.get_color())
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation loss")
    ax.set_yscale("log")
    ax.legend(title="dot: the best epoch, the weights kept")
    ax.set_title(f"{spec.description}\nvalidation loss per epoch, seed {seed}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
