"""`pocketml keygen` and `pocketml bundle --sign KEY`: Ed25519 keys and manifest signatures
(the `cryptography` package), checked by the app with pocketapp/signature.py."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from pocketml.folder.errors import UserError
from pocketml.folder.new_files import NewFile, write_all_or_nothing
from pocketml.pocketapp.contract import MANIFEST, SIGNATURE
from pocketml.pocketapp.signature import (ALGORITHM, PIN_MODULE, TRUSTED_SIGNER,
                                          fingerprint, key_sha256)
from pocketml.folder.artifacts import atomic_write_bytes


def public_key_path(private_key: Path) -> Path:
    return Path(private_key).with_name(Path(private_key).stem + ".pub.pem")


def generate_key_pair(private_key: Path, app_dir: Path | None, log=print) -> str:
    """Write a new private key (mode 0600) and its public key beside it, and build the public
    key into the app folder as the signer it trusts (the .pem and its sha256 pinned in the
    app's code); the key's fingerprint."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private_key, public_key = Path(private_key), public_key_path(private_key)
    targets = [private_key, public_key] + ([Path(app_dir) / TRUSTED_SIGNER, pin_module(app_dir)]
                                           if app_dir else [])
    existing = [str(p) for p in targets if p.exists() or p.is_symlink()]
    if existing:
        raise UserError(f"{', '.join(existing)} already exist(s); pocketml never overwrites a "
                        "key. Choose another path, or move the old key away first.")
    if app_dir is not None and not (Path(app_dir) / "main.py").is_file():
        raise UserError(f"--app {app_dir}: not the app folder (no main.py there); give the "
                        "mobile_app folder the public key should be built into.")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    files = [NewFile(private_key, private_pem, 0o600), NewFile(public_key, public_pem)]
    if app_dir is not None:
        files += [NewFile(targets[2], public_pem),
                  NewFile(pin_module(app_dir), pin_source(public_pem).encode())]
    write_all_or_nothing(files, "the key pair" + (" and the app's copy" if app_dir else ""))
    log(f"wrote {private_key} (private: keep it secret, never commit it) and {public_key}; "
        + (f"the app in {app_dir} now accepts only bundles signed by key "
           f"{fingerprint(public_pem)}" if app_dir else f"key {fingerprint(public_pem)}"))
    return fingerprint(public_pem)


def pin_module(app_dir: Path) -> Path:
    return Path(app_dir) / "pocketapp" / f"{PIN_MODULE}.py"


def pin_source(public_pem: bytes) -> str:
    """The app module that fixes which key the app trusts (pocketapp/signature.py reads it)."""
    return (f'"""Written by `pocketml keygen --app`: this app build trusts only bundles signed by '
            f'key {fingerprint(public_pem)},\nwhose {TRUSTED_SIGNER} must be beside main.py '
            f'with exactly this sha256."""\n\nTRUSTED_KEY_SHA256 = "{key_sha256(public_pem)}"\n')


def load_private_key(path: Path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(Path(path).read_bytes(), password=None)
    except FileNotFoundError:
        raise UserError(f"--sign {path}: no such key file; make one with `pocketml keygen`.") from None
    except (ValueError, TypeError) as err:
        raise UserError(f"--sign {path}: not an unencrypted PEM private key ({err}); make one "
                        "with `pocketml keygen`.") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UserError(f"--sign {path}: not an Ed25519 key; make one with `pocketml keygen`.")
    return key


def public_key_pem(key) -> bytes:
    """The PEM public key of a private key: what a folder it signed must be trusted with."""
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def sign_manifest(folder: Path, key) -> str:
    """Sign the exact bytes of folder/manifest.json; the signer's fingerprint."""
    signature = key.sign((Path(folder) / MANIFEST).read_bytes())
    document = {"algorithm": ALGORITHM, "key": fingerprint(public_key_pem(key)),
                "signature": base64.b64encode(signature).decode("ascii")}
    atomic_write_bytes(Path(folder) / SIGNATURE, (json.dumps(document, indent=2) + "\n").encode())
    return document["key"]
