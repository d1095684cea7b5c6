"""One gate for every command that reads a folder: `verify`, `diagnose`, `bench` and `explain`
open it through the same checks, so none of them answers for a folder another refuses.

A model folder: its lock held, what dead runs left removed, the signature checked where
trusted keys are given, the manifest (every file's sha256, nothing unlisted: no extra file, no
link to /etc), then the training record (custody.py) as ModelFolder reads it. An app bundle
(what `explain` also reads): the app's own reader, then the app's own golden self-check on this
desktop's runtime, so explain answers only where the app would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pocketml.folder.errors import UserError
from pocketml.export.console import quiet
from pocketml.folder.custody import RECORD
from pocketml.export.model_folder import SOURCE, ModelFolder, Signing
from pocketml.folder.manifest import UNLISTED
from pocketml.folder.replace import folder_lock, remove_leftovers
from pocketml.folder.manifest import check_manifest
from pocketml.pocketapp.bundle import Bundle, BundleError, open_bundle
from pocketml.pocketapp.predictors import load_predictor
from pocketml.pocketapp.contract import GOLDEN
from pocketml.pocketapp.selfcheck import verify_on_device


def checked_folder(folder: Path) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such model folder. Train one first "
                        "(`pocketml train kidney`), then `pocketml export` it.")
    return folder


@contextmanager
def opened_model_folder(folder: Path, trust_source: bool = False,
                        trusted: tuple[bytes, ...] = (), log=print) -> Iterator[ModelFolder]:
    """The model folder, read once every check `verify` runs first has passed; its lock is
    held until the block ends."""
    folder = checked_folder(folder)
    with folder_lock(folder):
        remove_leftovers(folder.resolve())
        Signing(trusted=tuple(trusted)).check(folder, log)
        check_manifest(folder)
        yield ModelFolder(folder, trust_source)


@contextmanager
def opened_for_app(folder: Path, trusted: tuple[bytes, ...] = (),
                   log=print) -> Iterator[tuple[Bundle, object]]:
    """(bundle, desktop predictor) for a bundle that passed the app's golden self-check, or
    for a model folder that passed `verify`'s checks; the lock is held until the block ends."""
    folder = checked_folder(folder)
    if (folder / SOURCE).is_file():
        raise UserError(f"{folder} was exported from your own module (named in {folder / SOURCE})"
                        ": it has no form of named fields to fill in, so there is nothing to "
                        "explain. `pocketml explain` reads folders from `pocketml train` and "
                        "their bundles (`pocketml bundle`).")
    with folder_lock(folder):
        remove_leftovers(folder.resolve())
        Signing(trusted=tuple(trusted)).check(folder, log)
        try:
            if is_bundle(folder):
                bundle = open_bundle(folder)
                predictor = desktop_predictor(bundle)
                verify_on_device(bundle, predictor)  # SelfCheckFailed is a BundleError
            else:
                check_manifest(folder)
                ModelFolder(folder)  # custody: the schema is the one training recorded
                bundle = open_bundle(folder, unlisted=UNLISTED)  # verify's reports too
                predictor = desktop_predictor(bundle)
        except BundleError as err:
            raise UserError(str(err)) from None
        yield bundle, predictor


def is_bundle(folder: Path) -> bool:
    """A bundle carries golden cases for the app's self-check; a model folder carries its
    training record instead (and is checked as a model folder whatever else it holds)."""
    return (folder / GOLDEN).exists() and not (folder / RECORD).exists()


def desktop_predictor(bundle: Bundle):
    with quiet():  # LiteRT announces its XNNPACK delegate on stderr
        return load_predictor(bundle, "desktop")
