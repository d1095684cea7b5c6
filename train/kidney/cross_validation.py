"""Cross-validation of the MLP and two baselines, each one leakage-free pipeline, then each
final fit on every training row.

On a big table cross-validation runs on a stratified sample of at most --max-rows training
rows, its folds in parallel worker processes, while the final models train on every row.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import check_scoring
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from pocketml.folder.errors import DataError, UserError
from pocketml.train.calibration import calibrate
from pocketml.train.kidney.classifier import MLPClassifier
from pocketml.train.kidney.data import CLASSES, TARGET
from pocketml.train.kidney.options import KidneyOptions
from pocketml.train.kidney.pipeline import build_pipeline
from pocketml.train.metrics import SCORERS, summarize_cv

# Folds run in worker processes only from this many rows on: a worker takes ~3 s to start
# (it imports PyTorch), more than a fold of a smaller table takes.
PARALLEL_FROM_ROWS = 2_000
# Each tree of the random forest grows on a bootstrap sample of at most this many rows, so
# its fit stops growing with the table (prediction stays linear in the rows).
FOREST_ROWS = 10_000




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
