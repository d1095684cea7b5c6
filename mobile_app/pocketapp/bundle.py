"""Open the model bundle (model.tflite, model.onnx, schema.json, manifest.json) and refuse it
unless every file the manifest lists is a plain file inside the bundle with the size and sha256
it records, the bundle holds nothing else (an extra file, a folder, a link), the schema makes
sense, and, where the app carries a trusted signer's key, the
manifest is signed by that key.

A damaged download, a truncated copy or a model file swapped for another would otherwise give
plausible-looking but wrong probabilities; the app shows this module's message instead.
`pocketml verify` and `pocketml bundle` run the same checks on the desktop (check_listing,
check_nothing_unlisted)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .contract import MANIFEST, MANIFEST_FORMAT, REQUIRED, SCHEMA, SIGNATURE
from .form import FormSpec, SchemaError
from .kinds import spec_for
from .signature import SignatureError, check_signature


class BundleError(Exception):
    """The bundle is missing, damaged or not one this app understands. Shown on screen."""


@dataclass(frozen=True)
class Bundle:
    folder: Path
    form: FormSpec
    manifest: dict
    signer: str | None  # the trusted key's fingerprint when the signature was checked

    def path(self, name: str) -> Path:
        return self.folder / name


def open_bundle(folder: Path, trusted_key: bytes | None = None,
                unlisted=(MANIFEST, SIGNATURE)) -> Bundle:
    """`trusted_key`: the PEM public key this app build trusts; None accepts unsigned bundles.
    `unlisted`: the names the folder may hold besides what its manifest lists (a model folder,
    read by `pocketml explain`, also holds the reports `verify` rewrites)."""
    folder = Path(folder)
    manifest_bytes = _read_bytes(folder / MANIFEST)
    manifest = _parse_json(folder / MANIFEST, manifest_bytes)
    check_listing(folder, manifest)
    absent = [name for name in REQUIRED if name not in manifest["files"]]
    if absent:
        raise BundleError(f"the manifest does not list {', '.join(absent)}: "
                          "the bundle is incomplete. Rebuild it with `pocketml bundle`.")
    check_nothing_unlisted(folder, manifest, unlisted)
    try:
        signer = check_signature(folder, manifest_bytes, trusted_key)
    except SignatureError as err:
        raise BundleError(f"{err} The model was not loaded.") from None
    schema_path = folder / SCHEMA
    try:
        form = spec_for(_parse_json(schema_path, _read_bytes(schema_path)))
    except SchemaError as err:
        raise BundleError(f"{schema_path}: {err}") from None
    return Bundle(folder, form, manifest, signer)


def check_listing(folder: Path, manifest) -> None:
    """Every listed file is a plain file inside `folder`, with the size and sha256 recorded.
    BundleError naming each problem otherwise."""
    if (not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT
            or not isinstance(manifest.get("files"), dict)):
        raise BundleError(f"{Path(folder) / MANIFEST} is not a pocketml manifest (it needs "
                          f"\"format\": \"{MANIFEST_FORMAT}\" and a \"files\" table).")
    problems = [problem for name, entry in manifest["files"].items()
                if (problem := _file_problem(Path(folder), name, entry))]
    if problems:
        raise BundleError(f"{folder}: the files do not match {MANIFEST}:\n  "
                          + "\n  ".join(problems) + "\nThe files were not used.")


def check_nothing_unlisted(folder: Path, manifest: dict, allowed) -> None:
    """Nothing in `folder` but the files `manifest` lists and the `allowed` names: an extra
    file or link (to /etc, say) could be read by whatever trusts the folder. BundleError naming
    each one otherwise."""
    listed = set(manifest["files"]) | set(allowed)
    extra = sorted(p.name + ("/" if p.is_dir() and not p.is_symlink() else "")
                   for p in Path(folder).iterdir()
                   if p.name not in listed or p.is_symlink() or p.is_dir())
    if extra:
        raise BundleError(f"{folder}: the files do not match {MANIFEST}:\n  "
                          + "\n  ".join(f"{name}: not listed in the manifest (an extra file, "
                                         "folder or link); refused" for name in extra)
                          + "\nThe files were not used.")


def _file_problem(folder: Path, name: str, entry) -> str | None:
    if not plain_name(name):
        return (f"{name!r}: not a plain file name inside the folder (a path, '..', or an "
                "absolute name); refused")
    if (not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str)
            or not isinstance(entry.get("bytes"), int)):
        return f"{name}: its entry is not {{\"sha256\": \"...\", \"bytes\": N}}"
    path = folder / name
    if path.is_symlink():
        return f"{name}: a symbolic link; a bundle holds real files only"
    if not path.is_file():
        return f"{name} is missing: the manifest lists it"
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != entry["bytes"] or digest != entry["sha256"]:
        return (f"{name} does not match its checksum in the manifest (sha256 {digest[:12]}…, "
                f"{len(data)} bytes; listed {entry['sha256'][:12]}…, {entry['bytes']} bytes): "
                "the file is damaged or was replaced")
    return None


def plain_name(name) -> bool:
    """A file name with no folder part: never '..', '/etc/passwd' or 'a/b'."""
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name
            and "\\" not in name and "\0" not in name)


def _read_bytes(path: Path) -> bytes:
    if path.is_symlink():
        raise BundleError(f"{path} is a symbolic link; a bundle holds real files only.")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BundleError(f"no model bundle: {path} is missing. Run `pocketml all` "
                          "(or `pocketml bundle`) to put one in mobile_app/model.") from None
    except OSError as err:
        raise BundleError(f"{path} cannot be read ({err}).") from None


def _parse_json(path: Path, data: bytes) -> dict:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BundleError(f"{path} cannot be read ({err}).") from None
    if not isinstance(document, dict):
        raise BundleError(f"{path} is not a JSON object.")
    return document
