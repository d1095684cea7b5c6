"""Who made the bundle, not only whether it is intact.

The sha256 list in manifest.json proves that the files are the ones listed, but anyone who can
edit the folder can rewrite the list too. `pocketml bundle --sign KEY` therefore signs the exact
bytes of manifest.json with an Ed25519 key (manifest.sig), and an app built with a key refuses
any bundle whose signature does not verify: a re-written manifest, a re-signed one or an
unsigned one is never loaded.

Which key an app trusts is part of its code, not only of its files: `pocketml keygen --app`
writes the key's sha256 into pocketapp/build_trust.py beside trusted_signer.pem, so replacing or
deleting the .pem in an installed app's folder is refused, not obeyed. POCKETML_TRUSTED_SIGNER
names another public key for desktop runs (`pocketml app`, the tests); phones never read it.

One verifier on every platform: `ecdsa`'s RFC 8032 Ed25519, pure Python, so the same code
installs through buildozer's requirements and kivy-ios's `toolchain pip install` (kivy-ios has
no `cryptography` recipe, python-for-android's needs Rust). Signing stays with `cryptography` on
the desktop (pocketml/folder/signing.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from .contract import MANIFEST, SIGNATURE

ALGORITHM = "ed25519"
TRUSTED_SIGNER = "trusted_signer.pem"  # beside main.py: packaged into the app build
PIN_MODULE = "build_trust"  # pocketapp/build_trust.py, written by `pocketml keygen --app`
OVERRIDE = "POCKETML_TRUSTED_SIGNER"  # desktop only


class SignatureError(Exception):
    """The bundle is not signed by the key this app trusts."""


def key_sha256(public_key_pem: bytes) -> str:
    return hashlib.sha256(public_key_pem.strip()).hexdigest()


def fingerprint(public_key_pem: bytes) -> str:
    """A short name for a public key, shown in the app's footer and in error messages."""
    return key_sha256(public_key_pem)[:16]


def pinned_key_sha256() -> str | None:
    """The sha256 of the key this app was built to trust; None for an app built without one."""
    try:
        from . import build_trust
    except ImportError:
        return None
    return build_trust.TRUSTED_KEY_SHA256


def trusted_key(app_dir: Path, platform: str) -> bytes | None:
    """The public key this app trusts, or None (unsigned mode) for an app built without one.

    On a desktop $POCKETML_TRUSTED_SIGNER, when set, names it. Otherwise it is trusted_signer.pem
    beside main.py, which must be the key pinned in the code (pocketapp/build_trust.py).
    SignatureError when the file is missing, another key, or present without a pin."""
    override = os.environ.get(OVERRIDE) if platform == "desktop" else None
    if override:
        try:
            return Path(override).read_bytes()
        except OSError as err:
            raise SignatureError(f"{OVERRIDE}={override} cannot be read ({err}).") from None
    pinned = pinned_key_sha256()
    path = Path(app_dir) / TRUSTED_SIGNER
    present = path.is_file() and not path.is_symlink()
    if pinned is None:
        if present:
            raise SignatureError(f"{TRUSTED_SIGNER} is in the app, but the app was not built to "
                                 f"trust a key (no pocketapp/{PIN_MODULE}.py), so it would be a "
                                 "key anyone can swap. Put the key in with `pocketml keygen KEY "
                                 "--app mobile_app` and build the app again.")
        return None
    if not present:
        raise SignatureError(f"this app was built to trust only key {pinned[:16]}, and its "
                             f"{TRUSTED_SIGNER} is missing: the app's files were changed. "
                             "Reinstall the app.")
    key = path.read_bytes()
    if key_sha256(key) != pinned:
        raise SignatureError(f"this app was built to trust only key {pinned[:16]}, and its "
                             f"{TRUSTED_SIGNER} is key {fingerprint(key)}: the app's files were "
                             "changed. Reinstall the app.")
    return key


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
    if not verify_ed25519(trusted_key, signature, manifest_bytes):
        raise SignatureError(f"the signature in {SIGNATURE} does not match {MANIFEST}: the "
                             "manifest was changed after it was signed.")
    return expected


def verify_ed25519(public_key_pem: bytes, signature: bytes, message: bytes) -> bool:
    """Whether `signature` is the RFC 8032 Ed25519 signature of `message` by this PEM public key
    (SubjectPublicKeyInfo, as `pocketml keygen` writes it). SignatureError if the key is not an
    Ed25519 public key."""
    try:
        from ecdsa import Ed25519, VerifyingKey
        from ecdsa.der import UnexpectedDER
        from ecdsa.errors import MalformedPointError
        from ecdsa.keys import BadSignatureError
    except ImportError:
        raise SignatureError("a signing key is configured but the `ecdsa` package is missing, "
                             "so the signature cannot be checked.") from None
    try:
        key = VerifyingKey.from_pem(public_key_pem)
    except (UnexpectedDER, MalformedPointError, ValueError):
        raise SignatureError("the app's trusted key is not a PEM public key.") from None
    if key.curve != Ed25519:
        raise SignatureError("the app's trusted key is not an Ed25519 key.")
    try:
        return key.verify(signature, message)
    except (BadSignatureError, MalformedPointError, ValueError):
        return False  # a wrong length, an S above the group order, an R off the curve
