"""Chain of custody: a trained model folder stays bound to what its training measured.

Checksums prove the files are the ones the manifest lists, not that the list is honest. So
every trainer writes training_record.json beside the files (listed, and signed with the
manifest when `--sign` is given): the schema exactly as training wrote it, PyTorch's metrics on
the folder's own test set, and that test set's checksum. `export`, `verify`, `bundle` and
`bench` then refuse a folder where

- the schema differs from the record (columns, their order, classes, positive class,
  threshold, ranges, units...): each difference is named;
- a numeric column's test values lie outside that column's range (the columns were swapped
  in the schema and in the record alike);
- the weights no longer compute the recorded metric on the test set (weights edited to output
  1 - p), or the test set is not the one training wrote.

An editor who rewrites the record, the schema and the manifest consistently passes these
checks; that is what signing is for: `--sign KEY` at training signs the manifest, which lists
the record, and `--trusted-key PUB` (or `--sign`, for `export` and `bundle`) refuses a folder
not signed by a trusted key or changed since (check_signed)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from torch import nn

from pocketml.folder.errors import IntegrityError, UserError
from pocketml.folder.manifest import sha256_file
from pocketml.pocketapp.contract import GOLDEN, MANIFEST, SIGNATURE
from pocketml.pocketapp.signature import SignatureError, check_signature, fingerprint
from pocketml.folder import artifacts
from pocketml.folder.reference import run_batches, task_metrics, torch_runner

RECORD = "training_record.json"
RECORD_FORMAT = "pocketml-training-record/1"
# The metrics are recomputed on the same rows, batches and code as at training: only a changed
# model or test set moves them beyond rounding.
METRIC_TOLERANCE = 1e-6


def measured_metrics(module: nn.Module, schema: dict, test_set) -> dict:
    """PyTorch's metrics on the test set, computed as parity computes its reference."""
    x, y = test_set
    outputs = run_batches(torch_runner(module.eval()), [x], 64)[0]
    return task_metrics(outputs, y, schema)


def record_training(folder: Path) -> dict:
    """Write the record of a freshly trained folder (its weights, schema and test set written)."""
    folder = Path(folder)
    schema = artifacts.read_json(folder / artifacts.SCHEMA)
    record = {"format": RECORD_FORMAT,
              "schema": schema,
              "metrics": measured_metrics(artifacts.load_model(folder), schema,
                                          artifacts.load_test_set(folder)),
              "test_set_sha256": sha256_file(folder / artifacts.TEST_SET)}
    artifacts.write_json(folder / RECORD, record)
    return record


def check_custody(folder: Path, module: nn.Module, schema: dict, test_set) -> None:
    """IntegrityError naming every way the folder departs from its training record."""
    folder = Path(folder)
    path = folder / RECORD
    if not path.is_file():
        raise IntegrityError(f"{path}: missing. A trained folder carries the record of what its "
                             "training measured; this one was written before pocketml kept it, "
                             "or the record was removed. Train the model again.")
    record = artifacts.read_json(path)
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise IntegrityError(f"{path}: not a pocketml training record. Train the model again.")
    problems = schema_departures(schema, record.get("schema"))
    problems += range_departures(schema, test_set[0])
    if sha256_file(folder / artifacts.TEST_SET) != record.get("test_set_sha256"):
        problems.append(f"{artifacts.TEST_SET} is not the test set training wrote (its sha256 "
                        "differs from the record's)")
    elif not problems:
        problems += metric_departures(measured_metrics(module, schema, test_set),
                                      record.get("metrics"))
    if problems:
        raise IntegrityError(f"{folder}: the folder no longer matches what its training "
                             f"recorded ({RECORD}):\n  " + "\n  ".join(problems)
                             + "\nIt was edited after training. Train the model again (and sign "
                             "it: `--sign KEY`) rather than editing its files.")


def schema_departures(schema: dict, recorded) -> list[str]:
    """Each difference between schema.json and the schema training recorded, named."""
    if not isinstance(recorded, dict):
        return [f"{RECORD} holds no schema"]
    problems = []
    for key in dict.fromkeys([*recorded, *schema]):
        now, then = schema.get(key), recorded.get(key)
        if now == then:
            continue
        if key == "columns" and isinstance(now, list) and isinstance(then, list):
            problems += column_departures(now, then)
        else:
            problems.append(f"{artifacts.SCHEMA} {key}: {now!r}; training recorded {then!r}")
    return problems


def column_departures(columns: list, recorded: list) -> list[str]:
    names = [c.get("name") if isinstance(c, dict) else c for c in columns]
    recorded_names = [c.get("name") for c in recorded]
    if names != recorded_names:
        return [f"{artifacts.SCHEMA} columns, in model order: {', '.join(map(str, names))}; "
                f"training recorded {', '.join(map(str, recorded_names))}"]
    problems = []
    for now, then in zip(columns, recorded):
        for key in dict.fromkeys([*then, *now]):
            if now.get(key) != then.get(key):
                problems.append(f"{artifacts.SCHEMA} column {then['name']}: {key} "
                                f"{now.get(key)!r}; training recorded {then.get(key)!r}")
    return problems


def range_departures(schema: dict, x: np.ndarray) -> list[str]:
    """Numeric columns whose test values mostly lie outside the column's range: the schema's
    columns no longer describe the model's inputs (columns swapped). The median is used, since
    real data keeps a few implausible values (a sodium of 4.5)."""
    problems = []
    columns = schema.get("columns") if isinstance(schema, dict) else None
    for i, column in enumerate(columns or []):
        if column.get("kind") != "numeric" or i >= x.shape[-1]:
            continue
        low, high = column["range"]
        median = float(np.median(x[:, i]))
        if not low <= median <= high:
            problems.append(f"{artifacts.SCHEMA} column {i + 1} ({column['name']}): the test "
                            f"set's values there have median {median:g}, outside its range "
                            f"[{low:g}, {high:g}]: the columns do not describe the model's "
                            "inputs in order")
    return problems


def metric_departures(measured: dict, recorded) -> list[str]:
    if not isinstance(recorded, dict) or not recorded:
        return [f"{RECORD} holds no metrics"]
    problems, moved = [], []
    for name, then in recorded.items():
        now = measured.get(name)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (now, then)):
            problems.append(f"metric {name}: measured {now!r}, training recorded {then!r}")
        elif abs(now - then) > METRIC_TOLERANCE * max(1.0, abs(then)):
            moved.append((name, now, then))
    # roc_auc does not depend on the threshold: unchanged, the weights still rank the test set
    # as they did at training, and what moved is the decision (threshold or classes).
    decision_only = "roc_auc" in recorded and moved and "roc_auc" not in [m[0] for m in moved]
    culprit = (f"the decision threshold (or the classes) in {artifacts.SCHEMA} was changed after "
               "training (roc_auc, which does not depend on it, is unchanged)" if decision_only
               else f"{artifacts.WEIGHTS} was changed after training")
    problems += [f"{'the schema gives' if decision_only else 'the weights compute'} {name} "
                 f"{now:.4f} on the folder's test set; training recorded {then:.4f}: {culprit}"
                 for name, now, then in moved]
    return problems


# -- signatures ---------------------------------------------------------------------------

def public_key_bytes(path: Path, option: str = "--trusted-key") -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise UserError(f"{option} {path}: cannot be read ({err.strerror}); give the .pub.pem "
                        "that `pocketml keygen` wrote.") from None
    if b"BEGIN PUBLIC KEY" not in data:
        raise UserError(f"{option} {path}: not a PEM public key; give the .pub.pem that "
                        "`pocketml keygen` wrote (never the private key).")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError) as err:
        raise UserError(f"{option} {path}: not a readable PEM public key ({err}); give the "
                        ".pub.pem that `pocketml keygen` wrote.") from None
    if not isinstance(key, Ed25519PublicKey):  # what --sign and the app's verifier take
        raise UserError(f"{option} {path}: not an Ed25519 key ({type(key).__name__.strip('_')}); pocketml "
                        "signs and checks with Ed25519 keys only (as --sign and the app do). "
                        "Give the .pub.pem that `pocketml keygen` wrote.")
    return data


def check_signed(folder: Path, trusted: list[bytes]) -> str:
    """The fingerprint of the trusted key that signed `folder`'s manifest as it is now;
    IntegrityError when none of `trusted` did (unsigned, another key, changed since)."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    try:
        manifest_bytes = manifest.read_bytes()
    except OSError:
        raise IntegrityError(f"{manifest}: missing; nothing in {folder} is signed.") from None
    keys = ", ".join(fingerprint(key) for key in trusted)
    if not (folder / SIGNATURE).is_file():
        raise IntegrityError(f"{folder}: unsigned (no {SIGNATURE}), and only a folder signed by "
                             f"a trusted key ({keys}) is accepted here. pocketml signs a folder "
                             "as it writes it, never afterwards (that would vouch for files "
                             f"nobody checked): write it again, signed: {signing_command(folder)}")
    reasons = []
    for key in trusted:
        try:
            return check_signature(folder, manifest_bytes, key)
        except SignatureError as err:
            reasons.append(str(err))
    why = reasons[0] if len(set(reasons)) == 1 else "; ".join(reasons)
    raise IntegrityError(f"{folder}: not signed by a trusted key ({keys}): {why} Only a folder "
                         "signed as it was written and unchanged since passes: write it again, "
                         f"signed: {signing_command(folder)}")


def signing_command(folder: Path) -> str:
    """The command that writes a folder like this one signed: a trained folder is signed by
    its training, a bundle by `bundle`, a folder from a user's module by its export."""
    if (folder / RECORD).is_file():
        return f"`pocketml train MODEL --out {folder} --sign KEY`, then export it with --sign KEY"
    if (folder / GOLDEN).is_file():
        return f"`pocketml bundle MODEL_FOLDER --to {folder} --sign KEY`"
    return (f"`pocketml export --model MODULE:CALLABLE --input-shape ... --out {folder} --sign "
            "KEY`")
