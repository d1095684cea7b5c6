"""Before any arm64 row, the environment checks itself: a damaged cache must never be reported
as the model failing (parity: FAILED) nor overwrite a previous report, and a build that cannot
succeed (a full disk, no way to reach the package index) must fail at once, not hang in
apt-get.

`damage` names what is wrong with a built environment's folder (a runtime removed, the guest
Python emptied, only the ready marker left, a file where a folder belongs); the caller refuses
with the command that rebuilds it."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from urllib.parse import urlsplit

from pocketml.folder.errors import UserError

# The environment folder (262 MB) and the .deb files apt keeps (35 MB), with room to unpack.
SPACE_NEEDED = 400_000_000
REACH_SECONDS = 10


def damage(folder: Path, guest_python: str, packages: list[str]) -> str | None:
    """What is missing or wrong in a built environment; None when it is whole."""
    for name in ("debian", "site-packages", "cpus"):
        path = folder / name
        if path.exists() and not path.is_dir():
            return f"{name} is a file where a folder belongs"
    python = folder / "debian" / guest_python
    if not (folder / "debian").is_dir():
        return "the unpacked Debian packages (debian/) are missing"
    if not python.is_file() or python.stat().st_size == 0:
        return f"the guest Python (debian/{guest_python}) is missing or empty"
    for package in packages:
        path = folder / "site-packages" / package
        if not path.is_dir() or not any(path.iterdir()):
            return f"the aarch64 runtime {package} (site-packages/{package}) is missing"
    cpus = folder / "cpus"
    if cpus.is_dir():
        wrong = [p.name for p in cpus.iterdir() if not p.is_dir() or p.is_symlink()]
        if wrong:
            return f"cpus/{wrong[0]} is a file where a folder belongs"
    return None


def refuse_damaged(folder: Path, problem: str) -> None:
    raise UserError(f"arm64: the environment cached in {folder} is damaged: {problem}. That is "
                    "the cache, not the model, and no report was written. Rebuild it: "
                    f"rm -rf '{folder}', then run the command again with --arm64 (it builds "
                    "the environment anew, under a minute).")


def check_cache_root(root: Path) -> None:
    """POCKETML_CACHE (or the user cache) must be a folder, or a place one can be made."""
    existing = next(p for p in (root, *root.parents) if p.exists() or p.is_symlink())
    if not existing.is_dir():
        raise UserError(f"arm64: the cache folder {root} cannot be made: {existing} is a file. "
                        "Point POCKETML_CACHE at a folder (or unset it), then run again.")


def check_can_build(root: Path, sources: tuple[str, ...]) -> None:
    """Fail at once when building cannot succeed: too little space, or the package index
    unreachable (apt-get would wait on it, or fail half-way through the download)."""
    existing = next(p for p in (root, *root.parents) if p.exists())
    free = shutil.disk_usage(existing).free
    if free < SPACE_NEEDED:
        raise UserError(f"arm64: building the environment in {root} needs about "
                        f"{SPACE_NEEDED / 1e6:.0f} MB, and {free / 1e6:.0f} MB are free there. "
                        "Free some space (or point POCKETML_CACHE at a disk that has it), then "
                        "run again.")
    for source in sources:
        url = urlsplit(source.split()[0])
        try:
            socket.create_connection((url.hostname, url.port or 80), REACH_SECONDS).close()
        except OSError as err:
            raise UserError(f"arm64: building the environment downloads Debian's arm64 Python "
                            f"from {url.hostname}, which cannot be reached from here "
                            f"({err.strerror or err}). Connect this machine (or set "
                            "http_proxy), then run again; once built, the environment needs "
                            "no network.") from None
