"""`pocketml export DIR`, `verify DIR` and `bundle DIR` on a model folder: either one written
by `pocketml train` (weights + schema + test set) or one made from a user's own module."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import torch

from pocketml.errors import UserError
from pocketml.export.exporter import check_formats, export_formats, results_table
from pocketml.export.manifest import MANIFEST, check_manifest, write_manifest
from pocketml.export.parity import (check_parity, input_sets, parity_document,
                                    parity_markdown)
from pocketml.export.formats import FORMATS
from pocketml.export.job import ExportJob
from pocketml.export.runtimes import runtime_plan
from pocketml.export.user_module import (load_user_module, parse_shape, run_on_examples,
                                         user_schema)
from pocketml.train import artifacts

EXPORTS = "export.json"  # what the last export wrote or failed to write, per format
SOURCE = "source.json"  # for user modules: the module ("pkg.mod:callable") and --input-shapes
BUNDLE_FILES = ("model.tflite", "model.onnx", artifacts.SCHEMA)


class ModelFolder:
    """Everything export and verify need to know about one folder."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise UserError(f"{self.folder}: no such model folder. Train one first "
                            "(`pocketml train kidney`) or export your own with --model.")
        source = self.folder / SOURCE
        if source.is_file():
            spec = artifacts.read_json(source)
            inputs = [parse_shape(text) for text in spec["inputs"]]
            self.module = load_user_module(spec["model"])
            self.example = tuple(i.example() for i in inputs)
            run_on_examples(spec["model"], self.module, inputs, self.example)
            self.schema = user_schema(self.module, inputs)
            self.test_set, self.calibration = None, None
            self.provenance = {"seed": None, "data_sha256": None}
        else:
            self.module = artifacts.load_model(self.folder)
            self.schema = artifacts.read_json(self.folder / artifacts.SCHEMA)
            self.test_set = artifacts.load_test_set(self.folder)
            self.example = (torch.from_numpy(self.test_set[0][:2]),)
            calibration = self.folder / artifacts.CALIBRATION
            self.calibration = (artifacts.load_arrays(self.folder, artifacts.CALIBRATION)["x"]
                                if calibration.is_file() else None)
            metrics = artifacts.read_json(self.folder / artifacts.METRICS)
            self.provenance = {"seed": metrics.get("training", {}).get("seed"),
                               "data_sha256": metrics.get("data", {}).get("sha256")}

    def job(self) -> ExportJob:
        names = lambda key: [self.schema[key]["name"]] if key in (self.schema or {}) else []
        return ExportJob(self.module, self.example, names("input"), names("output"),
                         self.schema, self.calibration)


def export_folder(folder: Path, formats, log=print) -> bool:
    started = time.perf_counter()
    model = ModelFolder(folder)
    log(f"exporting {folder} ({type(model.module).__name__}) to {', '.join(formats)}")
    results = export_formats(model.job(), model.folder, formats, log)
    artifacts.write_json(model.folder / EXPORTS, {r.format: {
        "file": r.path.name, "bytes": r.bytes, "seconds": round(r.seconds, 3), "error": r.error}
        for r in results})
    write_manifest(model.folder, **model.provenance)
    log(results_table(results))
    log(f"export took {time.perf_counter() - started:.1f} s; verifying")
    return verify_folder(folder, log, model)


def verify_folder(folder: Path, log=print, model: ModelFolder | None = None) -> bool:
    """Check the manifest, then parity of every exported format; write parity.json/.md."""
    check_manifest(folder)
    log(f"manifest: every file of {folder} matches {MANIFEST}")
    model = model or ModelFolder(folder)
    exports = artifacts.read_json(model.folder / EXPORTS)
    files = {fmt: (None if e["error"] else model.folder / e["file"]) for fmt, e in exports.items()}
    runtimes, not_run = runtime_plan({fmt: model.folder / FORMATS[fmt].filename for fmt in files})
    for fmt, missing in not_run.items():
        for runtime, how in missing.items():
            log(f"  {fmt}: not checked on {runtime}, which is not available here ({how})")
    sets = input_sets(model.schema, model.example, model.test_set)
    results = check_parity(model.module, files, sets, model.schema, runtimes, log)
    document = parity_document(results, not_run)
    artifacts.write_json(model.folder / "parity.json", document)
    (model.folder / "parity.md").write_text(parity_markdown(document))
    failed = [f"{r.format} on {r.runtime}" for r in results if not r.passed]
    log(f"parity: {'PASSED' if not failed else 'FAILED: ' + ', '.join(failed)} "
        f"(parity.json, parity.md in {model.folder})")
    return document["passed"]


def export_user_module(spec: str, inputs: list[str], out: Path, formats, log=print) -> bool:
    """`inputs`: one --input-shape text per model input. Nothing is written before the module
    has been imported and has run on the example inputs."""
    check_formats(formats)
    shapes = [parse_shape(text) for text in inputs]
    module = load_user_module(spec)
    run_on_examples(spec, module, shapes, tuple(i.example() for i in shapes))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    artifacts.write_json(out / SOURCE, {"model": spec, "inputs": list(inputs)})
    return export_folder(out, formats, log)


def bundle_folder(folder: Path, to: Path, log=print) -> None:
    """Copy what the app needs, and a manifest of exactly those files, into `to` atomically."""
    manifest = check_manifest(folder)
    missing = [name for name in BUNDLE_FILES if not (Path(folder) / name).is_file()]
    if missing:
        raise UserError(f"{folder} lacks {', '.join(missing)}; run `pocketml export {folder}`.")
    with artifacts.atomic_dir(Path(to)) as staging:
        for name in BUNDLE_FILES:
            shutil.copy2(Path(folder) / name, staging / name)
        write_manifest(staging, manifest["seed"], manifest["data_sha256"],
                       [staging / name for name in BUNDLE_FILES])
    sizes = ", ".join(f"{n} {(Path(to) / n).stat().st_size / 1024:.1f} KB" for n in BUNDLE_FILES)
    log(f"bundled into {to}: {sizes}, {MANIFEST}")
