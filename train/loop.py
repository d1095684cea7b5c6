"""One training loop for every model: device choice, mixed precision on CUDA, early stopping,
a progress bar, and a history for the training-curve plot."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from pocketml.errors import UserError


def resolve_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for, but PyTorch sees no CUDA GPU. "
                        "Use --device auto (or cpu) to train on the CPU.")
    if requested not in ("cpu", "cuda"):
        raise UserError(f"--device {requested!r}: choose auto, cpu or cuda.")
    return torch.device(requested)


def check_run_options(device: str, seed: int) -> None:
    """Refuse a bad --device or --seed before any data is read or anything is written."""
    if not 0 <= seed < 2**32:  # the range numpy's and PyTorch's generators accept
        raise UserError(f"--seed {seed}: use an integer from 0 to {2**32 - 1}.")
    resolve_device(device)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


@dataclass
class TrainConfig:
    epochs: int = 300
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-4
    patience: int = 30  # epochs without validation improvement before stopping
    device: str = "auto"
    seed: int = 0
    progress: bool = True
    description: str = "training"


@dataclass
class History:
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0
    device: str = "cpu"
    mixed_precision: bool = False


def fit(model: nn.Module, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor],
        config: TrainConfig,
        augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None) -> History:
    """Train `model` in place; keep the weights of the best validation epoch.

    The loss takes the model's output and the target, so the same loop serves classifiers
    and regressors alike. The model ends on the CPU in eval mode, so what is saved and exported never depends on
    where it was trained.
    """
    device = resolve_device(config.device)
    seed_everything(config.seed)
    amp = device.type == "cuda"
    model.to(device)
    x_train, y_train = (t.to(device) for t in train)
    x_val, y_val = (t.to(device) for t in val)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    generator = torch.Generator(device="cpu").manual_seed(config.seed)
    history = History(device=device.type, mixed_precision=amp)
    best_loss, best_state, stale = float("inf"), copy.deepcopy(model.state_dict()), 0

    bar = tqdm(range(config.epochs), desc=config.description, disable=not config.progress,
               leave=False, unit="epoch")
    for epoch in bar:
        model.train()
        order = torch.randperm(len(x_train), generator=generator).to(device)
        epoch_loss = 0.0
        for start in range(0, len(order), config.batch_size):
            idx = order[start:start + config.batch_size]
            xb = x_train[idx] if augment is None else augment(x_train[idx], generator)
            with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                output = model(xb)
            # The loss runs in float32: autocast refuses probability losses such as BCE.
            loss = loss_fn(output.float(), y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            epoch_loss += loss.item() * len(idx)
        val_loss = evaluate_loss(model, loss_fn, x_val, y_val, amp)
        history.train_loss.append(epoch_loss / len(order))
        history.val_loss.append(val_loss)
        bar.set_postfix(train=f"{history.train_loss[-1]:.4f}", val=f"{val_loss:.4f}")
        if val_loss < best_loss - 1e-6:
            best_loss, best_state, stale = val_loss, copy.deepcopy(model.state_dict()), 0
            history.best_epoch = epoch
        else:
            stale += 1
            if stale >= config.patience:
                break
    model.load_state_dict(best_state)
    model.to("cpu").eval()
    return history


@torch.no_grad()
def evaluate_loss(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, amp: bool,
                  batch_size: int = 1024) -> float:
    model.eval()
    total = 0.0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        with torch.autocast(x.device.type, dtype=torch.float16, enabled=amp):
            output = model(xb)
        total += loss_fn(output.float(), yb).item() * len(xb)
    return total / len(x)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> np.ndarray:
    model.eval()
    return torch.cat([model(x[s:s + batch_size]) for s in range(0, len(x), batch_size)]).numpy()
