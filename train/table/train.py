"""`pocketml train table`: the lecture's pipeline on any CSV, for a binary, multi-class or
numeric target.

read and type the table (shown for confirmation) -> held-out split -> cross-validation of the
MLP and two baselines, each one leakage-free pipeline -> (binary) temperature fitted on the
MLP's out-of-fold logits -> final fit -> test metrics, plots, schema, weights, record.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pocketml.folder.errors import DataError, UserError
from pocketml.folder.replace import replace_folder
from pocketml.train.calibration import calibrate
from pocketml.train.kidney.cross_validation import timed
from pocketml.train.kidney.outputs import calibration_report
from pocketml.train.loop import check_run_options
from pocketml.train.table.data import TableData, load_table, read_sidecar
from pocketml.train.table.estimators import BinaryMLP, MulticlassMLP, RegressionMLP
from pocketml.train.table.pipeline import (SELECTORS, build_table_pipeline, chosen_balance,
                                           field_columns)
from pocketml.train.table.report import test_metrics, write_table_folder

# Cross-validation scores per task, as scikit-learn names them ("neg_" ones are negated back).
SCORING = {
    "binary": ("accuracy", "roc_auc", "f1", "neg_brier_score"),
    "multiclass": ("accuracy", "f1_macro", "neg_log_loss"),
    "regression": ("neg_root_mean_squared_error", "neg_mean_absolute_error", "r2"),
}
DEFAULT_K = 10  # fields kept by feature selection, as the lecture's 10


@dataclass
class TableOptions:
    data: Path
    target: str
    out: Path | None = None  # default artifacts/<the CSV's name>
    task: str = "auto"
    sidecar: Path | None = None
    balance: str = "auto"
    select: str = "mutual-info"
    k: int = DEFAULT_K
    folds: int = 5
    test_size: float = 0.2
    optimizer: str = "adamw"
    device: str = "auto"
    seed: int = 0
    progress: bool = True
    force: bool = False

    @property
    def folder(self) -> Path:
        return self.out or Path("artifacts") / Path(self.data).stem


def check_options(options: TableOptions) -> None:
    if options.task not in ("auto", "binary", "multiclass", "regression"):
        raise UserError(f"--task {options.task!r}: choose auto, binary, multiclass or "
                        "regression.")
    if options.folds < 2:
        raise UserError(f"--folds {options.folds}: cross-validation needs at least 2 folds.")
    if options.k < 1:
        raise UserError(f"--k {options.k}: keep at least 1 field.")
    if options.select not in SELECTORS:
        raise UserError(f"--select {options.select!r}: choose one of {', '.join(SELECTORS)}.")
    check_run_options(options.device, options.seed, options.optimizer)


def check_class_counts(data: TableData, folds: int) -> None:
    """Every class must reach the held-out split and every fold."""
    if data.task == "regression":
        return
    counts = np.bincount(data.y, minlength=len(data.classes))
    short = [f"{name}={n}" for name, n in zip(data.classes, counts) if n < 2 * folds]
    if short:
        raise DataError(f"{data.path}: column '{data.target.name}' has too few rows of class "
                        f"{', '.join(short)}; training with {folds} folds needs at least "
                        f"{2 * folds} of each. Add rows, merge rare classes or use --folds 2.")


def candidate_models(task: str, options: TableOptions) -> dict:
    """The MLP and the two baselines of the task."""
    mlp = {"binary": BinaryMLP, "multiclass": MulticlassMLP, "regression": RegressionMLP}[task]
    shared = {"device": options.device, "optimizer": options.optimizer, "seed": options.seed}
    if task == "regression":
        return {"mlp": mlp(**shared),
                "linear_regression": make_pipeline(StandardScaler(), LinearRegression()),
                "random_forest": RandomForestRegressor(n_estimators=300,
                                                       random_state=options.seed)}
    return {"mlp": mlp(**shared),
            "logistic_regression": make_pipeline(StandardScaler(),
                                                 LogisticRegression(max_iter=5000)),
            "random_forest": RandomForestClassifier(n_estimators=300, random_state=options.seed)}


def summarize(scores: dict, task: str) -> dict:
    """cross_validate's test_* arrays -> {metric: {mean, std}}, negated scores back to losses."""
    summary = {}
    for name in SCORING[task]:
        values = np.asarray(scores[f"test_{name}"], dtype=float)
        if name.startswith("neg_"):
            name, values = name.removeprefix("neg_"), -values
        summary[name] = {"mean": float(values.mean()), "std": float(values.std())}
    return summary


def train_table(options: TableOptions, log=print,
                finish: Callable[[Path], None] | None = None) -> dict:
    """Read, train and write `options.folder`, replaced whole only on success; bad data is
    refused before anything is written."""
    started = time.perf_counter()
    check_options(options)
    data = load_table(options.data, options.target, options.task, read_sidecar(options.sidecar))
    check_class_counts(data, options.folds)
    log(data.describe())
    with replace_folder(options.folder, "--out", finish=finish, force=options.force) as folder:
        metrics = fit_table(folder, data, options, log)
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    log(report(metrics, options.folder))
    return metrics


def fit_table(folder: Path, data: TableData, options: TableOptions, log=print) -> dict:
    seconds: dict[str, float] = {}
    stratify = None if data.task == "regression" else data.y
    x_train, x_test, y_train, y_test = train_test_split(
        data.frame, data.y, test_size=options.test_size, stratify=stratify,
        random_state=options.seed)
    balance = chosen_balance(options.balance, data.task, y_train, data.choices)
    k = min(options.k, len(data.columns))
    log(f"balancing: {balance}; keeping the {k} best of {len(data.columns)} fields by "
        f"{options.select}; {options.folds}-fold cross-validation on {len(x_train)} rows")

    def pipeline(model):
        return build_table_pipeline(model, data.numeric, data.choices, data.task, balance,
                                    options.select, k, options.seed)

    splitter = (KFold if data.task == "regression" else StratifiedKFold)(
        options.folds, shuffle=True, random_state=options.seed)
    cv, calibration = {}, None
    for name, model in candidate_models(data.task, options).items():
        with timed(seconds, f"cross-validate {name}", None):
            scores = cross_validate(pipeline(model), x_train, y_train, cv=splitter,
                                    scoring=SCORING[data.task], return_estimator=True,
                                    return_indices=True)
        cv[name] = summarize(scores, data.task)
        if name == "mlp" and data.task == "binary":
            calibration = calibrate(y_train, out_of_fold_logits(scores, x_train))
            log(calibration_report(calibration))
    final = {}
    with timed(seconds, "final fit", None):
        for name, model in candidate_models(data.task, options).items():
            if name == "mlp":
                model.set_params(progress=options.progress, description="MLP on all rows",
                                 temperature=(calibration or {}).get("temperature", 1.0))
            final[name] = pipeline(model).fit(x_train, y_train)
    test = {name: test_metrics(data.task, fitted, x_test, y_test)
            for name, fitted in final.items()}
    metrics = {"task": data.task, "test": test["mlp"], "cv": cv["mlp"],
               "baselines": {n: {"test": test[n], "cv": cv[n]} for n in final if n != "mlp"},
               "balancing": balance, "calibration": calibration,
               "data": {"path": str(data.path), "sha256": data.sha256, "rows": len(data.frame),
                        "dropped_rows": data.dropped_rows,
                        "types": {c.name: c.kind for c in data.columns.values()}},
               "split": {"train_rows": len(x_train), "test_rows": len(x_test),
                         "folds": options.folds},
               "seconds_per_step": seconds}
    with timed(seconds, "write", None):
        write_table_folder(folder, data, final, (x_train, x_test, y_test), metrics,
                           field_columns(data.numeric, data.choices), options.seed)
    return metrics


def out_of_fold_logits(scores: dict, x: pd.DataFrame) -> np.ndarray:
    """Each training row's logit from the fold model that never saw it."""
    logits = np.empty(len(x))
    for fitted, rows in zip(scores["estimator"], scores["indices"]["test"]):
        logits[rows] = fitted.decision_function(x.iloc[rows])
    return logits


def report(metrics: dict, out: Path) -> str:
    rows = [("MLP (PyTorch)", metrics["cv"], metrics["test"])] + [
        (name.replace("_", " "), b["cv"], b["test"]) for name, b in metrics["baselines"].items()]
    names = list(metrics["cv"])
    lines = [f"{'model':<20} " + " ".join(f"{'cv ' + n:>22}" for n in names)
             + " " + " ".join(f"{'test ' + n:>14}" for n in names)]
    for name, cv, test in rows:
        lines.append(f"{name:<20} " + " ".join(f"{cv[n]['mean']:>12.4f} ± {cv[n]['std']:.4f}"
                                               for n in names)
                     + " " + " ".join(f"{test[n]:>14.4f}" for n in names))
    lines += [f"features used ({len(metrics['features'])}): {', '.join(metrics['features'])}",
              "seconds per step: " + ", ".join(f"{step} {t:.1f}" for step, t
                                               in metrics["seconds_per_step"].items()),
              f"trained in {metrics['seconds']} s; wrote {out}"]
    return "\n".join(lines)
