"""`pocketml train kidney`: the lecture's whole pipeline on the real UCI CKD data.

held-out split -> feature ranking -> cross-validation of the MLP and two baselines, each as
one leakage-free pipeline -> final fit -> test metrics, plots, schema, weights.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from pocketml.errors import DataError, UserError
from pocketml.folders import replace_folder
from pocketml.train import artifacts
from pocketml.train.kidney.data import (ATTRIBUTE_BY_NAME, CATEGORICAL, CLASSES, NUMERIC, TARGET,
                                     CKDData, load_ckd)
from pocketml.train.kidney.fetch import obtain_ckd
from pocketml.train.kidney.pipeline import SEED_FEATURES, build_pipeline, rank_features
from pocketml.train.loop import check_run_options
from pocketml.train.metrics import (SCORERS, binary_metrics, plot_confusion, plot_roc,
                                    plot_training_curves, summarize_cv)
from pocketml.train.kidney.classifier import MLPClassifier

THRESHOLD = 0.5
# Columns after one-hot encoding: what --k may select from.
ENCODED_COLUMNS = len(NUMERIC) + sum(len(ATTRIBUTE_BY_NAME[c].choices) for c in CATEGORICAL)


@dataclass
class KidneyOptions:
    out: Path = Path("artifacts/kidney")
    data: Path | None = None
    download: bool = False  # re-fetch the data instead of reading the shipped copy
    balance: str = "smote"
    features: str = "seed"
    select: str = "mutual-info"
    k: int = 10
    device: str = "auto"
    seed: int = 0
    folds: int = 5
    test_size: float = 0.2
    progress: bool = True


def split_train_test(frame: pd.DataFrame, options: KidneyOptions):
    x, y = frame.drop(columns=TARGET), frame[TARGET].to_numpy()
    return train_test_split(x, y, test_size=options.test_size, stratify=y,
                            random_state=options.seed)


def candidate_models(options: KidneyOptions) -> dict:
    return {
        "mlp": MLPClassifier(device=options.device, seed=options.seed),
        "logistic_regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
        "random_forest": RandomForestClassifier(n_estimators=300, random_state=options.seed),
    }


def check_options(options: KidneyOptions) -> None:
    """Refuse bad options before any data is fetched or anything is written."""
    if options.folds < 2:
        raise UserError(f"--folds {options.folds}: cross-validation needs at least 2 folds.")
    if options.features == "auto" and not 1 <= options.k <= ENCODED_COLUMNS:
        raise UserError(f"--k {options.k}: choose 1 to {ENCODED_COLUMNS}, the number of "
                        "encoded features.")
    check_run_options(options.device, options.seed)


def check_classes(data: CKDData, options: KidneyOptions) -> None:
    """Every class must reach the held-out split and every cross-validation fold."""
    counts = data.frame[TARGET].value_counts()
    needed = 2 * options.folds
    short = [name for label, name in enumerate(CLASSES) if counts.get(label, 0) < needed]
    if short:
        found = ", ".join(f"{name}={counts.get(label, 0)}" for label, name in enumerate(CLASSES))
        raise DataError(f"{data.path}: column '{TARGET}' has too few rows of class "
                        f"{', '.join(short)} ({found}); training with {options.folds} folds "
                        f"needs at least {needed} of each. Use the full CKD data.")


def train_kidney(options: KidneyOptions, log=print,
                 finish: Callable[[Path], None] | None = None) -> dict:
    """Train and write the model folder `options.out`, replacing it whole only on success.
    `finish(folder)` runs on the complete new folder before it replaces the old one: `pocketml
    all` exports and verifies there, so the folder is swapped in trained, exported and verified."""
    started = time.perf_counter()
    check_options(options)
    with replace_folder(options.out, "--out", finish=finish) as folder:
        metrics = fit_kidney(folder, options, log)
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    log(report(metrics, options.out))
    return metrics


def fit_kidney(folder: Path, options: KidneyOptions, log=print) -> dict:
    """The lecture's pipeline on the data `options` names, written into `folder`."""
    if options.data is None:
        data_path, origin = obtain_ckd(options.download, log)
    else:
        data_path, origin = Path(options.data), "--data"
    data = load_ckd(data_path)
    log(f"data from {origin}\n  {data.describe()}")
    check_classes(data, options)

    x_train, x_test, y_train, y_test = split_train_test(data.frame, options)
    ranking = rank_features(x_train, y_train, options.select, options.seed)
    pipelines = {name: build_pipeline(model, options.balance, options.features, options.select,
                                      options.k, options.seed)
                 for name, model in candidate_models(options).items()}
    balance_counts = class_counts_after_balancing(pipelines["mlp"], x_train, y_train)
    log(f"balancing ({options.balance}) on the training rows: {balance_counts}")

    folds = StratifiedKFold(options.folds, shuffle=True, random_state=options.seed)
    cv, test, probabilities = {}, {}, {}
    steps = tqdm(pipelines.items(), desc="cross-validate and fit", unit="model",
                 disable=not options.progress)
    for name, pipeline in steps:
        steps.set_postfix(model=name)
        scores = cross_validate(clone(pipeline), x_train, y_train, cv=folds, scoring=SCORERS,
                                error_score="raise")
        cv[name] = summarize_cv(scores)
        pipeline.fit(x_train, y_train)
        probabilities[name] = pipeline.predict_proba(x_test)[:, 1]
        test[name] = binary_metrics(y_test, probabilities[name], THRESHOLD)

    mlp_pipeline = pipelines["mlp"]
    features = list(mlp_pipeline["select"].get_feature_names_out())
    # With --features auto the choice is the fitted selector's; otherwise the ranking's top k.
    automatic = features if options.features == "auto" else ranking["feature"][:options.k].tolist()
    metrics = {
        "test": test["mlp"],
        "cv": cv["mlp"],
        "baselines": {name: {"test": test[name], "cv": cv[name]}
                      for name in pipelines if name != "mlp"},
        "features": features,
        "lecture_features": list(SEED_FEATURES),
        "automatic_choice": automatic,
        "overlap_with_lecture": sorted(set(automatic) & set(SEED_FEATURES)),
        "ranking": {"method": options.select, "table": ranking.to_dict(orient="records")},
        "balancing": {"method": options.balance, **balance_counts},
        "data": {"source": origin, "path": str(data_path), "sha256": data.sha256,
                 "rows": len(data.frame), "format": data.format,
                 "repaired_rows": data.repaired_rows, "dropped_rows": data.dropped_rows},
        "split": {"train_rows": len(x_train), "test_rows": len(x_test), "folds": options.folds},
        "training": training_record(mlp_pipeline["model"], options),
    }
    write_kidney_folder(folder, mlp_pipeline, x_train, x_test, y_test, probabilities,
                        ranking, metrics)
    return metrics


def class_counts_after_balancing(pipeline, x_train, y_train) -> dict:
    """Run the pipeline's steps up to and including the balancer on the training rows."""
    before = Counter(y_train.tolist())
    after = before
    if pipeline["balance"] != "passthrough":
        step_names = [name for name, _ in pipeline.steps]
        head = pipeline[: step_names.index("balance") + 1]
        after = Counter(head.fit_resample(x_train, y_train)[1].tolist())
    return {"before": class_names(before), "after": class_names(after)}


def class_names(counts: Counter) -> dict[str, int]:
    return {CLASSES[label]: int(n) for label, n in sorted(counts.items())}


def training_record(classifier: MLPClassifier, options: KidneyOptions) -> dict:
    history = classifier.history_
    return {"seed": options.seed, "device": history.device,
            "mixed_precision": history.mixed_precision, "epochs_run": len(history.train_loss),
            "best_epoch": history.best_epoch, "architecture": classifier.model_.config()}


def kidney_schema(features: list[str], train_rows: np.ndarray) -> dict:
    """`train_rows`: the real training patients as the model takes them (imputed, encoded,
    selected): their median and most frequent choices are the explanations' reference."""
    columns = []
    for name in features:
        if name in ATTRIBUTE_BY_NAME:
            attr = ATTRIBUTE_BY_NAME[name]
            columns.append({"name": name, "field": name, "kind": "numeric",
                            "label": attr.description, "unit": attr.unit,
                            "range": list(attr.plausible_range)})
        else:
            field, choice = name.split("_", 1)
            columns.append({"name": name, "field": field, "kind": "one_hot",
                            "label": ATTRIBUTE_BY_NAME[field].description, "choice": choice})
    return {
        "format": "pocketml-schema/1",
        "model": "kidney",
        "task": "binary_classification",
        "input": {"name": "features", "dtype": "float32", "shape": [-1, len(features)]},
        "output": {"name": "p_ckd", "dtype": "float32", "shape": [-1, 1],
                   "meaning": "probability of class 'ckd'"},
        "columns": columns,
        "classes": list(CLASSES),
        "positive_class": "ckd",
        "threshold": THRESHOLD,
        "reference": reference_values(columns, train_rows),
    }


def reference_values(columns: list[dict], rows: np.ndarray) -> dict:
    """Each field's typical value in `rows`: the median, or the most frequent choice."""
    reference, counts = {}, {}
    for i, column in enumerate(columns):
        if column["kind"] == "numeric":
            reference[column["field"]] = float(np.median(rows[:, i]))
        else:
            counts.setdefault(column["field"], {})[column["choice"]] = float(rows[:, i].sum())
    for field, chosen in counts.items():
        reference[field] = max(chosen, key=chosen.get)
    return reference


def write_kidney_folder(folder: Path, mlp_pipeline, x_train, x_test, y_test, probabilities,
                        ranking: pd.DataFrame, metrics: dict) -> None:
    classifier = mlp_pipeline["model"]
    # Transforming (never fitting) with the pipeline gives the raw selected values the model
    # takes: imputed with training medians, one-hot encoded, selected.
    preprocess = mlp_pipeline[:-1]
    artifacts.save_model(classifier.model_, folder)
    artifacts.save_test_set(folder, np.asarray(preprocess.transform(x_test)), y_test)
    train_rows = np.asarray(preprocess.transform(x_train), dtype=np.float64)
    artifacts.save_arrays(folder, artifacts.CALIBRATION, x=train_rows.astype(np.float32))
    artifacts.write_json(folder / artifacts.SCHEMA, kidney_schema(metrics["features"], train_rows))
    artifacts.write_json(folder / artifacts.METRICS, metrics)
    ranking.to_csv(folder / "feature_ranking.csv", index=False)
    labels = {"mlp": "MLP (PyTorch)", "logistic_regression": "logistic regression",
              "random_forest": "random forest"}
    plot_roc(folder / "roc.png", y_test, {labels[k]: p for k, p in probabilities.items()})
    plot_confusion(folder / "confusion_matrix.png", y_test,
                   (probabilities["mlp"] >= THRESHOLD).astype(int), list(CLASSES))
    history = classifier.history_
    plot_training_curves(folder / "training_curves.png", history.train_loss, history.val_loss,
                         history.best_epoch)


def report(metrics: dict, out: Path) -> str:
    rows = [("MLP (PyTorch)", metrics["cv"], metrics["test"])] + [
        (name.replace("_", " "), b["cv"], b["test"]) for name, b in metrics["baselines"].items()]
    lines = [f"{'model':<20} {'cv accuracy':>16} {'cv roc_auc':>16} {'test acc':>9} "
             f"{'test auc':>9} {'test f1':>8}"]
    for name, cv, test in rows:
        lines.append(f"{name:<20} {cv['accuracy']['mean']:>8.4f} ± {cv['accuracy']['std']:.4f}"
                     f" {cv['roc_auc']['mean']:>8.4f} ± {cv['roc_auc']['std']:.4f}"
                     f" {test['accuracy']:>9.4f} {test['roc_auc']:>9.4f} {test['f1']:>8.4f}")
    ranked = [row["feature"] for row in metrics["ranking"]["table"]]
    lines += [
        f"features used ({len(metrics['features'])}): {', '.join(metrics['features'])}",
        f"ranking by {metrics['ranking']['method']} (best first): {', '.join(ranked)}",
        f"automatic choice: {', '.join(metrics['automatic_choice'])}; overlap with the "
        f"lecture's 10: {len(metrics['overlap_with_lecture'])} "
        f"({', '.join(metrics['overlap_with_lecture'])})",
        f"trained on {metrics['training']['device']} in {metrics['seconds']} s; wrote {out}",
    ]
    return "\n".join(lines)
