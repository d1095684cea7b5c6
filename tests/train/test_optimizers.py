"""The lecture's optimizers: each one trains, at its rate for the model; the one chosen is
recorded in metrics.json and the manifest; `compare-optimizers` trains a model with each,
seed for seed, and writes its plot and table."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from pocketml.cli import main
from pocketml.options import OPTIMIZER_HELP
from pocketml.folder.errors import UserError
from pocketml.train.compare import compare_optimizers
from pocketml.train.loop import OPTIMIZERS, TrainConfig, fit, make_optimizer, torch_threads
from pocketml.train.sequence.train import LEARNING_RATES, sequence_training

from test_train_loop import accuracy, logistic, separable

LECTURE = ["sgd", "momentum", "rmsprop", "adagrad", "adam"]


def test_the_table_holds_the_lectures_five_and_adamw_with_their_own_settings():
    assert list(OPTIMIZERS) == LECTURE + ["adamw"]
    parameters = list(logistic().parameters())
    momentum = make_optimizer("momentum", parameters, lr=0.01, weight_decay=0.0)
    assert isinstance(momentum, torch.optim.SGD) and momentum.defaults["momentum"] == 0.9
    assert make_optimizer("sgd", parameters, lr=0.1, weight_decay=0.0).defaults["momentum"] == 0
    assert make_optimizer("rmsprop", parameters, lr=1e-3, weight_decay=0.0).defaults["alpha"] \
        == 0.9
    # The command line's help names exactly the table's optimizers.
    assert OPTIMIZER_HELP.startswith(", ".join(LECTURE[:-1]) + ", adam or adamw (default)")


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_each_optimizer_learns_a_separable_problem_at_its_own_rate(name):
    x, y = separable(400)
    model = logistic()
    with torch_threads(1):
        history = fit(model, F.binary_cross_entropy, (x, y), separable(100, seed=1),
                      TrainConfig(optimizer=name, epochs=40, patience=40, progress=False,
                                  device="cpu"))
    assert history.optimizer["name"] == name and history.optimizer["lr"] == OPTIMIZERS[name].lr
    assert history.optimizer["class"] == f"torch.optim.{OPTIMIZERS[name].cls.__name__}"
    assert history.val_loss[history.best_epoch] < 0.5 * history.val_loss[0]
    assert accuracy(model, *separable(500, seed=2)) > 0.9


def test_a_models_own_rate_wins_over_the_tables_and_an_explicit_rate_over_both():
    config = sequence_training("lstm")
    assert replace(config, optimizer="rmsprop").learning_rate() == \
        LEARNING_RATES["lstm"]["rmsprop"] != OPTIMIZERS["rmsprop"].lr
    assert replace(config, optimizer="adamw").learning_rate() == \
        OPTIMIZERS["adamw"].lr  # the default keeps the table's rate
    assert replace(config, optimizer="rmsprop", lr=0.5).learning_rate() == 0.5


def test_the_optimizer_is_recorded_in_metrics_and_the_manifest(tmp_path):
    out = tmp_path / "rnn"
    assert main(["train", "sequence", "--cell", "rnn", "--optimizer", "rmsprop",
                 "--out", str(out), "--no-progress", "--device", "cpu"]) == 0
    recorded = json.loads((out / "metrics.json").read_text())["training"]["optimizer"]
    assert recorded == {"name": "rmsprop", "class": "torch.optim.RMSprop",
                        "lr": LEARNING_RATES["rnn"]["rmsprop"], "weight_decay": 1e-4,
                        "alpha": 0.9}
    assert json.loads((out / "manifest.json").read_text())["optimizer"] == recorded


def test_the_kidney_model_and_its_bundle_record_the_default_optimizer(kidney_folder,
                                                                      kidney_bundle):
    manifest = json.loads((kidney_folder / "manifest.json").read_text())
    metrics = json.loads((kidney_folder / "metrics.json").read_text())
    assert manifest["optimizer"] == metrics["training"]["optimizer"]
    assert manifest["optimizer"]["name"] == "adamw" and manifest["optimizer"]["lr"] == 3e-3
    assert json.loads((kidney_bundle / "manifest.json").read_text())["optimizer"] == \
        manifest["optimizer"]


@pytest.mark.parametrize("args, message", [
    (["train", "sequence", "--optimizer", "lbfgs"], "--optimizer 'lbfgs': choose one of sgd"),
    (["all", "--optimizer", "Adam"], "--optimizer 'Adam': choose one of"),
    (["compare-optimizers", "resnet"], "compare-optimizers 'resnet': choose one of kidney"),
    (["compare-optimizers", "rnn", "--optimizers", "sgd,newton"], "--optimizer 'newton'"),
    (["compare-optimizers", "rnn", "--seeds", "0,one"], "--seeds '0,one': give comma-sep"),
    (["compare-optimizers", "rnn", "--seeds", ","], "--seeds: give at least 1 seed"),
    (["compare-optimizers", "rnn", "--epochs", "0"], "--epochs 0: give 1 or more"),
])
def test_a_bad_optimizer_option_is_refused_before_anything_is_written(tmp_path, capsys,
                                                                      monkeypatch, args,
                                                                      message):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_compare_optimizers_trains_each_optimizer_on_each_seed_and_writes_plot_and_table(
        tmp_path):
    out, lines = tmp_path / "compare-rnn", []
    results = compare_optimizers("rnn", out, ["sgd", "rmsprop", "adam"], [0, 1], "cpu",
                                 progress=False, epochs=6, log=lines.append)
    assert {p.name for p in out.iterdir()} == {"comparison.json", "comparison.md",
                                               "validation_loss.png", "manifest.json"}
    assert json.loads((out / "comparison.json").read_text()) == json.loads(json.dumps(results))
    runs = results["runs"]
    assert [(r["optimizer"], r["seed"]) for r in runs] == [
        (o, s) for o in ("sgd", "rmsprop", "adam") for s in (0, 1)]
    for run in runs:
        assert run["epochs_run"] == 6 == len(run["val_loss"])
        assert 1 <= run["epochs_to_best"] <= 6 and run["seconds"] > 0
        assert run["settings"]["lr"] == LEARNING_RATES["rnn"][run["optimizer"]]
        assert math.isfinite(run["held_out"]["rmse"])
    # Ranked by the held-out RMSE's mean over the seeds, lowest first.
    means = [row["rmse"]["mean"] for row in results["optimizers"]]
    assert means == sorted(means)
    for row in results["optimizers"]:
        mine = [r["held_out"]["rmse"] for r in runs if r["optimizer"] == row["optimizer"]]
        assert row["rmse"]["mean"] == pytest.approx(sum(mine) / 2)
    table = (out / "comparison.md").read_text()
    assert table.count("\n| ") == 1 + 3  # header and one row per optimizer
    assert "epochs to best" in table and " ± " in table
    assert results["verdict"] in table and "rmsprop ranks" in results["verdict"]
    assert "standard deviation" in results["verdict"]
    assert Image.open(out / "validation_loss.png").size[0] >= 600
    assert any(line.startswith("     sgd seed 1: test RMSE") for line in lines)


def test_the_same_seed_gives_the_same_run_and_another_seed_another(tmp_path):
    def run(seed: int, name: str) -> dict:
        return compare_optimizers("lstm", tmp_path / name, ["momentum"], [seed], "cpu",
                                  progress=False, epochs=3, log=lambda _: None)["runs"][0]

    first, again, other = run(0, "a"), run(0, "b"), run(1, "c")
    assert first["val_loss"] == again["val_loss"]
    assert first["val_loss"] != other["val_loss"]


def test_a_comparison_that_cannot_run_leaves_the_old_folder(tmp_path):
    out = tmp_path / "compare-rnn"
    compare_optimizers("rnn", out, ["adam"], [0], "cpu", progress=False, epochs=2,
                       log=lambda _: None)
    before = (out / "comparison.json").read_bytes()
    with pytest.raises(UserError, match="--optimizer 'adamax'"):
        compare_optimizers("rnn", out, ["adam", "adamax"], [0], "cpu", progress=False,
                           epochs=2, log=lambda _: None)
    assert (out / "comparison.json").read_bytes() == before
