"""What the refusal screen says to the person holding the phone: what happened and what to do,
in words, with the technical reason behind a "details" control (and in the log in full).

Every refusal means the same to that person: this copy of the app must not be used for a
result. Whether a file was changed, a signature does not match or the self-check differs is
for whoever supports the app, who reads the details or the log."""

from __future__ import annotations

from pathlib import Path

from .bundle import BundleError
from .predictors import ModelMismatch
from .selfcheck import SelfCheckFailed
from .signature import SignatureError

CHANGED = ("This copy of the app was changed or damaged, so it will not give results. "
           "Reinstall the app from where you got it.")
DIFFERS = ("This app checks itself every time it starts, and on this phone its answers differ "
           "from the tested ones, so it will not give results. Reinstall the app; if this "
           "message comes back, tell whoever gave you the app that it does not work on this "
           "phone.")
NOT_STARTED = ("The app could not start its model on this phone, so it will not give results. "
               "Reinstall the app; if this message comes back, tell whoever gave you the app.")


def for_the_person(err: Exception) -> str:
    if isinstance(err, SelfCheckFailed):
        return DIFFERS
    if isinstance(err, (BundleError, SignatureError, ModelMismatch)):
        return CHANGED
    return NOT_STARTED


def details(err: Exception, bundle_dir: Path) -> str:
    """The technical reason, with the bundle's folder by its name: a full path is the log's,
    and no screen is wide enough for one."""
    return str(err).replace(str(bundle_dir), Path(bundle_dir).name)
