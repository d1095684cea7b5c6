"""One training loop for every model: device choice, mixed precision on CUDA, early stopping,
a progress bar, and a history for the training-curve plot.

Its cost is bounded by work, not by a count of epochs: the batch grows with the data (up to
`max_batch_size`) so that a pass takes at most `max_steps_per_epoch` optimizer steps, training
stops after `max_samples` samples seen (or `epochs` passes, whichever comes first), and
validation runs every pass or every `check_samples` samples, so early stopping waits a number
of samples, not of passes. A small table trains exactly as an epoch-by-epoch loop would; a big
one in bounded time.
"""

from __future__ import annotations

import copy
import inspect
import math
import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from pocketml.folder.errors import UserError


class Optimizer(NamedTuple):
    """A row of OPTIMIZERS: the class, its own settings, and its learning rate (a model's
    TrainConfig.learning_rates may set another for that model)."""
    cls: type[torch.optim.Optimizer]
    settings: dict
    lr: float


# The one table of optimizers, the lecture's five and AdamW. The loop adds the learning rate,
# the weight decay and the fastest implementation PyTorch has (see make_optimizer). The rates
# are the kidney MLP's, from benchmarks/sweep_learning_rates.py (1e-4 to 1, judged by the
# cross-validated Brier score, never a test row); a model whose rates differ (the sequence
# models, whose loss is in the series' units) keeps its own in TrainConfig.learning_rates.
OPTIMIZERS: dict[str, Optimizer] = {
    # The lecture's "gradient descent": the plain step -lr * gradient, one batch at a time.
    "sgd": Optimizer(torch.optim.SGD, {}, 0.1),
    # Heavy-ball momentum, v = 0.9 v + g, w -= lr v: the lecture's update. Nesterov's variant
    # (the gradient taken after the look-ahead step) is another method the lecture does not
    # teach.
    "momentum": Optimizer(torch.optim.SGD, {"momentum": 0.9}, 0.1),
    # alpha 0.9: the decay of the squared-gradient average as Hinton's lecture (and Keras)
    # define RMSProp; PyTorch's own default is 0.99.
    "rmsprop": Optimizer(torch.optim.RMSprop, {"alpha": 0.9}, 1e-3),
    "adagrad": Optimizer(torch.optim.Adagrad, {}, 0.1),
    "adam": Optimizer(torch.optim.Adam, {}, 1e-3),
    # The default: the rate the kidney and sequence models were tuned with, and the kidney
    # sweep's choice too.
    "adamw": Optimizer(torch.optim.AdamW, {}, 3e-3),
}


def resolve_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for, but PyTorch sees no CUDA GPU. "
                        "Use --device auto (or cpu) to train on the CPU.")
    if requested not in ("cpu", "cuda"):
        raise UserError(f"--device {requested!r}: choose auto, cpu or cuda.")
    return torch.device(requested)


def check_run_options(device: str, seed: int, optimizer: str = "adamw") -> None:
    """Refuse a bad --device, --seed or --optimizer before any data is read or anything is
    written."""
    if not 0 <= seed < 2**32:  # the range numpy's and PyTorch's generators accept
        raise UserError(f"--seed {seed}: use an integer from 0 to {2**32 - 1}.")
    resolve_device(device)
    check_optimizer(optimizer)


def check_optimizer(name: str) -> Optimizer:
    if name not in OPTIMIZERS:
        raise UserError(f"--optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}.")
    return OPTIMIZERS[name]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """PyTorch's CPU threads set to `count` for the block (None: left as they are)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count or previous)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def make_optimizer(name: str, parameters, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """The optimizer called `name`, with one fused kernel for all parameters where PyTorch has
    one (Adam, AdamW, SGD, Adagrad; CPU and CUDA), else its multi-tensor (foreach) path: the
    default single-tensor path costs one small kernel per parameter per step."""
    cls, settings, _ = check_optimizer(name)
    fastest = {"fused": True} if "fused" in inspect.signature(cls).parameters else {"foreach": True}
    return cls(parameters, lr=lr, weight_decay=weight_decay, **settings, **fastest)


@dataclass
class TrainConfig:
    epochs: int = 300  # at most this many passes over the training rows ...
    max_samples: int = 3_000_000  # ... and at most this many samples seen, whichever is fewer
    batch_size: int = 32  # the smallest batch; it grows with the data ...
    max_steps_per_epoch: int = 256  # ... so that one pass takes this many steps at most ...
    max_batch_size: int = 1024  # ... until it reaches this size: enough steps remain to learn
    optimizer: str = "adamw"  # a name in OPTIMIZERS
    lr: float | None = None  # None: the optimizer's rate for this model (see learning_rate)
    # This model's rate per optimizer, where it differs from the one in OPTIMIZERS.
    learning_rates: Mapping[str, float] = field(default_factory=dict)
    weight_decay: float = 1e-4
    check_samples: int = 65_536  # validation after each pass, or after this many samples if fewer
    patience: int = 30  # validation checks without improvement before stopping
    device: str = "auto"
    # CPU threads while training (None: PyTorch's default, one per core). Small networks
    # train faster on one: on a busy 2-core machine a second thread made each step of the
    # kidney MLP 7 to 18 times slower, and of the digits CNN about 10 times.
    threads: int | None = None
    seed: int = 0
    progress: bool = True
    description: str = "training"
    position: int = 0  # the progress bar's line: one per worker process training at once

    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return self.learning_rates.get(self.optimizer, check_optimizer(self.optimizer).lr)

    def optimizer_record(self) -> dict:
        """What metrics.json and the manifest say the model was trained with."""
        cls, settings, _ = check_optimizer(self.optimizer)
        return {"name": self.optimizer, "class": f"torch.optim.{cls.__name__}",
                "lr": self.learning_rate(), "weight_decay": self.weight_decay, **settings}

    def batch_for(self, rows: int) -> int:
        grown = min(self.max_batch_size, math.ceil(rows / self.max_steps_per_epoch))
        return max(self.batch_size, grown)

    def budget_for(self, rows: int) -> int:
        """Samples the loop may see on `rows` training rows."""
        return min(self.epochs * rows, self.max_samples)


@dataclass
class History:
    """One loss per validation check: per epoch on a small table, per `check_samples` on a big one."""
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0  # index of the best check, whose weights the model keeps
    device: str = "cpu"
    mixed_precision: bool = False
    batch_size: int = 0
    samples_seen: int = 0
    samples_per_check: int = 0
    stopped_by: str = ""  # "patience", or the bound it reached: "epochs" or "max_samples"
    optimizer: dict = field(default_factory=dict)  # TrainConfig.optimizer_record()

    def record(self) -> dict:
        return {"optimizer": self.optimizer, "device": self.device,
                "mixed_precision": self.mixed_precision,
                "batch_size": self.batch_size, "samples_seen": self.samples_seen,
                "samples_per_check": self.samples_per_check, "checks": len(self.val_loss),
                "best_check": self.best_epoch, "stopped_by": self.stopped_by}

    def epoch_record(self, seed: int, architecture: dict) -> dict:
        """metrics.json's "training" for the models trained pass by pass (digits, sequences)."""
        return {"seed": seed, "optimizer": self.optimizer, "device": self.device,
                "mixed_precision": self.mixed_precision, "epochs_run": len(self.train_loss),
                "best_epoch": self.best_epoch, "architecture": architecture}


def fit(model: nn.Module, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor],
        config: TrainConfig,
        augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None) -> History:
    """Train `model` in place; keep the weights of the best validation check.

    The loss takes the model's output and the target, so the same loop serves classifiers
    and regressors alike. The data moves to the device once and stays there. The model ends
    on the CPU in eval mode, so what is saved and exported never depends on where it was
    trained.
    """
    with torch_threads(config.threads):
        return _train(model, loss_fn, train, val, config, augment)


class BestWeights:
    """The weights of the lowest validation loss so far, and how many checks since."""

    def __init__(self, model: nn.Module):
        self.model, self.loss, self.stale = model, float("inf"), 0
        self.state = copy.deepcopy(model.state_dict())

    def offer(self, val_loss: float, history: History) -> None:
        if val_loss < self.loss - 1e-6:
            self.loss, self.state, self.stale = val_loss, copy.deepcopy(self.model.state_dict()), 0
            history.best_epoch = len(history.val_loss) - 1
        else:
            self.stale += 1


def step(model, loss_fn, optimizer, scaler, xb, yb, amp: bool) -> torch.Tensor:
    """One optimizer step; the batch's loss, left on the device."""
    with torch.autocast(xb.device.type, dtype=torch.float16, enabled=amp):
        output = model(xb)
    # The loss runs in float32: autocast refuses probability losses such as BCE.
    loss = loss_fn(output.float(), yb)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss.detach()


def _train(model, loss_fn, train, val, config: TrainConfig, augment) -> History:
    device = resolve_device(config.device)
    seed_everything(config.seed)
    amp = device.type == "cuda"
    model.to(device)
    x_train, y_train = (t.to(device) for t in train)
    x_val, y_val = (t.to(device) for t in val)
    rows = len(x_train)
    batch, budget = config.batch_for(rows), config.budget_for(rows)
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.learning_rate(),
                               config.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    generator = torch.Generator(device="cpu").manual_seed(config.seed)
    history = History(device=device.type, mixed_precision=amp, batch_size=batch,
                      samples_per_check=min(rows, config.check_samples),
                      optimizer=config.optimizer_record())
    best = BestWeights(model)
    # Summed on the device and read once per check: reading a loss every step waits for it.
    running_loss, running_rows = torch.zeros((), device=device), 0

    bar = tqdm(total=budget, desc=config.description, disable=not config.progress,
               leave=False, unit="sample", unit_scale=True, position=config.position)
    training = True
    while training:
        # One shuffle per pass, gathered once, then sliced: a slice is a view, not a copy.
        order = torch.randperm(rows, generator=generator).to(device)
        x_pass, y_pass = x_train[order], y_train[order]
        model.train()
        for start in range(0, rows, batch):
            xb, yb = x_pass[start:start + batch], y_pass[start:start + batch]
            if augment is not None:
                xb = augment(xb, generator)
            running_loss += step(model, loss_fn, optimizer, scaler, xb, yb, amp) * len(xb)
            running_rows += len(xb)
            history.samples_seen += len(xb)
            bar.update(len(xb))
            if (running_rows < history.samples_per_check and start + batch < rows
                    and history.samples_seen < budget):
                continue
            val_loss = evaluate_loss(model, loss_fn, x_val, y_val, amp)
            history.train_loss.append(running_loss.item() / running_rows)
            history.val_loss.append(val_loss)
            running_loss.zero_()
            running_rows = 0
            bar.set_postfix(train=f"{history.train_loss[-1]:.4f}", val=f"{val_loss:.4f}")
            best.offer(val_loss, history)
            training = best.stale < config.patience and history.samples_seen < budget
            if not training:
                break
            model.train()
    bar.close()
    history.stopped_by = ("patience" if best.stale >= config.patience
                          else "epochs" if budget == config.epochs * rows else "max_samples")
    model.load_state_dict(best.state)
    model.to("cpu").eval()
    return history


@torch.no_grad()
def evaluate_loss(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, amp: bool,
                  batch_size: int = 1024) -> float:
    model.eval()
    total = torch.zeros((), device=x.device)
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        with torch.autocast(x.device.type, dtype=torch.float16, enabled=amp):
            output = model(xb)
        total += loss_fn(output.float(), yb) * len(xb)
    return total.item() / len(x)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1024,
            output: str | None = None) -> np.ndarray:
    """The model's outputs for `x`, in batches; `output`: a method to call instead of forward
    (the kidney MLP's "logits")."""
    model.eval()
    run = getattr(model, output) if output else model
    return torch.cat([run(x[s:s + batch_size]) for s in range(0, len(x), batch_size)]).numpy()
