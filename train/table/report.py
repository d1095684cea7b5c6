"""What a table model's folder holds besides its weights: test metrics, plots, the feature
ranking, the schema, the test and calibration rows, and the training record."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.metrics import (accuracy_score, f1_score, log_loss, mean_absolute_error, r2_score,
                             root_mean_squared_error)

from pocketml.folder.custody import record_training
from pocketml.folder import artifacts
from pocketml.train.metrics import (binary_metrics, plot_confusion, plot_importance, plot_roc,
                                    plot_training_curves)
from pocketml.train.table.data import TableData
from pocketml.train.table.schema import table_schema

IMPORTANCE_REPEATS = 10
# The test metric each task's permutation importance watches (sklearn scorer names).
IMPORTANCE_SCORING = {"binary": "roc_auc", "multiclass": "accuracy",
                      "regression": "neg_root_mean_squared_error"}


def test_metrics(task: str, pipeline, x: pd.DataFrame, y: np.ndarray) -> dict:
    """The held-out metrics under the names cross-validation reports them."""
    if task == "binary":
        figures = binary_metrics(y, pipeline.predict_proba(x)[:, 1])
        figures["brier_score"] = figures.pop("brier")  # the name cross-validation gives it
        return figures
    if task == "multiclass":
        p = pipeline.predict_proba(x)
        predicted = p.argmax(axis=1)
        return {"accuracy": float(accuracy_score(y, predicted)),
                "f1_macro": float(f1_score(y, predicted, average="macro")),
                "log_loss": float(log_loss(y, p, labels=np.arange(p.shape[1])))}
    predicted = pipeline.predict(x)
    return {"root_mean_squared_error": float(root_mean_squared_error(y, predicted)),
            "mean_absolute_error": float(mean_absolute_error(y, predicted)),
            "r2": float(r2_score(y, predicted))}


def importance_of_fields(task: str, pipeline, x: pd.DataFrame, y: np.ndarray, fields: list[str],
                         seed: int) -> dict[str, dict[str, float]]:
    """How much the test metric drops when one of the model's fields is shuffled across the
    test rows: shuffled in the raw table, so a field's one-hot columns move together."""
    result = permutation_importance(pipeline, x, y, scoring=IMPORTANCE_SCORING[task],
                                    n_repeats=IMPORTANCE_REPEATS, random_state=seed)
    return {field: {"mean": float(result.importances_mean[i]),
                    "std": float(result.importances_std[i])}
            for i, field in enumerate(x.columns) if field in fields}


def plot_predicted(path: Path, y: np.ndarray, predicted: dict[str, np.ndarray], unit: str) -> None:
    """Predicted against actual on the test rows, per model; the diagonal is perfect."""
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, values in predicted.items():
        ax.scatter(y, values, s=12, alpha=0.7, label=name)
    low, high = float(np.min(y)), float(np.max(y))
    ax.plot([low, high], [low, high], "k:", lw=1)
    ax.set(xlabel=f"actual {unit}".strip(), ylabel=f"predicted {unit}".strip(),
           title="Predicted vs actual (test set)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_table_folder(folder: Path, data: TableData, final: dict, rows: tuple, metrics: dict,
                       groups: dict[str, list[str]], seed: int) -> None:
    """Everything the folder holds; `rows`: (x_train, x_test, y_test) of the raw table."""
    x_train, x_test, y_test = rows
    mlp = final["mlp"]
    preprocess, network = mlp[:-1], mlp["model"]
    features = list(mlp["select"].get_feature_names_out())
    fields = [f for f in groups if any(c in features for c in groups[f])]
    scores = mlp["select"].field_scores_
    metrics.update(features=features, fields=fields,
                   ranking=sorted(scores.items(), key=lambda item: -item[1]),
                   training={"seed": seed, **network.history_.record(),
                             "temperature": network.temperature,
                             "architecture": network.model_.config()},
                   permutation_importance=importance_of_fields(data.task, mlp, x_test, y_test,
                                                               fields, seed))
    train_rows = np.asarray(preprocess.transform(x_train), dtype=np.float64)
    artifacts.save_model(network.model_, folder)
    artifacts.save_test_set(folder, np.asarray(preprocess.transform(x_test)), y_test)
    artifacts.save_arrays(folder, artifacts.CALIBRATION, x=train_rows.astype(np.float32))
    artifacts.write_json(folder / artifacts.SCHEMA,
                         table_schema(folder_name(metrics), data, features, groups, train_rows))
    artifacts.write_json(folder / artifacts.METRICS, metrics)
    pd.DataFrame(metrics["ranking"], columns=["field", "score"]).to_csv(
        folder / "feature_ranking.csv", index=False)
    record_training(folder)
    write_plots(folder, data, final, x_test, y_test, metrics)


def folder_name(metrics: dict) -> str:
    return Path(metrics["data"]["path"]).stem


def write_plots(folder: Path, data: TableData, final: dict, x_test, y_test, metrics) -> None:
    history = final["mlp"]["model"].history_
    plot_training_curves(folder / "training_curves.png", history.train_loss, history.val_loss,
                         history.best_epoch)
    metric = IMPORTANCE_SCORING[data.task].removeprefix("neg_").replace("_", " ")
    plot_importance(folder / "permutation_importance.png", metrics["permutation_importance"],
                    metric)
    if data.task == "regression":
        plot_predicted(folder / "predicted_vs_actual.png", y_test,
                       {name: p.predict(x_test) for name, p in final.items()}, data.target.unit)
        return
    plot_confusion(folder / "confusion_matrix.png", y_test, final["mlp"].predict(x_test),
                   data.classes)
    if data.task == "binary":
        plot_roc(folder / "roc.png", y_test,
                 {name: p.predict_proba(x_test)[:, 1] for name, p in final.items()})
