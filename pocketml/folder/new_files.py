"""Write a set of files together, or none of them: `pocketml keygen`'s key pair and the app's
copy of the public key. Every file is written under a temporary name beside its place first;
only when all are written are they moved in. A full disk (or any write that fails) removes the
temporary files and leaves nothing behind: never a private key without its public key, which a
later run would refuse to overwrite."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pocketml.folder.errors import UserError
from pocketml.folder.replace import DISK_FULL


@dataclass(frozen=True)
class NewFile:
    path: Path
    data: bytes
    mode: int = 0o644


def write_all_or_nothing(files: list[NewFile], what: str) -> None:
    """UserError naming the problem (a full disk: how much the files need) if any write fails;
    nothing of `files` is then on disk."""
    written: list[tuple[NewFile, Path]] = []
    moved: list[Path] = []
    try:
        for new in files:
            new.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = new.path.with_name(f".{new.path.name}.tmp-{os.getpid()}")
            written.append((new, temporary))
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, new.mode)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(new.data)
                handle.flush()
                os.fsync(handle.fileno())  # a full disk shows here at the latest
        for new, temporary in written:  # linked, not renamed: a link fails rather than
            os.link(temporary, new.path)  # replace a file that appeared meanwhile
            moved.append(new.path)
            temporary.unlink()
    except OSError as err:
        for path in [*moved, *(temporary for _, temporary in written)]:
            path.unlink(missing_ok=True)
        raise UserError(failure(files, what, err)) from None


def failure(files: list[NewFile], what: str, err: OSError) -> str:
    where = files[0].path.parent
    if err.errno in DISK_FULL:
        need = sum(len(new.data) for new in files)
        return (f"{where}: the disk is full (no space left on the device that holds it); "
                f"{what} need {need:,} bytes. Nothing was written: free some space, then run "
                "the command again.")
    return (f"{where}: {what} could not be written ({err.strerror or err}). Nothing was "
            "written: give a folder you can write to.")
