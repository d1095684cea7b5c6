"""What `pocketml train kidney` writes and prints: the schema, the weights and test set, the
plots, the permutation importance of each field, and the report."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from imblearn.under_sampling.base import BaseUnderSampler
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from pocketml.folder import artifacts
from pocketml.train.kidney.classifier import MLPClassifier
from pocketml.train.kidney.data import ATTRIBUTE_BY_NAME, CLASSES
from pocketml.train.kidney.options import KidneyOptions
from pocketml.train.metrics import plot_confusion, plot_roc, plot_training_curves

THRESHOLD = 0.5
IMPORTANCE_REPEATS = 20
IMPORTANCE_ROWS = 10_000
MODEL_LABELS = {"mlp": "MLP (PyTorch)", "logistic_regression": "logistic regression",
                "random_forest": "random forest"}


def class_counts_after_balancing(pipeline, y_train: np.ndarray) -> dict:
    """Class counts before and after the fitted pipeline's balancer, from what it did: an
    over-sampler's sampling_strategy_ holds the rows it added, an under-sampler's the rows
    it kept."""
    before = Counter(y_train.tolist())
    after = Counter(before)
    sampler = pipeline["balance"]
    if sampler != "passthrough":
        for label, n in sampler.sampling_strategy_.items():
            after[label] = n if isinstance(sampler, BaseUnderSampler) else after[label] + n
    return {"before": class_names(before), "after": class_names(after)}


def class_names(counts: Counter) -> dict[str, int]:
    return {CLASSES[label]: int(n) for label, n in sorted(counts.items())}


def training_record(classifier: MLPClassifier, options: KidneyOptions) -> dict:
    history = classifier.history_
    return {"seed": options.seed, **history.record(),
            "temperature": classifier.temperature,  # divides the final logit: calibration
            "architecture": classifier.model_.config()}


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
    plot_roc(folder / "roc.png", y_test, {MODEL_LABELS[k]: p for k, p in probabilities.items()})
    plot_confusion(folder / "confusion_matrix.png", y_test,
                   (probabilities["mlp"] >= THRESHOLD).astype(int), list(CLASSES))
    history = classifier.history_
    plot_training_curves(folder / "training_curves.png", history.train_loss, history.val_loss,
                         history.best_epoch)


def permutation_importance_of_fields(pipeline, x_test: pd.DataFrame, y_test: np.ndarray,
                                     seed: int) -> dict[str, dict[str, float]]:
    """For each field the model takes, how much the test ROC AUC drops when that field is
    shuffled across the test patients (mean and spread over IMPORTANCE_REPEATS shuffles).

    A field's one-hot columns move together, so a shuffled patient still has one choice:
    sklearn's permutation_importance shuffles single columns, which would make rows with two
    choices or none, so the shuffle is done here on the model's own input rows."""
    if len(x_test) > IMPORTANCE_ROWS:  # a big table: a stratified sample of its test rows
        x_test, _, y_test, _ = train_test_split(x_test, y_test, train_size=IMPORTANCE_ROWS,
                                                stratify=y_test, random_state=seed)
    rows = np.asarray(pipeline[:-1].transform(x_test), dtype=np.float32)
    model, rng = pipeline["model"], np.random.default_rng(seed)
    baseline = roc_auc_score(y_test, model.predict_proba(rows)[:, 1])
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(pipeline["select"].get_feature_names_out()):
        groups.setdefault(name if name in ATTRIBUTE_BY_NAME else name.split("_", 1)[0], []).append(i)
    importance = {}
    for field, columns in groups.items():
        drops = []
        for _ in range(IMPORTANCE_REPEATS):
            shuffled = rows.copy()
            shuffled[:, columns] = rows[rng.permutation(len(rows))][:, columns]
            drops.append(baseline - roc_auc_score(y_test, model.predict_proba(shuffled)[:, 1]))
        importance[field] = {"mean": float(np.mean(drops)), "std": float(np.std(drops))}
    return importance


def calibration_report(calibration: dict) -> str:
    before, after = calibration["out_of_fold"], calibration["out_of_fold_calibrated"]
    return (f"calibration (out-of-fold): Brier {before['brier']:.4f}, ECE {before['ece']:.4f}; "
            f"temperature {calibration['temperature_fitted']:.3f} gives Brier "
            f"{after['brier']:.4f}, ECE {after['ece']:.4f}: "
            + ("kept, baked into the model" if calibration["kept"]
               else "not kept (no lower Brier score)"))


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
        "seconds per step: " + ", ".join(f"{step} {t:.1f}"
                                         for step, t in metrics["seconds_per_step"].items()),
        f"trained on {metrics['training']['device']} in {metrics['seconds']} s; wrote {out}",
    ]
    return "\n".join(lines)
