"""The shared training loop: its work is bounded by samples seen, not epochs; the batch grows
with the data; early stopping waits a number of samples; the optimizer comes from one table."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pocketml.folder.errors import UserError
from pocketml.train.loop import (OPTIMIZERS, TrainConfig, fit, make_optimizer, predict,
                                 torch_threads)


@pytest.fixture(autouse=True)
def one_thread():
    """What the kidney MLP trains with: a second thread only slows such small steps down."""
    with torch_threads(1):
        yield


def separable(rows: int, seed: int = 0, noise: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two features, label = x0 + x1 > 0 (with `noise`, some labels flipped at random)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, 2, generator=generator)
    y = (x.sum(1, keepdim=True) > 0).float()
    flip = torch.rand(rows, 1, generator=generator) < noise
    return x, torch.where(flip, 1 - y, y)


def logistic() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1), nn.Sigmoid())


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float(((torch.from_numpy(predict(model, x)) >= 0.5).float() == y).float().mean())


def test_a_small_table_trains_epoch_by_epoch_at_the_smallest_batch():
    x, y = separable(272)
    history = fit(logistic(), F.binary_cross_entropy, (x, y), separable(60, seed=1),
                  TrainConfig(epochs=7, patience=100, progress=False, device="cpu"))
    assert history.batch_size == 32
    assert history.samples_seen == 7 * 272  # whole passes, as an epoch loop
    assert history.samples_per_check == 272 and len(history.val_loss) == 7
    assert history.stopped_by == "epochs"


def test_a_big_table_stops_at_the_sample_budget_with_a_grown_batch():
    x, y = separable(200_000)
    config = TrainConfig(epochs=300, max_samples=600_000, max_steps_per_epoch=16,
                         check_samples=50_000, patience=100, progress=False, device="cpu")
    model = logistic()
    history = fit(model, F.binary_cross_entropy, (x, y), separable(5_000, seed=1), config)
    assert history.batch_size == 1024  # 200,000 / 16 steps, capped at max_batch_size
    # 3 passes' worth of samples, not 300 passes: work, not epochs, ends training.
    assert 600_000 <= history.samples_seen < 600_000 + history.batch_size
    assert history.stopped_by == "max_samples"
    # Validation every 50,000 samples (4 checks a pass), not once a pass.
    assert history.samples_per_check == 50_000
    assert len(history.val_loss) == 12
    assert accuracy(model, *separable(5_000, seed=2)) > 0.97  # and it learned


def test_early_stopping_counts_samples_not_passes():
    # Pure noise: the validation loss stops improving at once, so training ends after
    # `patience` checks, each `check_samples` samples: 5 x 20,000, a fifth of one pass.
    x, y = separable(500_000, noise=0.5)
    config = TrainConfig(max_samples=10_000_000, check_samples=20_000, patience=5,
                         progress=False, device="cpu")
    history = fit(logistic(), F.binary_cross_entropy, (x, y), separable(2_000, 1, 0.5), config)
    assert history.stopped_by == "patience"
    assert history.samples_seen < len(x)  # within the first pass
    checks = len(history.val_loss)
    assert checks == history.best_epoch + 1 + config.patience
    # A check comes with the first step that completes its 20,000 samples.
    assert checks * 20_000 <= history.samples_seen < checks * (20_000 + history.batch_size)


def test_the_model_keeps_its_best_check_and_ends_on_the_cpu_in_eval_mode():
    model = logistic()
    x, y = separable(1_000)
    history = fit(model, F.binary_cross_entropy, (x, y), separable(500, seed=1),
                  TrainConfig(epochs=10, progress=False, device="cpu"))
    assert not model.training and next(model.parameters()).device.type == "cpu"
    x_val, y_val = separable(500, seed=1)
    with torch.no_grad():
        kept = F.binary_cross_entropy(model(x_val), y_val).item()
    assert kept == pytest.approx(min(history.val_loss), rel=1e-5)


def test_the_same_seed_trains_the_same_weights():
    x, y = separable(2_000)
    weights = []
    for _ in range(2):
        model = logistic()
        fit(model, F.binary_cross_entropy, (x, y), separable(500, seed=1),
            TrainConfig(epochs=5, progress=False, device="cpu"))
        weights.append([p.detach().clone() for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*weights))


def test_optimizers_come_from_one_table_with_their_fastest_path():
    parameters = list(logistic().parameters())
    optimizer = make_optimizer("adamw", parameters, lr=1e-3, weight_decay=0.0)
    assert isinstance(optimizer, OPTIMIZERS["adamw"].cls)
    assert optimizer.defaults["fused"] is True  # one kernel for every parameter
    with pytest.raises(UserError, match="optimizer 'lbfgs'.*adamw"):
        make_optimizer("lbfgs", parameters, lr=1e-3, weight_decay=0.0)
    with pytest.raises(UserError, match="optimizer"):
        fit(logistic(), F.binary_cross_entropy, separable(100), separable(20),
            TrainConfig(optimizer="lbfgs", progress=False, device="cpu"))


def test_training_runs_on_the_configured_threads_and_puts_them_back():
    seen = []

    def loss(p, y):
        seen.append(torch.get_num_threads())
        return F.binary_cross_entropy(p, y)

    with torch_threads(2):
        fit(logistic(), loss, separable(100), separable(20),
            TrainConfig(epochs=1, threads=1, progress=False, device="cpu"))
        assert set(seen) == {1}
        assert torch.get_num_threads() == 2
        seen.clear()
        fit(logistic(), loss, separable(100), separable(20),
            TrainConfig(epochs=1, progress=False, device="cpu"))  # threads=None: unchanged
        assert set(seen) == {2}
