"""manifest.json: every file of a folder pocketml wrote, with its sha256 and size, the library
versions that made them, the seed, the optimizer and the data's checksum. It is also how
pocketml recognises its own folders (pocketml/folder/replace.py). Verification starts here, so a
changed or missing file, anything the manifest does not list (an extra file, a subfolder, a
link), a name that points outside the folder, or a symbolic link is refused before anything
reads or runs it."""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

from pocketml.folder.errors import IntegrityError
from pocketml.folder.artifacts import METRICS, write_json
from pocketml.pocketapp.bundle import BundleError, check_listing, check_nothing_unlisted
from pocketml.pocketapp.contract import MANIFEST, MANIFEST_FORMAT, SIGNATURE

# What pocketml writes into its folders without listing it in the manifest: the manifest, its
# signature, and the reports every `verify` and `bench` rewrites (listing them would make the
# manifest stale).
UNLISTED = frozenset({MANIFEST, SIGNATURE, "parity.json", "parity.md", "bench.json", "bench.md"})

LIBRARIES = ("torch", "onnx", "onnxruntime", "onnxscript", "litert-torch", "ai-edge-litert",
             "ai-edge-quantizer", "executorch", "tensorflow-cpu", "scikit-learn",
             "imbalanced-learn", "numpy")


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def listed_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir()
                  if p.is_file() and not p.is_symlink() and p.name not in UNLISTED
                  and not p.name.startswith("."))


PROVENANCE = ("seed", "optimizer", "data_sha256")  # the manifest's keys from metrics.json


def provenance_of(folder: Path) -> dict:
    """The seed, the optimizer (name, learning rate, settings) and the data checksum a
    trained folder's metrics.json records (None where it records none)."""
    try:
        metrics = json.loads((Path(folder) / METRICS).read_text())
    except (OSError, ValueError):
        metrics = {}
    metrics = metrics if isinstance(metrics, dict) else {}
    training, data = metrics.get("training"), metrics.get("data")
    training = training if isinstance(training, dict) else {}
    return {"seed": training.get("seed"), "optimizer": training.get("optimizer"),
            "data_sha256": data.get("sha256") if isinstance(data, dict) else None}


def write_manifest(folder: Path, files: list[Path] | None = None,
                   provenance: dict | None = None) -> dict:
    folder = Path(folder)
    manifest = {
        "format": MANIFEST_FORMAT,
        "files": {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
                  for p in (files if files is not None else listed_files(folder))},
        "versions": library_versions(),
        **(provenance if provenance is not None else provenance_of(folder)),
    }
    write_json(folder / MANIFEST, manifest)
    return manifest


def check_manifest(folder: Path) -> dict:
    """The manifest, or IntegrityError naming every changed, missing, extra or unsafe file."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise IntegrityError(f"{path}: missing. Run `pocketml export {folder}` "
                             "to write the files and their manifest.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        check_listing(folder, manifest)
        check_nothing_unlisted(folder, manifest, UNLISTED)
    except (UnicodeDecodeError, ValueError) as err:
        raise IntegrityError(f"{path}: not valid JSON ({err}). Re-export with "
                             f"`pocketml export {folder}`.") from None
    except BundleError as err:
        raise IntegrityError(f"{err} Re-export with `pocketml export {folder}` if the "
                             "files are yours.") from None
    return manifest
