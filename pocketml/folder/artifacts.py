"""The trained-model folder's files, read back without unpickling anything (pocketml/folder/replace.py
writes the folder as a whole).

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
import zipfile
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from pocketml.folder.errors import UserError
from pocketml.folder.architectures import build_model
from pocketml.pocketapp.contract import SCHEMA  # noqa: F401  (a model folder's name too)

WEIGHTS = "model.safetensors"
MODEL_JSON = "model.json"
METRICS = "metrics.json"
TEST_SET = "test_set.npz"
CALIBRATION = "calibration.npz"  # training inputs, for full-integer quantization


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
    """The module a folder's model.json and weights describe; UserError naming the file that
    is edited, truncated or from another model."""
    folder = Path(folder)
    document = read_json(folder / MODEL_JSON)
    config = document.get("config") if isinstance(document, dict) else None
    try:
        model = build_model(config)
    except (TypeError, ValueError, KeyError, AttributeError, RuntimeError) as err:
        raise UserError(f"{folder / MODEL_JSON}: not a model pocketml can rebuild ({err}); "
                        "it was edited or damaged. Train the model again.") from None
    if not (folder / WEIGHTS).is_file():
        raise UserError(f"{folder / WEIGHTS}: missing. Train the model first (`pocketml train`).")
    try:
        model.load_state_dict(load_file(str(folder / WEIGHTS)))
    except (SafetensorError, OSError) as err:
        raise UserError(f"{folder / WEIGHTS}: not a readable safetensors file ({err}); it is "
                        "empty, truncated or damaged. Train the model again.") from None
    except RuntimeError as err:
        first = str(err).strip().splitlines()[-1].strip()
        raise UserError(f"{folder / WEIGHTS}: these weights do not fit {MODEL_JSON} ({first}); "
                        "one of the two was edited or comes from another model.") from None
    return model.eval()


def save_arrays(folder: Path, name: str, **arrays: np.ndarray) -> None:
    np.savez(Path(folder) / name, **arrays)


def load_arrays(folder: Path, name: str, keys: tuple[str, ...] = ("x",)) -> dict[str, np.ndarray]:
    path = Path(folder) / name
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise UserError(f"{path}: missing. Train the model again to write it.") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        raise UserError(f"{path}: not a readable array file ({err}); it is truncated or "
                        "damaged. Train the model again.") from None
    missing = [key for key in keys if key not in arrays]
    if missing:
        raise UserError(f"{path}: lacks the arrays {', '.join(missing)}; it was not written by "
                        "pocketml. Train the model again.")
    return arrays


def save_test_set(folder: Path, x: np.ndarray, y: np.ndarray) -> None:
    save_arrays(folder, TEST_SET, x=x.astype(np.float32), y=y)


def load_test_set(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    arrays = load_arrays(folder, TEST_SET, keys=("x", "y"))
    return arrays["x"], arrays["y"]
