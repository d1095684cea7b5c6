"""`pocketml export DIR`, `verify DIR` and `bundle DIR` on a model folder: either one written
by `pocketml train` (weights + schema + test set) or one made from a user's own module."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from pocketml.folder.errors import UserError
from pocketml.export.arm64.report import arm64_markdown
from pocketml.export.arm64.runner import emulated_rows
from pocketml.folder.custody import check_custody, check_signed
from pocketml.export.convert.exporter import check_formats, export_formats, results_table
from pocketml.export.formats import FORMATS
from pocketml.export.verify.fp16_arithmetic import (add_fp16_arithmetic, fp16_markdown, fp16_record,
                                                   host_runner)
from pocketml.export.verify.golden import app_form, write_golden
from pocketml.export.convert.job import ExportJob, calibration_rows
from pocketml.export.verify.input_sets import input_sets, random_budget
from pocketml.export.isolated import isolated_runtimes
from pocketml.export.verify.parity import check_parity, parity_document, parity_markdown
from pocketml.export.runtimes import runtime_plan, runtime_versions, versions_markdown
from pocketml.folder.signing import load_private_key, public_key_pem, sign_manifest
from pocketml.export.convert.user_module import (load_user_module, parse_shape, run_on_examples,
                                         user_schema)
from pocketml.folder.replace import (check_target, folder_lock, remove_leftovers,
                              replace_folder)
from pocketml.folder.manifest import PROVENANCE, check_manifest, sha256_file, write_manifest
from pocketml.pocketapp.schema import schema_problems
from pocketml.pocketapp.contract import (DELEGATES, GOLDEN, MANIFEST, ONNX, PROOF_RUNTIMES,
                                         GOLDEN_CASES, SIGNATURE, TFLITE)
from pocketml.folder import artifacts

EXPORTS = "export.json"  # what the last export wrote or failed to write, per format
SOURCE = "source.json"  # for user modules: the module ("pkg.mod:callable") and --input-shapes
BUNDLE_FILES = (TFLITE, ONNX, artifacts.SCHEMA)


class ModelFolder:
    """Everything export and verify need to know about one folder, each file checked as it is
    read: a file that is edited, truncated or from another model gets a UserError naming it.

    A folder made from a user's module names that module in source.json. Loading it imports
    and runs the user's code, so it happens only with `trust_source` (`--trust-source`): a
    downloaded folder must never run code just by being verified."""

    def __init__(self, folder: Path, trust_source: bool = False):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise UserError(f"{self.folder}: no such model folder. Train one first "
                            "(`pocketml train kidney`) or export your own with --model.")
        source = self.folder / SOURCE
        if source.is_file():
            spec = artifacts.read_json(source)
            if not trust_source:
                raise UserError(f"{self.folder} was exported from your own module "
                                f"{spec.get('model')!r} (named in {source}); checking it would "
                                "import and run that module's code. If you trust it, run the "
                                "command again with --trust-source.")
            inputs = [parse_shape(text) for text in spec["inputs"]]
            self.module = load_user_module(spec["model"])
            self.example = tuple(i.example() for i in inputs)
            run_on_examples(spec["model"], self.module, inputs, self.example)
            self.schema = user_schema(self.module, inputs)
            self.test_set, self.calibration = None, None
        else:
            self.module = artifacts.load_model(self.folder)
            self.schema = artifacts.read_json(self.folder / artifacts.SCHEMA)
            self.test_set = artifacts.load_test_set(self.folder)
            self.example = (torch.from_numpy(self.test_set[0][:2]),)
            calibration = self.folder / artifacts.CALIBRATION
            self.calibration = (artifacts.load_arrays(self.folder, artifacts.CALIBRATION)["x"]
                                if calibration.is_file() else None)
            self._check_schema()
            check_custody(self.folder, self.module, self.schema, self.test_set)

    def _check_schema(self) -> None:
        """The schema must make sense, and describe the inputs the model really takes."""
        problems = schema_problems(self.schema)
        if not problems:
            try:
                with torch.no_grad():
                    self.module(*self.example)
            except Exception as err:  # the weights do not take the test set's shape
                problems.append(f"the model does not run on the test set's rows ({err})")
        columns = self.schema.get("columns") if isinstance(self.schema, dict) else None
        if isinstance(columns, list) and len(columns) != self.test_set[0].shape[-1]:
            problems.append(f"it lists {len(columns)} columns, the model takes "
                            f"{self.test_set[0].shape[-1]}")
        if problems:
            raise UserError(f"{self.folder / artifacts.SCHEMA}: " + "; ".join(problems)
                            + ". Train the model again; never edit the schema by hand.")

    def job(self) -> ExportJob:
        names = lambda key: [self.schema[key]["name"]] if key in (self.schema or {}) else []
        return ExportJob(self.module, self.example, names("input"), names("output"),
                         self.schema, calibration_rows(self.calibration, self.schema,
                                                       self.example[0]))


@dataclass
class Verification:
    """What `verify` proved, bound to the exact manifest it checked. True when parity passed."""
    document: dict
    manifest_sha256: str

    def __bool__(self) -> bool:
        return bool(self.document["passed"])


@dataclass
class Signing:
    """`--sign KEY` and `--trusted-key PUB`: the private key that signs what a command writes
    (None: unsigned), and the public keys a folder it reads must be signed by (empty: none
    required). Signing re-seals a folder, so it requires a trusted signature too: the key's own
    public key unless others are given."""
    key: object | None = None
    trusted: tuple[bytes, ...] = ()

    @classmethod
    def of(cls, sign: Path | None, trusted: list[bytes] | None = None) -> "Signing":
        key = load_private_key(sign) if sign is not None else None
        trusted = tuple(trusted or ()) or ((public_key_pem(key),) if key is not None else ())
        return cls(key, trusted)

    def check(self, folder: Path, log=print) -> None:
        if self.trusted:
            log(f"signature: {folder} is signed by trusted key {check_signed(folder, self.trusted)}")

    def seal(self, folder: Path) -> str | None:
        return sign_manifest(folder, self.key) if self.key is not None else None


UNSIGNED = Signing()


def export_folder(folder: Path, formats, log=print, trust_source: bool = False,
                  force: bool = False, signing: Signing = UNSIGNED) -> bool:
    """Export into a copy of `folder` and verify it there; the copy replaces the folder only
    when both are done, so a failure or a kill leaves the previous folder as it was. With a
    signing key the folder must be signed by a trusted key before, and is signed after."""
    check_formats(formats)
    if Path(folder).is_dir():  # a folder holding files pocketml did not write: refused at once
        check_target(Path(folder), "DIR", force)
    signing.check(Path(folder), log)
    model = ModelFolder(folder, trust_source)  # read here, so a bad file is named where it is
    with replace_folder(folder, "DIR", keep_contents=True, force=force) as staging:
        model.folder = staging  # what export writes goes into the copy
        verification = export_into(staging, formats, log, model=model, shown=folder)
        if signing.seal(staging):
            log(f"signed {folder / MANIFEST}")
        return bool(verification)


def export_into(folder: Path, formats, log=print, trust_source: bool = False,
                shown: Path | None = None, model: ModelFolder | None = None,
                arm64: list[str] | None = None) -> Verification:
    """Export and verify in `folder` itself; the caller makes that safe (replace_folder).
    `model`: the folder's contents, when the caller has read them already."""
    shown = Path(shown or folder)
    started = time.perf_counter()
    model = model or ModelFolder(folder, trust_source)
    log(f"exporting {shown} ({type(model.module).__name__}) to {', '.join(formats)}")
    results = export_formats(model.job(), model.folder, formats, log)
    artifacts.write_json(model.folder / EXPORTS, {r.format: {
        "file": r.path.name, "bytes": r.bytes, "seconds": round(r.seconds, 3), "error": r.error,
        "note": r.note, "dimensions": r.dimensions}
        for r in results})
    write_manifest(model.folder)
    log(results_table(results))
    log(f"export took {time.perf_counter() - started:.1f} s; verifying")
    return verify_into(folder, log, model, shown=shown, arm64=arm64)


def verify_folder(folder: Path, log=print, trust_source: bool = False,
                  trusted: list[bytes] | None = None,
                  arm64: list[str] | None = None) -> bool:
    """Check the signature (given `trusted` public keys), the manifest and the training
    record, then parity of every exported format; write parity.json/.md. `arm64`: CPU models
    to run every file on under emulation too (arm64.runner)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such model folder.")
    with folder_lock(folder):
        remove_leftovers(folder.resolve())
        Signing(trusted=tuple(trusted or ())).check(folder, log)
        return bool(verify_into(folder, log, trust_source=trust_source, arm64=arm64))


def verify_into(folder: Path, log=print, model: ModelFolder | None = None,
                trust_source: bool = False, shown: Path | None = None,
                arm64: list[str] | None = None) -> Verification:
    shown = Path(shown or folder)
    check_manifest(folder)
    checked = sha256_file(Path(folder) / MANIFEST)
    log(f"manifest: every file of {shown} matches {MANIFEST}")
    model = model or ModelFolder(folder, trust_source)
    files = exported_files(model.folder)
    runtimes, not_run = runtime_plan({fmt: model.folder / FORMATS[fmt].filename for fmt in files})
    for fmt, missing in not_run.items():
        for runtime, how in missing.items():
            log(f"  {fmt}: not checked on {runtime}, which is not available here ({how})")
    add_fp16_arithmetic(runtimes)
    sets = input_sets(model.schema, model.example, model.test_set,
                      random_budget(model.module, model.example))
    with (emulated_rows(arm64, model.schema, runtimes, not_run, host_runner, log) as load,
          isolated_runtimes(load, runtimes) as load):
        results = check_parity(model.module, files, sets, model.schema, runtimes, log, load)
    document = parity_document(results, not_run, sets)
    document["runtime_versions"] = runtime_versions(dict.fromkeys(r.runtime for r in results))
    exports = artifacts.read_json(model.folder / EXPORTS)
    for fmt, entry in document["formats"].items():
        entry["exported_dimensions"] = exports[fmt].get("dimensions")
    failed = [f"{r.format} on {r.runtime}" for r in results if not r.passed and not r.gates]
    verdict = f"parity: {'PASSED' if document['passed'] else 'FAILED: ' + ', '.join(failed)}"
    try:
        artifacts.write_json(model.folder / "parity.json", document)
        report = (parity_markdown(document) + versions_markdown(document)
                  + fp16_markdown(document) + arm64_markdown(document))
        artifacts.atomic_write_bytes(model.folder / "parity.md", report.encode())
    except OSError as err:  # a read-only folder or a full disk: the verdict still stands
        log(f"{verdict} (parity.json and parity.md could not be written in {shown}: "
            f"{err.strerror or err}; the report above is the only copy)")
    else:
        log(f"{verdict} (parity.json, parity.md in {shown})")
    # A row that only gates a feature (fp16 arithmetic) is not the file drifting.
    for fmt in dict.fromkeys(r.format for r in results
                             if not r.passed and not r.gates and r.error is None):
        log(f"  where {fmt} starts to drift: pocketml diagnose {shown} --format {fmt}")
    return Verification(document, checked)


def exported_files(folder: Path) -> dict[str, Path | None]:
    """export.json's formats and their files (None where the export failed), checked."""
    if not (folder / EXPORTS).exists():
        raise UserError(f"{folder} is a trained model folder that has not been exported yet (no "
                        f"{EXPORTS}), so there is nothing to verify. Export it first: "
                        f"pocketml export {folder}")
    exports = artifacts.read_json(folder / EXPORTS)
    if not isinstance(exports, dict) or not exports:
        raise UserError(f"{folder / EXPORTS} lists no exported format, so there is nothing to "
                        f"verify. Run `pocketml export {folder}` first.")
    files = {}
    for fmt, entry in exports.items():
        if fmt not in FORMATS or not isinstance(entry, dict) or "error" not in entry:
            raise UserError(f"{folder / EXPORTS}: entry {fmt!r} is not one pocketml writes "
                            f"(formats: {', '.join(FORMATS)}). Run `pocketml export {folder}` "
                            "again.")
        files[fmt] = None if entry["error"] else folder / FORMATS[fmt].filename
    return files


def export_user_module(spec: str, inputs: list[str], out: Path, formats, log=print,
                       force: bool = False, signing: Signing = UNSIGNED) -> bool:
    """`inputs`: one --input-shape text per model input. Nothing is written before the module
    has been imported and has run on the example inputs. A signing key signs the new folder."""
    check_formats(formats)
    check_target(Path(out), "--out", force)
    shapes = [parse_shape(text) for text in inputs]
    module = load_user_module(spec)
    run_on_examples(spec, module, shapes, tuple(i.example() for i in shapes))
    with replace_folder(out, "--out", force=force) as staging:
        artifacts.write_json(staging / SOURCE, {"model": spec, "inputs": list(inputs)})
        # The user named the module on the command line: trusting it is their own choice.
        verification = export_into(staging, formats, log, trust_source=True, shown=out)
        signing.seal(staging)
        return bool(verification)


def bundle_folder(folder: Path, to: Path, log=print, signing: Signing = UNSIGNED,
                  verification: Verification | None = None, force: bool = False) -> None:
    """Copy what the app needs, and a manifest of exactly those files, into `to` atomically.

    Only a folder whose files passed verification as they are now is bundled: it is verified
    here, unless `verification` (from this same process) is bound to its current manifest.
    With a signing key, only a folder signed by a trusted key and unchanged since is bundled,
    and the bundle's manifest is signed."""
    folder = Path(folder)
    check_target(Path(to), "--to", force)  # before the verification: a bad target costs no work
    if not folder.is_dir():
        raise UserError(f"{folder}: no such model folder. Train and export one first "
                        "(`pocketml all`).")
    with folder_lock(folder):
        remove_leftovers(folder.resolve())
        signing.check(folder, log)
        manifest = check_manifest(folder)
        missing = [name for name in BUNDLE_FILES if name not in manifest["files"]]
        if missing:
            raise UserError(f"{folder} lacks {', '.join(missing)}; run `pocketml export {folder}`.")
        # before the verification: a model the app cannot show costs no minute of parity
        app_form(artifacts.read_json(folder / artifacts.SCHEMA), f"{folder / artifacts.SCHEMA}")
        if verification is None or verification.manifest_sha256 != sha256_file(folder / MANIFEST):
            log(f"verifying {folder} before bundling it")
            verification = verify_into(folder, log)
        if not verification:
            raise UserError(f"{folder}: parity FAILED (see {folder / 'parity.md'}), so it is not "
                            "bundled: the app would compute something PyTorch does not.")
        with replace_folder(Path(to), "--to", force=force) as staging:
            for name in BUNDLE_FILES:
                shutil.copyfile(folder / name, staging / name)
            golden = write_golden(folder, staging / GOLDEN)  # the app's on-device parity check
            artifacts.write_json(staging / DELEGATES, fp16_record(verification.document))
            # The app requires as many golden cases as were written (signed with the manifest).
            write_manifest(staging, [staging / name
                                     for name in (*BUNDLE_FILES, GOLDEN, DELEGATES)],
                           {**{key: manifest.get(key) for key in PROVENANCE},
                            PROOF_RUNTIMES: verification.document.get("runtime_versions", {}),
                            GOLDEN_CASES: len(golden["cases"])})
            signer = signing.seal(staging)
    sizes = ", ".join(f"{n} {(Path(to) / n).stat().st_size / 1024:.1f} KB"
                      for n in (*BUNDLE_FILES, GOLDEN, DELEGATES))
    log(f"bundled into {to}: {sizes}, {MANIFEST}"
        + (f", signed by key {signer} ({SIGNATURE})" if signer else " (unsigned)"))
