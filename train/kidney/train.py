"""`pocketml train kidney`: the lecture's whole pipeline on the real UCI CKD data.

held-out split -> feature ranking -> cross-validation of the MLP and two baselines, each as
one leakage-free pipeline (cross_validation.py) -> final fit -> test metrics, plots, schema,
weights (outputs.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pandas as pd
from scipy.special import expit

from pocketml.folder.custody import record_training
from pocketml.folder.reference import BINS, calibration_figures
from pocketml.folder.replace import replace_folder
from pocketml.train.calibration import plot_reliability
from pocketml.train.kidney.cross_validation import (check_classes, cross_validate_and_fit,
                                                    cross_validation_rows, split_train_test,
                                                    timed, worker_processes)
from pocketml.train.kidney.data import ATTRIBUTE_BY_NAME, TARGET, load_ckd
from pocketml.train.kidney.fetch import obtain_ckd
from pocketml.train.kidney.options import KidneyOptions, check_options
from pocketml.train.kidney.outputs import (IMPORTANCE_REPEATS, IMPORTANCE_ROWS, MODEL_LABELS,
                                           THRESHOLD, calibration_report,
                                           class_counts_after_balancing,
                                           permutation_importance_of_fields, report,
                                           training_record, write_kidney_folder)
from pocketml.train.kidney.pipeline import SEED_FEATURES, rank_features, with_categories
from pocketml.train.metrics import binary_metrics, plot_importance

Watch = Callable[[str], AbstractContextManager] | None


def train_kidney(options: KidneyOptions, log=print,
                 finish: Callable[[Path], None] | None = None, watch: Watch = None) -> dict:
    """Train and write the model folder `options.out`, replacing it whole only on success.
    `finish(folder)` runs on the complete new folder before it replaces the old one: `pocketml
    all` exports and verifies there, so the folder is swapped in trained, exported and verified.
    `watch(step)`: an optional context manager around each step (load, rank, each model's
    cross-validation, final fit, write), e.g. a benchmark's memory sampler."""
    started = time.perf_counter()
    check_options(options)
    with replace_folder(options.out, "--out", finish=finish, force=options.force) as folder:
        metrics = fit_kidney(folder, options, log, watch)
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    log(report(metrics, options.out))
    return metrics


def fit_kidney(folder: Path, options: KidneyOptions, log=print, watch: Watch = None) -> dict:
    """The lecture's pipeline on the data `options` names, written into `folder`."""
    seconds: dict[str, float] = {}
    frame, provenance = load_kidney_data(options, log, seconds, watch)
    fitted = cross_validate_and_measure(frame, options, log, seconds, watch)
    metrics = kidney_metrics(fitted, options, provenance, seconds)
    with timed(seconds, "write", watch):
        write_kidney_folder(folder, fitted["pipeline"], fitted["x_train"], fitted["x_test"],
                            fitted["y_test"], fitted["probabilities"], fitted["ranking"], metrics)
        record_training(folder)
        plot_importance(folder / "permutation_importance.png", fitted["importance"], "ROC AUC")
        plot_calibration(folder, fitted)
    return metrics


def load_kidney_data(options: KidneyOptions, log, seconds: dict[str, float],
                     watch: Watch) -> tuple[pd.DataFrame, dict]:
    """The cleaned table with categorical columns, and where it came from."""
    with timed(seconds, "load", watch):
        if options.data is None:
            data_path, origin = obtain_ckd(options.download, log)
        else:
            data_path, origin = Path(options.data), "--data"
        data = load_ckd(data_path)
    log(f"data from {origin}\n  {data.describe()}")
    # A column with no value at all cannot be imputed: refuse it if the model takes it.
    data.require_values({name if name in ATTRIBUTE_BY_NAME else name.split("_", 1)[0]
                         for name in SEED_FEATURES} if options.features == "seed" else None)
    check_classes(data.frame[TARGET].to_numpy(), options.folds,
                  f"{data.path}: column '{TARGET}'", "Use the full CKD data.")
    provenance = {"source": origin, "path": str(data_path), "sha256": data.sha256,
                  "rows": len(data.frame), "format": data.format,
                  "repaired_rows": data.repaired_rows, "dropped_rows": data.dropped_rows}
    # The table of strings (`data`) takes five times the memory of the frame: not kept.
    return with_categories(data.frame), provenance


def cross_validate_and_measure(frame: pd.DataFrame, options: KidneyOptions, log,
                               seconds: dict[str, float], watch: Watch) -> dict:
    """Split, rank, cross-validate and fit every model, and measure the MLP on the test rows."""
    x_train, x_test, y_train, y_test = split_train_test(frame, options)
    x_cv, y_cv = cross_validation_rows(x_train, y_train, options)
    sampled = len(x_cv) < len(x_train)
    log(f"cross-validation: {options.folds} folds on "
        + (f"a stratified sample of {len(x_cv):,} of the {len(x_train):,} training rows "
           f"(--max-rows {options.max_rows}); the final models train on all {len(x_train):,}"
           if sampled else f"all {len(x_train):,} training rows")
        + f", {worker_processes(len(x_cv), options.folds)} worker process(es)")
    with timed(seconds, "rank features", watch):
        ranking = rank_features(x_train, y_train, options.select, options.seed)
    cv, probabilities, pipeline, out_of_fold, calibration = cross_validate_and_fit(
        options, (x_cv, y_cv), (x_train, y_train), x_test, seconds, watch)
    log(calibration_report(calibration))
    with timed(seconds, "permutation importance", watch):
        importance = permutation_importance_of_fields(pipeline, x_test, y_test, options.seed)
    balance_counts = class_counts_after_balancing(pipeline, y_train)
    log(f"balancing ({options.balance}) on the training rows: {balance_counts}")
    return {"x_train": x_train, "x_test": x_test, "y_test": y_test, "y_cv": y_cv,
            "sampled": sampled, "ranking": ranking, "cv": cv, "probabilities": probabilities,
            "pipeline": pipeline, "out_of_fold": out_of_fold, "calibration": calibration,
            "importance": importance, "balance_counts": balance_counts}


def kidney_metrics(fitted: dict, options: KidneyOptions, provenance: dict,
                   seconds: dict[str, float]) -> dict:
    """metrics.json: test and cross-validated figures of every model, and how they were made."""
    y_test, y_cv, probabilities = fitted["y_test"], fitted["y_cv"], fitted["probabilities"]
    test = {name: binary_metrics(y_test, p, THRESHOLD) for name, p in probabilities.items()}
    features = list(fitted["pipeline"]["select"].get_feature_names_out())
    # With --features auto the choice is the fitted selector's; otherwise the ranking's top k.
    automatic = (features if options.features == "auto"
                 else fitted["ranking"]["feature"][:options.k].tolist())
    return {
        "test": test["mlp"],
        "cv": fitted["cv"]["mlp"],
        "baselines": {name: {"test": test[name], "cv": fitted["cv"][name]}
                      for name in probabilities if name != "mlp"},
        "features": features,
        "lecture_features": list(SEED_FEATURES),
        "automatic_choice": automatic,
        "overlap_with_lecture": sorted(set(automatic) & set(SEED_FEATURES)),
        "ranking": {"method": options.select,
                    "table": fitted["ranking"].to_dict(orient="records")},
        "balancing": {"method": options.balance, **fitted["balance_counts"]},
        "data": provenance,
        "split": {"train_rows": len(fitted["x_train"]), "test_rows": len(fitted["x_test"]),
                  "folds": options.folds, "cv_rows": len(y_cv), "cv_sampled": fitted["sampled"],
                  "max_rows": options.max_rows},
        "training": training_record(fitted["pipeline"]["model"], options),
        "permutation_importance": {
            "metric": "roc_auc", "rows": min(len(fitted["x_test"]), IMPORTANCE_ROWS),
            "repeats": IMPORTANCE_REPEATS, "drop": fitted["importance"]},
        "calibration": {
            "method": "temperature scaling, fitted on the MLP's out-of-fold logits (never on "
                      "the test rows); kept only if it lowers the out-of-fold Brier score",
            "rows": len(y_cv), "bins": BINS, "mlp": fitted["calibration"],
            **{name: {"out_of_fold": calibration_figures(y_cv, outputs["p"])}
               for name, outputs in fitted["out_of_fold"].items() if name != "mlp"}},
        "seconds_per_step": seconds,  # the steps before writing; the log adds "write"
    }


def plot_calibration(folder: Path, fitted: dict) -> None:
    out_of_fold, calibration = fitted["out_of_fold"], fitted["calibration"]
    plot_reliability(folder / "calibration.png", fitted["y_cv"], {
        MODEL_LABELS["mlp"]: expit(out_of_fold["mlp"]["logit"]),
        f"MLP, temperature {calibration['temperature_fitted']:.2f}": expit(
            out_of_fold["mlp"]["logit"] / calibration["temperature_fitted"]),
        **{MODEL_LABELS[name]: outputs["p"]
           for name, outputs in out_of_fold.items() if name != "mlp"}})
