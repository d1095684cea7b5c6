"""Who made the bundle, not only whether it is intact.

The sha256 list in manifest.json proves that the files are the ones listed, but anyone who can
edit the folder can rewrite the list too. `pocketml bundle --sign KEY` therefore signs the exact
bytes of manifest.json with an Ed25519 key (manifest.sig); an app build that carries the
matching public key (trusted_signer.pem beside main.py) refuses any bundle whose signature does
not verify, so a re-written manifest, a re-signed one or an unsigned one is never loaded.

One verifier on every platform: the `cryptography` package (pip on desktops, the
python-for-android recipe on Android, the kivy-ios recipe on iOS). It is imported only when a
key is configured, so unsigned use needs nothing beyond the app itself."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

SIGNATURE = "manifest.sig"
ALGORITHM = "ed25519"
TRUSTED_SIGNER = "trusted_signer.pem"  # beside main.py: packaged into the app build


class SignatureError(Exception):
    """The bundle is not signed by the key this app trusts."""


def fingerprint(public_key_pem: bytes) -> str:
    """A short name for a public key, shown in the app's footer and in error messages."""
    return hashlib.sha256(public_key_pem.strip()).hexdigest()[:16]


def trusted_key(app_dir: Path) -> bytes | None:
    """The public key this app build trusts: $POCKETML_TRUSTED_SIGNER (desktop runs and tests),
    else trusted_signer.pem in the app folder; None when there is neither (unsigned mode)."""
    path = Path(os.environ.get("POCKETML_TRUSTED_SIGNER") or Path(app_dir) / TRUSTED_SIGNER)
    return path.read_bytes() if path.is_file() else None


def check_signature(folder: Path, manifest_bytes: bytes, trusted_key: bytes | None) -> str | None:
    """The trusted key's fingerprint when the bundle is signed by it; None when this app trusts
    no key (unsigned mode). SignatureError in every other case."""
    if trusted_key is None:
        return None
    expected = fingerprint(trusted_key)
    path = Path(folder) / SIGNATURE
    if not path.is_file() or path.is_symlink():
        raise SignatureError(f"this app accepts only bundles signed by key {expected}, and this "
                             f"bundle is unsigned (no {SIGNATURE}). Sign it with "
                             "`pocketml bundle --sign KEY`.")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        signature = base64.b64decode(document["signature"], validate=True)
        algorithm, signer = document["algorithm"], document["key"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise SignatureError(f"{path} is not a pocketml signature.") from None
    if algorithm != ALGORITHM or signer != expected:
        raise SignatureError(f"the bundle is signed by key {signer}, not by key {expected} "
                             "that this app trusts.")
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from cryptography.hazmat.primitives.serialization import load_pem_public_key
    except ImportError:
        raise SignatureError("a signing key is configured but the `cryptography` package is "
                             "missing, so the signature cannot be checked.") from None
    try:
        key = load_pem_public_key(trusted_key)
    except ValueError:
        raise SignatureError("the app's trusted key is not a PEM public key.") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError("the app's trusted key is not an Ed25519 key.")
    try:
        key.verify(signature, manifest_bytes)
    except InvalidSignature:
        raise SignatureError(f"the signature in {SIGNATURE} does not match manifest.json: the "
                             "manifest was changed after it was signed.") from None
    return expected
