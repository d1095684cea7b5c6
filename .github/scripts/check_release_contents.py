"""What is inside a built release APK or AAB: the pinned key, the pin, and a bundle signed by it.

python-for-android packs the app folder into a gzip'd tar, assets/private.tar (base/assets/ in
an AAB), after byte-compiling it with `compileall -b` and leaving the .py files out
(pythonforandroid/bootstraps/common/build/build.py: make_tar, compile_dir, BLACKLIST_PATTERNS),
so the pin is pocketapp/build_trust.pyc there, holding the key's sha256 as a string constant.
The bundle is opened by the app's own code (mobile_app/pocketapp/bundle.py, signature.py):
every file against the manifest, the manifest against manifest.sig, with the packaged key.

    python .github/scripts/check_release_contents.py BUILT.apk BUILT.aab"""

from __future__ import annotations

import io
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "mobile_app"
sys.path.insert(0, str(APP))
from pocketapp.bundle import BundleError, open_bundle  # noqa: E402
from pocketapp.signature import PIN_MODULE, TRUSTED_SIGNER, key_sha256  # noqa: E402

PRIVATE_TAR = ("assets/private.tar", "base/assets/private.tar")  # APK, AAB
BUNDLE = "model"


class NotSigned(Exception):
    """The package lacks the pinned key, the pin or a bundle signed by it."""


def private_tar(package: Path) -> tarfile.TarFile:
    with zipfile.ZipFile(package) as archive:
        names = [name for name in PRIVATE_TAR if name in archive.namelist()]
        if not names:
            raise NotSigned(f"{package}: no {' or '.join(PRIVATE_TAR)}, so no app inside")
        data = archive.read(names[0])
    return tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")


def check_package(package: Path) -> str:
    """The fingerprint of the key the packaged app trusts and its bundle is signed by."""
    with private_tar(package) as tar, tempfile.TemporaryDirectory() as scratch:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        pins = [f"pocketapp/{PIN_MODULE}.{ext}" for ext in ("pyc", "py") if
                f"pocketapp/{PIN_MODULE}.{ext}" in members]
        wanted = [TRUSTED_SIGNER, f"{BUNDLE}/manifest.json", f"{BUNDLE}/manifest.sig"]
        absent = [name for name in wanted if name not in members] + (
            [] if pins else [f"pocketapp/{PIN_MODULE}.pyc"])
        if absent:
            raise NotSigned(f"{package}: {', '.join(absent)} not in the app: build it after "
                            "`pocketml keygen KEY --app mobile_app` and `pocketml all --sign KEY`")
        key = tar.extractfile(members[TRUSTED_SIGNER]).read()
        if key_sha256(key).encode() not in tar.extractfile(members[pins[0]]).read():
            raise NotSigned(f"{package}: {pins[0]} does not pin the packaged {TRUSTED_SIGNER}")
        tar.extractall(scratch, members=[m for name, m in members.items()
                                         if name.startswith(f"{BUNDLE}/")], filter="data")
        try:
            return open_bundle(Path(scratch) / BUNDLE, key).signer
        except BundleError as err:
            raise NotSigned(f"{package}: the app would refuse its own bundle: {err}") from None


def main(packages: list[str]) -> int:
    try:
        for package in packages:
            print(f"{package}: pins key {check_package(Path(package))} and its bundle is "
                  "signed by it (checked by the app's own verifier)")
    except NotSigned as err:
        print(f"::error::{err}")
        return 1
    return 0 if packages else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
