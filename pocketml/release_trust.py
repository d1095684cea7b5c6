"""A release build exists only signed: before `pocketml apk --release` looks for a single SDK
tool, the app folder must pin a trusted key (trusted_signer.pem and the sha256 of it in
pocketapp/build_trust.py, both written by `pocketml keygen KEY --app mobile_app`) and its
bundle must be signed by that key. An unpinned release app runs in unsigned mode and accepts any
bundle whose manifest is consistent, a schema with swapped yes/no columns included.

The bundle is opened by the app's own code (pocketapp/bundle.py and signature.py), so what is
refused here is exactly what the phone would refuse."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pocketml.folder.errors import UserError
from pocketml.pocketapp.bundle import BundleError, open_bundle
from pocketml.pocketapp.signature import PIN_MODULE, TRUSTED_SIGNER, fingerprint, key_sha256

HOW = ("A release app must trust a pinned key and carry a bundle signed by it: pin your key "
       "with `pocketml keygen KEY --app mobile_app` (once), then sign the bundle with "
       "`pocketml all --sign KEY` (or `pocketml bundle artifacts/kidney --sign KEY`), and build "
       "again (README, \"Release builds\").")


def pin_file(app: Path) -> Path:
    return Path(app) / "pocketapp" / f"{PIN_MODULE}.py"


def pinned_sha256(app: Path) -> str | None:
    """TRUSTED_KEY_SHA256 of the app folder's own pin module (not the one this process may have
    imported), or None when the folder has none."""
    path = pin_file(app)
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"release_pin_{PIN_MODULE}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, "TRUSTED_KEY_SHA256", None)


def check_release_trust(app: Path, bundle: Path) -> str:
    """The fingerprint of the key the release app will trust; UserError (exit 2) naming what
    is missing and `pocketml keygen --app` / `--sign` otherwise."""
    pem_path = Path(app) / TRUSTED_SIGNER
    pinned = pinned_sha256(app)
    if not pem_path.is_file() or pinned is None:
        absent = [str(p) for p, present in ((pem_path, pem_path.is_file()),
                                            (pin_file(app), pinned is not None)) if not present]
        raise UserError(f"no trusted key is pinned in the app ({' and '.join(absent)} missing), "
                        f"so a release build would accept any bundle. {HOW}")
    key = pem_path.read_bytes()
    if key_sha256(key) != pinned:
        raise UserError(f"{pem_path} is key {fingerprint(key)}, but {pin_file(app)} pins key "
                        f"{pinned[:16]}: the two were not written together. {HOW}")
    try:
        return open_bundle(bundle, key).signer
    except BundleError as err:
        reason = " ".join(str(err).split())
        raise UserError(f"the bundle in {bundle} is not one the release app would load: "
                        f"{reason} {HOW}") from None
