"""The trained-model folder: written atomically, read back without unpickling anything.

Every model folder holds:
  model.safetensors   weights (safetensors: loading can never execute code)
  model.json          {"config": <the model's config()>} to rebuild the module
  schema.json         inputs, outputs, ranges, classes: the contract with export/ and the app
  metrics.json        evaluation figures
  test_set.npz        the held-out inputs ("x") and targets ("y"), for parity checks
plus plots and tables.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from safetensors.torch import load_file, save_file
from torch import nn

from pocketml.errors import UserError
from pocketml.train.models import build_model

WEIGHTS = "model.safetensors"
MODEL_JSON = "model.json"
SCHEMA = "schema.json"
METRICS = "metrics.json"
TEST_SET = "test_set.npz"
CALIBRATION = "calibration.npz"  # training inputs, for full-integer quantization


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a temporary folder beside `target`; on success it replaces `target` whole.

    A failure anywhere inside leaves `target` as it was (absent or the previous run's) and
    removes the temporary folder, so no half-written model folder is ever left behind.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old)
        else:
            tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file under a temporary name and rename it, so readers never see half of it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    tmp.replace(path)


def write_json(path: Path, data: dict) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())


def read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: missing. Is {Path(path).parent} a model folder written by "
                        "`pocketml train`?") from None
    except json.JSONDecodeError as err:
        raise UserError(f"{path} line {err.lineno}: not valid JSON ({err.msg}).") from None


def save_model(model: nn.Module, folder: Path) -> None:
    # contiguous(): safetensors refuses views that share storage.
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(Path(folder) / WEIGHTS))
    write_json(Path(folder) / MODEL_JSON, {"config": model.config()})


def load_model(folder: Path) -> nn.Module:
    folder = Path(folder)
    config = read_json(folder / MODEL_JSON)["config"]
    if not (folder / WEIGHTS).is_file():
        raise UserError(f"{folder / WEIGHTS}: missing. Train the model first (`pocketml train`).")
    model = build_model(config)
    model.load_state_dict(load_file(str(folder / WEIGHTS)))
    return model.eval()


def save_arrays(folder: Path, name: str, **arrays: np.ndarray) -> None:
    np.savez(Path(folder) / name, **arrays)


def load_arrays(folder: Path, name: str) -> dict[str, np.ndarray]:
    with np.load(Path(folder) / name, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def save_test_set(folder: Path, x: np.ndarray, y: np.ndarray) -> None:
    save_arrays(folder, TEST_SET, x=x.astype(np.float32), y=y)


def load_test_set(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    arrays = load_arrays(folder, TEST_SET)
    return arrays["x"], arrays["y"]
