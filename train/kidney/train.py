"""`pocketml train kidney`: the lecture's whole pipeline on the real UCI CKD data.

held-out split -> feature ranking -> cross-validation of the MLP and two baselines, each as
one leakage-free pipeline -> final fit -> test metrics, plots, schema, weights.

On a big table cross-validation runs on a stratified sample of at most --max-rows training
rows, its folds in parallel worker processes, while the final models train on every row.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from imblearn.under_sampling.base import BaseUnderSampler
from scipy.special import expit
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import check_scoring, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from pocketml.folder.errors import DataError, UserError
from pocketml.folder.custody import record_training
from pocketml.folder.replace import replace_folder
from pocketml.folder import artifacts
from pocketml.folder.reference import BINS, calibration_figures
from pocketml.train.calibration import calibrate, plot_reliability
from pocketml.train.kidney.data import (ATTRIBUTE_BY_NAME, CATEGORICAL, CLASSES, NUMERIC, TARGET,
                                     load_ckd)
from pocketml.train.kidney.fetch import obtain_ckd
from pocketml.train.kidney.pipeline import (SEED_FEATURES, build_pipeline, rank_features,
                                            with_categories)
from pocketml.train.loop import check_run_options
from pocketml.train.metrics import (SCORERS, binary_metrics, plot_confusion, plot_importance,
                                    plot_roc, plot_training_curves, summarize_cv)
from pocketml.train.kidney.classifier import MLPClassifier

THRESHOLD = 0.5
IMPORTANCE_REPEATS = 20
IMPORTANCE_ROWS = 10_000
MODEL_LABELS = {"mlp": "MLP (PyTorch)", "logistic_regression": "logistic regression",
                "random_forest": "random forest"}
# Columns after one-hot encoding: what --k may select from.
ENCODED_COLUMNS = len(NUMERIC) + sum(len(ATTRIBUTE_BY_NAME[c].choices) for c in CATEGORICAL)
# Cross-validation estimates how well a model generalises; past 100,000 rows that estimate
# hardly moves (its standard error is ~0.0005 at 98 % accuracy), while its cost keeps growing.
MAX_CV_ROWS = 100_000
# Folds run in worker processes only from this many rows on: a worker takes ~3 s to start
# (it imports PyTorch), more than a fold of a smaller table takes.
PARALLEL_FROM_ROWS = 2_000
# Each tree of the random forest grows on a bootstrap sample of at most this many rows, so
# its fit stops growing with the table (prediction stays linear in the rows).
FOREST_ROWS = 10_000


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
    optimizer: str = "adamw"  # the MLP's, a name in train/loop.py's OPTIMIZERS
    seed: int = 0
    folds: int = 5
    max_rows: int = MAX_CV_ROWS  # cross-validation sample; the final models see every row
    test_size: float = 0.2
    progress: bool = True
    force: bool = False  # replace --out even if it holds files pocketml did not write


def split_train_test(frame: pd.DataFrame, options: KidneyOptions):
    x, y = frame.drop(columns=TARGET), frame[TARGET].to_numpy()
    return train_test_split(x, y, test_size=options.test_size, stratify=y,
                            random_state=options.seed)


def candidate_models(options: KidneyOptions, rows: int) -> dict:
    """The MLP and the two baselines, for a fit on `rows` rows."""
    return {
        "mlp": MLPClassifier(device=options.device, optimizer=options.optimizer,
                             seed=options.seed),
        "logistic_regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
        # Trees on every core (threads; the same forest as on one): 300 trees are 40 % of
        # the CPU time of `pocketml train kidney` on the real data.
        "random_forest": RandomForestClassifier(
            n_estimators=300, max_samples=None if rows <= FOREST_ROWS else FOREST_ROWS / rows,
            n_jobs=-1, random_state=options.seed),
    }


def check_options(options: KidneyOptions) -> None:
    """Refuse bad options before any data is fetched or anything is written."""
    if options.folds < 2:
        raise UserError(f"--folds {options.folds}: cross-validation needs at least 2 folds.")
    if options.max_rows < 1:
        raise UserError(f"--max-rows {options.max_rows}: give the most training rows to "
                        f"cross-validate on, a positive number (default {MAX_CV_ROWS}).")
    if options.features == "auto" and not 1 <= options.k <= ENCODED_COLUMNS:
        raise UserError(f"--k {options.k}: choose 1 to {ENCODED_COLUMNS}, the number of "
                        "encoded features.")
    check_run_options(options.device, options.seed, options.optimizer)


def check_classes(labels: np.ndarray, folds: int, where: str, fix: str,
                  error: type[UserError] = DataError) -> None:
    """Every class must reach the held-out split and every cross-validation fold."""
    counts = Counter(labels.tolist())
    needed = 2 * folds
    short = [name for label, name in enumerate(CLASSES) if counts.get(label, 0) < needed]
    if short:
        found = ", ".join(f"{name}={counts.get(label, 0)}" for label, name in enumerate(CLASSES))
        raise error(f"{where} has too few rows of class {', '.join(short)} ({found}); "
                    f"training with {folds} folds needs at least {needed} of each. {fix}")


def cross_validation_rows(x_train: pd.DataFrame, y_train: np.ndarray, options: KidneyOptions
                          ) -> tuple[pd.DataFrame, np.ndarray]:
    """All training rows, or a stratified sample of options.max_rows of them."""
    if len(x_train) <= options.max_rows:
        return x_train, y_train
    x_cv, _, y_cv, _ = train_test_split(x_train, y_train, train_size=options.max_rows,
                                        stratify=y_train, random_state=options.seed)
    share = min(Counter(y_train.tolist()).values()) / len(y_train)
    check_classes(y_cv, options.folds, f"--max-rows {options.max_rows}: the sample",
                  f"Use --max-rows {int(np.ceil(2 * options.folds / share))} or more.",
                  UserError)
    return x_cv, y_cv


def worker_processes(rows: int, tasks: int) -> int:
    """Processes for `tasks` fits of about `rows` rows each: one per usable core when a fit
    outlasts a worker's start, else the fits run here, one after another."""
    return 1 if rows < PARALLEL_FROM_ROWS else max(1, min(tasks, joblib.cpu_count()))


def labelled(pipeline, description: str, progress: bool, line: int = 1):
    """The pipeline, with its model's progress bar (the MLP's) named, shown, and on `line`
    (below the bar that counts the folds)."""
    if "progress" in pipeline["model"].get_params():
        pipeline.set_params(model__progress=progress, model__description=description,
                            model__position=line)
    return pipeline


def score_fold(pipeline, x: pd.DataFrame, y: np.ndarray, train: np.ndarray, test: np.ndarray,
               fold: int) -> tuple[int, dict[str, float], dict[str, np.ndarray]]:
    """Fit on one fold's training rows, score on its test rows (runs in a worker process);
    also its out-of-fold P(ckd), and the logit where the model has one (the MLP)."""
    pipeline.fit(x.iloc[train], y[train])
    held_out = x.iloc[test]
    outputs = {"p": pipeline.predict_proba(held_out)[:, 1]}
    if hasattr(pipeline, "decision_function"):
        outputs["logit"] = pipeline.decision_function(held_out)
    return fold, check_scoring(pipeline, SCORERS)(pipeline, held_out, y[test]), outputs


def cross_validate_model(name: str, pipeline, x: pd.DataFrame, y: np.ndarray,
                         options: KidneyOptions) -> tuple[dict, dict[str, np.ndarray]]:
    """Each fold a fresh copy of the pipeline, in parallel where the table is big enough; a
    bar counts the folds done (with the time left) and the MLP shows one bar per fold.
    The CV summary, and every row's out-of-fold outputs (score_fold's) in the rows' order."""
    folds = list(StratifiedKFold(options.folds, shuffle=True, random_state=options.seed)
                 .split(x, y))
    workers = worker_processes(len(x), len(folds))
    # Each fold's bar on a line of its own, as many lines as folds running at once.
    tasks = (joblib.delayed(score_fold)(
        labelled(clone(pipeline), f"{name} fold {k + 1}/{len(folds)}", options.progress,
                 line=1 + k % workers), x, y, train, test, k)
        for k, (train, test) in enumerate(folds))
    bar = tqdm(total=len(folds), desc=f"cross-validate {name}", unit="fold",
               disable=not options.progress)
    scores, out_of_fold = {}, {}
    # Workers that wait 5 s for more work end, so they hold no memory past cross-validation.
    for fold, fold_scores, outputs in joblib.Parallel(
            n_jobs=workers, return_as="generator_unordered", idle_worker_timeout=5)(tasks):
        scores[fold] = fold_scores
        for key, values in outputs.items():
            out_of_fold.setdefault(key, np.empty(len(y)))[folds[fold][1]] = values
        bar.update()
    bar.close()
    # In fold order, whatever order they finished in: a mean's last digit depends on it.
    return summarize_cv({f"test_{metric}": [scores[k][metric] for k in sorted(scores)]
                         for metric in SCORERS}), out_of_fold


def cross_validate_and_fit(options: KidneyOptions, cv_rows, train_rows, x_test, seconds,
                           watch) -> tuple[dict, dict, object, dict, dict]:
    """Each model's cross-validation, the MLP's temperature fitted on its out-of-fold logits,
    then each final fit on every training row: the CV summaries, P(ckd) of the test rows per
    model, the MLP's fitted pipeline, every model's out-of-fold P(ckd) and the calibration."""
    # The three models' pipelines share their steps before the model: each set of training
    # rows is imputed, encoded, balanced and selected once, not three times (worker processes
    # share the cache, a folder removed at the end).
    with tempfile.TemporaryDirectory(prefix="pocketml-steps-") as cache:
        memory = joblib.Memory(cache, verbose=0)

        def pipelines(rows: int) -> dict:
            return {name: build_pipeline(model, options.balance, options.features,
                                         options.select, options.k, options.seed, memory)
                    for name, model in candidate_models(options, rows).items()}

        cv, out_of_fold = {}, {}
        fold_rows = len(cv_rows[0]) * (options.folds - 1) // options.folds
        for name, pipeline in pipelines(fold_rows).items():
            with timed(seconds, f"cross-validate {name}", watch):
                cv[name], out_of_fold[name] = cross_validate_model(name, pipeline, *cv_rows,
                                                                   options)
        calibration = calibrate(cv_rows[1], out_of_fold["mlp"]["logit"])

        # Here, one model after the other: the first fills the cache, the others read it,
        # and no worker needs a copy of every training row.
        final = pipelines(len(train_rows[0]))
        final["mlp"].set_params(model__temperature=calibration["temperature"])
        with timed(seconds, "final fit", watch):
            probabilities = {
                name: labelled(pipeline, f"{name} on all rows", options.progress, line=0)
                .fit(*train_rows).predict_proba(x_test)[:, 1]
                for name, pipeline in final.items()}
    return cv, probabilities, final["mlp"], out_of_fold, calibration


@contextmanager
def timed(seconds: dict[str, float], name: str,
          watch: Callable[[str], AbstractContextManager] | None) -> Iterator[None]:
    """Record the wall time of one step; `watch(name)` (a benchmark's) may measure more."""
    started = time.perf_counter()
    with watch(name) if watch else nullcontext():
        yield
    seconds[name] = round(time.perf_counter() - started, 2)


def train_kidney(options: KidneyOptions, log=print,
                 finish: Callable[[Path], None] | None = None,
                 watch: Callable[[str], AbstractContextManager] | None = None) -> dict:
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


def fit_kidney(folder: Path, options: KidneyOptions, log=print,
               watch: Callable[[str], AbstractContextManager] | None = None) -> dict:
    """The lecture's pipeline on the data `options` names, written into `folder`."""
    seconds: dict[str, float] = {}
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
    frame = with_categories(data.frame)
    del data  # the table of strings: five times the memory of `frame`

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
    cv, probabilities, mlp_pipeline, out_of_fold, calibration = cross_validate_and_fit(
        options, (x_cv, y_cv), (x_train, y_train), x_test, seconds, watch)
    log(calibration_report(calibration))
    test = {name: binary_metrics(y_test, p, THRESHOLD) for name, p in probabilities.items()}
    with timed(seconds, "permutation importance", watch):
        importance = permutation_importance_of_fields(mlp_pipeline, x_test, y_test, options.seed)
    balance_counts = class_counts_after_balancing(mlp_pipeline, y_train)
    log(f"balancing ({options.balance}) on the training rows: {balance_counts}")
    features = list(mlp_pipeline["select"].get_feature_names_out())
    # With --features auto the choice is the fitted selector's; otherwise the ranking's top k.
    automatic = features if options.features == "auto" else ranking["feature"][:options.k].tolist()
    metrics = {
        "test": test["mlp"],
        "cv": cv["mlp"],
        "baselines": {name: {"test": test[name], "cv": cv[name]}
                      for name in probabilities if name != "mlp"},
        "features": features,
        "lecture_features": list(SEED_FEATURES),
        "automatic_choice": automatic,
        "overlap_with_lecture": sorted(set(automatic) & set(SEED_FEATURES)),
        "ranking": {"method": options.select, "table": ranking.to_dict(orient="records")},
        "balancing": {"method": options.balance, **balance_counts},
        "data": provenance,
        "split": {"train_rows": len(x_train), "test_rows": len(x_test), "folds": options.folds,
                  "cv_rows": len(x_cv), "cv_sampled": sampled, "max_rows": options.max_rows},
        "training": training_record(mlp_pipeline["model"], options),
        "permutation_importance": {
            "metric": "roc_auc", "rows": min(len(x_test), IMPORTANCE_ROWS),
            "repeats": IMPORTANCE_REPEATS,
            "drop": importance},
        "calibration": {
            "method": "temperature scaling, fitted on the MLP's out-of-fold logits (never on "
                      "the test rows); kept only if it lowers the out-of-fold Brier score",
            "rows": len(y_cv), "bins": BINS, "mlp": calibration,
            **{name: {"out_of_fold": calibration_figures(y_cv, outputs["p"])}
               for name, outputs in out_of_fold.items() if name != "mlp"}},
        "seconds_per_step": seconds,  # the steps before writing; the log adds "write"
    }
    with timed(seconds, "write", watch):
        write_kidney_folder(folder, mlp_pipeline, x_train, x_test, y_test, probabilities,
                            ranking, metrics)
        record_training(folder)
        plot_importance(folder / "permutation_importance.png", importance, "ROC AUC")
        plot_reliability(folder / "calibration.png", y_cv, {
            MODEL_LABELS["mlp"]: expit(out_of_fold["mlp"]["logit"]),
            f"MLP, temperature {calibration['temperature_fitted']:.2f}": expit(
                out_of_fold["mlp"]["logit"] / calibration["temperature_fitted"]),
            **{MODEL_LABELS[name]: outputs["p"]
               for name, outputs in out_of_fold.items() if name != "mlp"}})
    return metrics


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
