"""manifest.json: every file of a model folder with its sha256 and size, the library versions
that made them, the seed and the data's checksum. Verification starts here, so a changed,
missing or extra model file is refused before anything runs it."""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

from pocketml.errors import IntegrityError
from pocketml.train.artifacts import read_json, write_json

MANIFEST = "manifest.json"
MODEL_SUFFIXES = {".onnx", ".tflite", ".safetensors"}
# Reports rewritten by every `verify` and `bench`: listing them would make the manifest stale.
UNLISTED = {MANIFEST, "parity.json", "parity.md", "bench.json", "bench.md"}
LIBRARIES = ("torch", "onnx", "onnxruntime", "onnxscript", "litert-torch", "ai-edge-litert",
             "ai-edge-quantizer", "tensorflow-cpu", "scikit-learn", "imbalanced-learn", "numpy")


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
                  if p.is_file() and p.name not in UNLISTED and not p.name.startswith("."))


def write_manifest(folder: Path, seed: int | None, data_sha256: str | None,
                   files: list[Path] | None = None) -> dict:
    folder = Path(folder)
    manifest = {
        "format": "pocketml-manifest/1",
        "files": {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
                  for p in (files if files is not None else listed_files(folder))},
        "versions": library_versions(),
        "seed": seed,
        "data_sha256": data_sha256,
    }
    write_json(folder / MANIFEST, manifest)
    return manifest


def check_manifest(folder: Path) -> dict:
    """Raise IntegrityError naming every changed, missing or extra model file."""
    folder = Path(folder)
    if not (folder / MANIFEST).is_file():
        raise IntegrityError(f"{folder / MANIFEST}: missing. Run `pocketml export {folder}` "
                             "to write the files and their manifest.")
    manifest = read_json(folder / MANIFEST)
    problems = []
    for name, entry in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: listed in the manifest but missing")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"{name}: sha256 {sha256_file(path)[:16]}… does not match the "
                            f"manifest's {entry['sha256'][:16]}… (changed or swapped)")
    for path in listed_files(folder):
        if path.suffix in MODEL_SUFFIXES and path.name not in manifest["files"]:
            problems.append(f"{path.name}: a model file the manifest does not list")
    if problems:
        raise IntegrityError(f"{folder}: the files do not match {MANIFEST}:\n  "
                             + "\n  ".join(problems)
                             + f"\nRe-export with `pocketml export {folder}` if the change is yours.")
    return manifest
