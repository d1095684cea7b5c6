"""Output folders that are never lost and never half-written.

Every folder pocketml writes (a model folder, an app bundle) holds a pocketml manifest, and
that is how pocketml recognises it. A command that writes a folder:

- refuses, before any work starts, a target it must not touch: a file, the current folder or
  one above it, a folder of the user's (not empty and not written by pocketml), a pocketml
  folder holding anything its manifest does not list (a user's notes, a subfolder: unless
  `--force`), a place it cannot write to;
- holds a lock on the target for the whole run, so two commands never interleave on it;
- removes what dead runs left beside or inside the target (it holds the lock, so no live run
  owns them), and restores the previous folder if a run died between the two renames of a swap;
- builds the new folder under a temporary name beside the target and swaps it in whole when
  everything (training, export, verification) is done; on any failure the previous folder
  stays as it was, and a full disk is one message naming the folder and the space it needs.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import platformdirs

from pocketml.folder.errors import UserError
from pocketml.folder.manifest import UNLISTED, write_manifest
from pocketml.pocketapp.contract import MANIFEST, MANIFEST_FORMAT, SIGNATURE

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def written_by_pocketml(folder: Path) -> bool:
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == MANIFEST_FORMAT


def listed_names(folder: Path) -> set[str]:
    """The file names a pocketml folder's manifest lists (none when it has no manifest)."""
    try:
        files = json.loads((Path(folder) / MANIFEST).read_text()).get("files")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return set()
    return set(files) if isinstance(files, dict) else set()


def dead_run_leftover(path: Path) -> bool:
    """A temporary file a killed run left (remove_leftovers deletes it under the lock)."""
    return path.name.startswith(".") and "tmp-" in path.name and path.is_file()


def foreign_entries(folder: Path) -> list[str]:
    """What in a pocketml folder pocketml did not write: every entry its manifest does not list
    (other than UNLISTED), every subfolder and every symbolic link, subfolders shown with a '/'."""
    ours = listed_names(folder) | UNLISTED
    foreign = []
    for path in sorted(Path(folder).iterdir()):
        if path.is_symlink() or path.is_dir():
            foreign.append(path.name + ("/" if path.is_dir() and not path.is_symlink() else ""))
        elif path.name not in ours and not dead_run_leftover(path):
            foreign.append(path.name)
    return foreign


def check_target(target: Path, option: str, force: bool = False) -> Path:
    """The absolute target, or UserError when pocketml must not replace it. `force`: replace a
    pocketml folder even though it holds files pocketml did not write (they are deleted)."""
    resolved = Path(target).resolve()
    if target.is_symlink():
        raise UserError(f"{option} {target}: a symbolic link; give the real folder "
                        f"({resolved}) or a new name.")
    if resolved.exists() and not resolved.is_dir():
        raise UserError(f"{option} {target}: a file is there; give a folder name instead "
                        "(pocketml never replaces a file).")
    here = Path.cwd().resolve()
    if resolved == here or resolved in here.parents:
        raise UserError(f"{option} {target}: that is the current folder or one above it, "
                        "which pocketml cannot replace; give a new folder name, e.g. "
                        f"{option} {Path(target) / 'kidney'}.")
    if resolved.is_dir() and any(resolved.iterdir()) and not written_by_pocketml(resolved):
        raise UserError(f"{option} {target}: the folder holds files pocketml did not write "
                        f"(it has no pocketml {MANIFEST}); pocketml replaces only its own "
                        "folders. Give a new or empty folder, or move those files away.")
    if resolved.is_dir() and not force and (foreign := foreign_entries(resolved)):
        shown = ", ".join(foreign[:10]) + (f" and {len(foreign) - 10} more" if len(foreign) > 10 else "")
        raise UserError(f"{option} {target}: pocketml would replace this folder, and it holds "
                        f"what pocketml did not write (not in its {MANIFEST}): {shown}. Move "
                        "them out of the folder, or run the command again with --force to "
                        "replace the folder without them.")
    parent = nearest_existing(resolved.parent)
    if not parent.is_dir():
        raise UserError(f"{option} {target}: {parent} is a file, not a folder; give a folder "
                        "name whose parents are folders.")
    unwritable = [p for p in (parent, resolved) if p.is_dir() and not os.access(p, os.W_OK | os.X_OK)]
    if unwritable:
        raise UserError(f"{option} {target}: not writable ({unwritable[0]} cannot be changed "
                        "by this user); give a folder you can write to.")
    return resolved


def nearest_existing(path: Path) -> Path:
    while not path.exists():
        path = path.parent
    return path


def lock_path(target: Path) -> Path:
    """One lock file per target, kept in the user's state folder (~/.local/state/pocketml on
    Linux) so that no user folder gets litter."""
    digest = hashlib.sha256(str(target).encode()).hexdigest()[:24]
    return Path(platformdirs.user_state_dir("pocketml")) / "locks" / f"{target.name}-{digest}.lock"


@contextmanager
def folder_lock(target: Path) -> Iterator[None]:
    """Hold the target's lock; refuse at once (exit 2) if another run holds it."""
    path = lock_path(Path(target).resolve())
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            raise UserError(f"{target}: another pocketml command ({owner}) is writing it "
                            "right now; wait for it to finish, then run this again.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def temporary_prefix(target: Path, kind: str) -> str:
    return f".{target.name}.{kind}-"


def remove_leftovers(target: Path) -> None:
    """Clean what dead runs left. Call only while holding the target's lock."""
    parent = target.parent
    if not parent.is_dir():
        return
    previous = sorted(parent.glob(temporary_prefix(target, "old") + "*"))
    if previous and not target.exists():
        # A run died between moving the old folder aside and moving the new one in.
        previous[-1].rename(target)
    for leftover in [*parent.glob(temporary_prefix(target, "tmp") + "*"),
                     *parent.glob(temporary_prefix(target, "old") + "*")]:
        shutil.rmtree(leftover, ignore_errors=True)
    if target.is_dir():
        for leftover in target.glob(".*tmp-*"):
            if leftover.is_file():
                leftover.unlink(missing_ok=True)


@contextmanager
def replace_folder(target: Path, option: str = "--out", keep_contents: bool = False,
                   finish: Callable[[Path], None] | None = None,
                   force: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder (or, with `keep_contents`, a copy of the files pocketml
    wrote in the target, less the manifest's signature, which the new manifest voids) that
    replaces `target` whole once the block and `finish(staging)` have succeeded. `force`: see
    check_target."""
    target = check_target(Path(target), option, force)
    created = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with folder_lock(target), staging_folder(target, option) as staging:
            try:
                if keep_contents and target.is_dir():
                    for name in (listed_names(target) | UNLISTED) - {SIGNATURE}:
                        item = target / name
                        if item.is_file() and not item.is_symlink():
                            shutil.copy2(item, staging / name)
                yield staging
                if finish is not None:
                    finish(staging)
                if not written_by_pocketml(staging):
                    write_manifest(staging)  # what makes the folder pocketml's, for the next run
                swap_in(staging, target)
            except Exception as err:  # a converter may wrap the OSError it met in its own error
                if not disk_full(err):
                    raise
                raise UserError(disk_full_message(target, staging)) from None
    finally:
        if not target.exists():  # a run that wrote nothing leaves no empty parent folders
            for folder in created:
                try:
                    folder.rmdir()
                except OSError:
                    break


@contextmanager
def staging_folder(target: Path, option: str) -> Iterator[Path]:
    """A new temporary folder beside `target`, removed afterwards unless it was swapped in.
    Call only while holding the target's lock: it first cleans what dead runs left."""
    remove_leftovers(target)
    try:
        staging = Path(tempfile.mkdtemp(prefix=temporary_prefix(target, "tmp"), dir=target.parent))
    except PermissionError:
        raise UserError(f"{option} {target}: cannot create a folder in {target.parent}; give a "
                        "folder you can write to.") from None
    try:
        yield staging
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def swap_in(staging: Path, target: Path) -> None:
    if not target.exists():
        staging.rename(target)
        return
    old = Path(tempfile.mkdtemp(prefix=temporary_prefix(target, "old"), dir=target.parent))
    old.rmdir()
    target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def disk_full(err: BaseException) -> bool:
    """Whether `err`, or an exception it was raised from (a converter wraps the OSError it
    met), is a full disk or an exhausted quota."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, OSError) and err.errno in DISK_FULL:
            return True
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return False


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()
               and not p.is_symlink()) if Path(folder).is_dir() else 0


def size_text(n: int) -> str:
    """A size as a person reads it: 0.0 MB hides a size of a few kilobytes."""
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} KB" if n >= 1000 else f"{n} bytes"


def disk_full_message(target: Path, staging: Path) -> str:
    """What a full disk cost and what to free: the new folder is built beside the old one, so
    both must fit until the swap."""
    written, previous = folder_bytes(staging), folder_bytes(target)
    free = shutil.disk_usage(target.parent).free
    needed = max(written, previous)
    return (f"{target}: the disk is full (no space left on the device that holds "
            f"{target.parent}); the new folder had {size_text(written)} written"
            + (f", the folder it replaces takes {size_text(previous)}" if previous else "")
            + f", and {size_text(free)} are free. "
            # A write that fails at once says nothing of the size: "at least 0 bytes" is untrue.
            + (f"Free at least {size_text(needed)} more (the new folder is built beside the old "
               "one)" if needed else "Free some space")
            + ", then run the command again. "
            "Nothing was changed: " + ("the previous folder is as it was." if previous
                                       else "no folder was written."))
