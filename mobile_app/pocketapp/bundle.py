"""Open the model bundle (model.tflite, model.onnx, schema.json, manifest.json) and refuse it
unless every file the manifest lists is present with the size and sha256 it records.

A damaged download, a truncated copy or a model file swapped for another would otherwise give
plausible-looking but wrong probabilities; the app shows this module's message instead."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from pocketapp.form import FormSpec, SchemaError

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "pocketml-manifest/1"
REQUIRED = ("model.tflite", "schema.json")  # what every platform needs; ONNX is a desktop fallback


class BundleError(Exception):
    """The bundle is missing, damaged or not one this app understands. Shown on screen."""


@dataclass(frozen=True)
class Bundle:
    folder: Path
    form: FormSpec
    manifest: dict

    def path(self, name: str) -> Path:
        return self.folder / name


def open_bundle(folder: Path) -> Bundle:
    folder = Path(folder)
    manifest = _read_json(folder / MANIFEST)
    if manifest.get("format") != MANIFEST_FORMAT or not isinstance(manifest.get("files"), dict):
        raise BundleError(f"{folder / MANIFEST} is not a pocketml manifest.")
    check_files(folder, manifest["files"])
    try:
        form = FormSpec(_read_json(folder / "schema.json"))
    except SchemaError as err:
        raise BundleError(f"{folder / 'schema.json'}: {err}") from None
    return Bundle(folder, form, manifest)


def check_files(folder: Path, listed: dict) -> None:
    unlisted = [name for name in REQUIRED if name not in listed]
    if unlisted:
        raise BundleError(f"the manifest does not list {', '.join(unlisted)}: "
                          "the bundle is incomplete. Rebuild it with `pocketml bundle`.")
    for name, entry in listed.items():
        path = folder / name
        if not path.is_file():
            raise BundleError(f"{name} is missing from the model bundle ({folder}).")
        data = path.read_bytes()
        if len(data) != entry.get("bytes") or hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            raise BundleError(f"{name} does not match its checksum in the manifest: the file "
                              "is damaged or was replaced. The model was not loaded. Reinstall "
                              "the app or rebuild the bundle with `pocketml bundle`.")


def _read_json(path: Path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"no model bundle: {path} is missing. Run `pocketml all` "
                          "(or `pocketml bundle`) to put one in mobile_app/model.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BundleError(f"{path} cannot be read ({err}).") from None
    if not isinstance(document, dict):
        raise BundleError(f"{path} is not a JSON object.")
    return document
