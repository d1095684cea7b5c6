"""`pocketml export DIR`, `verify DIR` and `bundle DIR` on a model folder: either one written
by `pocketml train` (weights + schema + test set) or one made from a user's own module."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from pocketml.errors import UserError
from pocketml.export.exporter import check_formats, export_formats, results_table
from pocketml.export.formats import FORMATS
from pocketml.export.golden import GOLDEN, write_golden
from pocketml.export.job import ExportJob
from pocketml.export.input_sets import input_sets, random_budget
from pocketml.export.parity import check_parity, parity_document, parity_markdown
from pocketml.export.runtimes import runtime_plan
from pocketml.export.signing import load_private_key, sign_manifest
from pocketml.export.user_module import (load_user_module, parse_shape, run_on_examples,
                                         user_schema)
from pocketml.folders import (MANIFEST, check_target, folder_lock, remove_leftovers,
                              replace_folder)
from pocketml.manifest import PROVENANCE, check_manifest, sha256_file, write_manifest
from pocketml.pocketapp.schema import schema_problems
from pocketml.pocketapp.signature import SIGNATURE
from pocketml.train import artifacts

EXPORTS = "export.json"  # what the last export wrote or failed to write, per format
SOURCE = "source.json"  # for user modules: the module ("pkg.mod:callable") and --input-shapes
BUNDLE_FILES = ("model.tflite", "model.onnx", artifacts.SCHEMA)


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
                         self.schema, self.calibration)


@dataclass
class Verification:
    """What `verify` proved, bound to the exact manifest it checked. True when parity passed."""
    document: dict
    manifest_sha256: str

    def __bool__(self) -> bool:
        return bool(self.document["passed"])


def export_folder(folder: Path, formats, log=print, trust_source: bool = False) -> bool:
    """Export into a copy of `folder` and verify it there; the copy replaces the folder only
    when both are done, so a failure or a kill leaves the previous folder as it was."""
    check_formats(formats)
    model = ModelFolder(folder, trust_source)  # read here, so a bad file is named where it is
    with replace_folder(folder, "DIR", keep_contents=True) as staging:
        model.folder = staging  # what export writes goes into the copy
        return bool(export_into(staging, formats, log, model=model, shown=folder))


def export_into(folder: Path, formats, log=print, trust_source: bool = False,
                shown: Path | None = None, model: ModelFolder | None = None) -> Verification:
    """Export and verify in `folder` itself; the caller makes that safe (replace_folder).
    `model`: the folder's contents, when the caller has read them already."""
    shown = Path(shown or folder)
    started = time.perf_counter()
    model = model or ModelFolder(folder, trust_source)
    log(f"exporting {shown} ({type(model.module).__name__}) to {', '.join(formats)}")
    results = export_formats(model.job(), model.folder, formats, log)
    artifacts.write_json(model.folder / EXPORTS, {r.format: {
        "file": r.path.name, "bytes": r.bytes, "seconds": round(r.seconds, 3), "error": r.error}
        for r in results})
    write_manifest(model.folder)
    log(results_table(results))
    log(f"export took {time.perf_counter() - started:.1f} s; verifying")
    return verify_into(folder, log, model, shown=shown)


def verify_folder(folder: Path, log=print, trust_source: bool = False) -> bool:
    """Check the manifest, then parity of every exported format; write parity.json/.md."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such model folder.")
    with folder_lock(folder):
        remove_leftovers(folder.resolve())
        return bool(verify_into(folder, log, trust_source=trust_source))


def verify_into(folder: Path, log=print, model: ModelFolder | None = None,
                trust_source: bool = False, shown: Path | None = None) -> Verification:
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
    sets = input_sets(model.schema, model.example, model.test_set,
                      random_budget(model.module, model.example))
    results = check_parity(model.module, files, sets, model.schema, runtimes, log)
    document = parity_document(results, not_run, sets)
    artifacts.write_json(model.folder / "parity.json", document)
    artifacts.atomic_write_bytes(model.folder / "parity.md", parity_markdown(document).encode())
    failed = [f"{r.format} on {r.runtime}" for r in results if not r.passed]
    log(f"parity: {'PASSED' if document['passed'] else 'FAILED: ' + ', '.join(failed)} "
        f"(parity.json, parity.md in {shown})")
    return Verification(document, checked)


def exported_files(folder: Path) -> dict[str, Path | None]:
    """export.json's formats and their files (None where the export failed), checked."""
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


def export_user_module(spec: str, inputs: list[str], out: Path, formats, log=print) -> bool:
    """`inputs`: one --input-shape text per model input. Nothing is written before the module
    has been imported and has run on the example inputs."""
    check_formats(formats)
    check_target(Path(out), "--out")
    shapes = [parse_shape(text) for text in inputs]
    module = load_user_module(spec)
    run_on_examples(spec, module, shapes, tuple(i.example() for i in shapes))
    with replace_folder(out, "--out") as staging:
        artifacts.write_json(staging / SOURCE, {"model": spec, "inputs": list(inputs)})
        # The user named the module on the command line: trusting it is their own choice.
        return bool(export_into(staging, formats, log, trust_source=True, shown=out))


def bundle_folder(folder: Path, to: Path, log=print, sign: Path | None = None,
                  verification: Verification | None = None) -> None:
    """Copy what the app needs, and a manifest of exactly those files, into `to` atomically.

    Only a folder whose files passed verification as they are now is bundled: it is verified
    here, unless `verification` (from this same process) is bound to its current manifest."""
    folder = Path(folder)
    check_target(Path(to), "--to")  # before the verification: a bad target costs no work
    key = load_private_key(sign) if sign is not None else None
    if not folder.is_dir():
        raise UserError(f"{folder}: no such model folder. Train and export one first "
                        "(`pocketml all`).")
    with folder_lock(folder):
        manifest = check_manifest(folder)
        missing = [name for name in BUNDLE_FILES if name not in manifest["files"]]
        if missing:
            raise UserError(f"{folder} lacks {', '.join(missing)}; run `pocketml export {folder}`.")
        if verification is None or verification.manifest_sha256 != sha256_file(folder / MANIFEST):
            log(f"verifying {folder} before bundling it")
            verification = verify_into(folder, log)
        if not verification:
            raise UserError(f"{folder}: parity FAILED (see {folder / 'parity.md'}), so it is not "
                            "bundled: the app would compute something PyTorch does not.")
        with replace_folder(Path(to), "--to") as staging:
            for name in BUNDLE_FILES:
                shutil.copyfile(folder / name, staging / name)
            write_golden(folder, staging / GOLDEN)  # the app's on-device parity check
            write_manifest(staging, [staging / name for name in (*BUNDLE_FILES, GOLDEN)],
                           {key: manifest.get(key) for key in PROVENANCE})
            signer = sign_manifest(staging, key) if key is not None else None
    sizes = ", ".join(f"{n} {(Path(to) / n).stat().st_size / 1024:.1f} KB"
                      for n in (*BUNDLE_FILES, GOLDEN))
    log(f"bundled into {to}: {sizes}, {MANIFEST}"
        + (f", signed by key {signer} ({SIGNATURE})" if signer else " (unsigned)"))
