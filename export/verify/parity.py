"""The proof: feed the same inputs (input_sets) to PyTorch and to every exported file in every
runtime, compare output by output, and judge each format against its tolerance.

PyTorch's outputs are computed once and kept; each runtime's outputs are compared chunk by
chunk as they come and then dropped, so memory holds one runtime's chunk, not every runtime's
outputs for every input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pocketml.export.verify.decisions import DecisionTally, decisions_cells
from pocketml.export.formats import FORMATS
from pocketml.export.runtimes import GATED_RUNTIMES
from pocketml.export.tolerances import Tolerance
from pocketml.export.verify.fp16_arithmetic import host_runner
from pocketml.export.verify.input_sets import InputSet
from pocketml.export.verify.noise_floor import NoiseFloor
from pocketml.export.verify.output_checks import (Check, OutputTally, cell, floor_lines, one_line,
                                                  output_rows)
from pocketml.export.verify.task_checks import LabelTally, metric_checks
from pocketml.folder.reference import run_batches, run_chunks, task_metrics, torch_runner


@dataclass
class RuntimeResult:
    format: str
    runtime: str
    max_abs_diff: float = 0.0
    max_rel_diff: float = 0.0
    label_agreement: float | None = None
    metrics: dict = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    error: str | None = None
    dimensions: dict[str, str] = field(default_factory=dict)  # name -> what the file does
    lowering: dict | None = None  # ExecuTorch: what XNNPACK took and what it left
    emulation: dict | None = None  # arm64 rows: the CPU emulated, the diff vs x86, the kernels
    gates: str | None = None  # a row that decides only this feature, not the verdict
    decisions: dict | None = None  # binary classifiers: flips and calibration (decisions.py)
    outputs: list[dict] = field(default_factory=list)  # each output's own verdict (output_checks)
    not_run: str | None = None  # a gated row whose runner could not drive the file: why

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.passed for c in self.checks)

    def as_dict(self) -> dict:
        return {"runtime": self.runtime, "max_abs_diff": self.max_abs_diff,
                "max_rel_diff": self.max_rel_diff, "label_agreement": self.label_agreement,
                "metrics": self.metrics, "passed": self.passed, "error": self.error,
                "checks": [c.__dict__ for c in self.checks], "dimensions": self.dimensions,
                "lowering": self.lowering, "emulation": self.emulation, "gates": self.gates,
                "decisions": self.decisions, "outputs": self.outputs,
                "not_run": self.not_run}


def compare(fmt: str, runtime: str, run, sets: list[InputSet], reference: dict,
            schema: dict | None, tolerance: Tolerance,
            floor: NoiseFloor | None = None) -> RuntimeResult:
    """Every output of `run` against PyTorch's on `sets`, each output judged on its own
    (output_checks); `floor` widens a float32 limit to PyTorch's own rounding where needed."""
    result = RuntimeResult(fmt, runtime)
    tallies: list[OutputTally] = []
    labels = LabelTally(schema)
    decisions = DecisionTally(schema)
    for s in sets:
        wanted, firsts = reference[s.name], []
        # The metrics need output 0 of the whole labelled set; nothing else is kept.
        keep_first = s.labels is not None and s.batch_size != 1 and not result.metrics
        for start, outputs in run_chunks(run, s.inputs, s.batch_size):
            rows = slice(start, start + len(outputs[0]))
            if s.labels is not None and s.batch_size != 1:
                decisions.add_test(outputs[0], wanted[0][rows], s.labels[rows])
            elif "random" in s.name:
                decisions.add_random(outputs[0], wanted[0][rows])
            tallies += [OutputTally(k) for k in range(len(tallies), len(outputs))]
            for tally, got, want in zip(tallies, outputs, wanted):
                want = want[rows]
                diff = tally.add(got, want, s.name, start)
                result.max_rel_diff = max(result.max_rel_diff,
                                          float((diff / (np.abs(want) + 1e-6)).max(initial=0)))
            labels.add(outputs[0], wanted[0][rows], s.name, start)
            if keep_first:
                firsts.append(outputs[0])
        if firsts:
            result.metrics = task_metrics(np.concatenate(firsts), s.labels, schema)
    result.max_abs_diff = max((t.worst for t in tallies), default=0.0)
    result.decisions = decisions.summary()
    for tally in tallies:
        result.checks += tally.judge(tolerance, bool(labels.total), len(tallies) > 1,
                                     floor and partial(floor.output, tally.index))
    result.outputs = [t.record() for t in tallies]
    if labels.total:
        result.label_agreement = labels.agree / labels.total
        result.checks.append(labels.check(tolerance))
    result.checks += metric_checks(result.metrics, reference.get("metrics", {}), schema, tolerance)
    return result


def check_parity(module: nn.Module, files: dict[str, Path], sets: list[InputSet],
                 schema: dict | None, runtimes: dict[str, list[str]], log=print,
                 load=host_runner) -> list[RuntimeResult]:
    """`files` maps format name -> exported file (None when its export failed); `load` makes
    a runner from a file and a runtime name (arm64.runner adds the emulated ones)."""
    probes = dimension_probes(sets, schema)
    reference = reference_outputs(module.eval(), sets, probes, schema, log)
    floor = NoiseFloor(module, reference, sets + [p.inputs for p in probes])
    judge = Judge(sets, reference, schema, probes, floor)
    results = []
    for fmt, path in files.items():
        for runtime in runtimes.get(fmt) or [FORMATS[fmt].runtimes[0]]:
            runner = None
            if path is None or not path.is_file():
                result = RuntimeResult(fmt, runtime, error="no exported file (export failed)")
            else:
                try:
                    runner = load(path, runtime)
                    result = judge(fmt, runtime, runner)
                except Exception as err:  # a runtime that refuses the file fails the check
                    result = refused(fmt, runtime, err)
            result.gates = GATED_RUNTIMES.get(runtime)
            log_result(result, runner, log)
            results.append(result)
    return results


def refused(fmt: str, runtime: str, err: Exception) -> RuntimeResult:
    """A runtime that could not run the file, in one line. A row that only gates a feature
    says "not run": that is no proof for the feature, and no failure of what it measures."""
    message = one_line(f"{type(err).__name__}: {err}")
    if runtime in GATED_RUNTIMES:
        return RuntimeResult(fmt, runtime, error=f"not run: {message}", not_run=message)
    return RuntimeResult(fmt, runtime, error=message)


def reference_outputs(module: nn.Module, sets: list[InputSet], probes: list[Probe],
                      schema: dict | None, log) -> dict:
    """PyTorch's outputs for every set and probe, and its metrics on the labelled set."""
    torch_run = torch_runner(module)
    reference = {s.name: run_batches(torch_run, s.inputs, s.batch_size)
                 for s in sets + [p.inputs for p in probes]}
    labelled = next((s for s in sets if s.labels is not None), None)
    reference["metrics"] = (task_metrics(reference[labelled.name][0], labelled.labels, schema)
                            if labelled else {})
    log(f"  reference: PyTorch {torch.__version__}; inputs: "
        + "; ".join(f"{s.name} ({len(s.inputs[0])} rows)" for s in sets))
    for s in sets:
        if s.note:
            log(f"  {s.note}")
    if reference["metrics"]:
        log("  PyTorch metrics: " + ", ".join(f"{k} {v:.4f}" for k, v in reference["metrics"].items()))
    return reference


@dataclass
class Judge:
    """One runner judged on every set and probe against PyTorch's outputs."""
    sets: list[InputSet]
    reference: dict
    schema: dict | None
    probes: list[Probe]
    floor: NoiseFloor

    def __call__(self, fmt: str, runtime: str, runner) -> RuntimeResult:
        # A runner that computes in another precision brings its own tolerance.
        tolerance = getattr(runner, "tolerance", FORMATS[fmt].tolerance)
        result = compare(fmt, runtime, runner.run, self.sets, self.reference, self.schema,
                         tolerance, self.floor)
        probe_dimensions(result, runner, self.probes, self.reference, self.schema, tolerance,
                         self.floor)
        result.lowering = runner.lowering
        result.emulation = getattr(runner, "emulation", None)
        return result


def log_result(result: RuntimeResult, runner, log) -> None:
    mark = "PASS" if result.passed else "NOT RUN" if result.not_run else "FAIL"
    log(f"  {mark} {result.format} on {result.runtime}"
        + (f": {result.not_run or result.error}" if result.error else ""))
    for check in result.checks:
        log(check.line())
    if result.dimensions:
        log("    dimensions: " + "; ".join(f"{name} {what}"
                                           for name, what in result.dimensions.items()))
    if result.lowering:
        log(f"    {lowering_line(result.lowering)}")
    for note in getattr(runner, "notes", list)():
        log(f"    {note}")
    if result.decisions:
        log("    decisions flipped: {}; {}".format(*decisions_cells(result.decisions)))


# -- which dimensions are truly dynamic ---------------------------------------------------

PROBE_ROWS = 64
PROBE_BATCH = 3  # neither the batch exported (1, 2 or 64) nor that of the input sets


@dataclass
class Probe:
    """Inputs at another size of one dimension, to see whether a file really runs them."""
    dimension: str
    size: int
    inputs: InputSet


def dimension_probes(sets: list[InputSet], schema: dict | None) -> list[Probe]:
    """The batch at PROBE_BATCH rows, and each dimension a user module declares dynamic at
    twice its example size: the same rows, repeated along it (so values stay valid)."""
    rows = [x[:PROBE_ROWS] for x in sets[0].inputs]
    probes = [Probe("batch", PROBE_BATCH, InputSet(f"batch of {PROBE_BATCH}", rows, PROBE_BATCH))]
    declared: dict[str, list[tuple[int, int]]] = {}
    for i, spec in enumerate((schema or {}).get("inputs", [])):
        for axis, size in enumerate(spec["shape"]):
            if isinstance(size, str):
                declared.setdefault(size, []).append((i, axis))
    for name, places in declared.items():
        tiled = list(rows)
        for i, axis in places:
            tiled[i] = np.concatenate([rows[i], rows[i]], axis=axis)
        size = tiled[places[0][0]].shape[places[0][1]]
        probes.append(Probe(name, size, InputSet(f"{name} of {size}", tiled, PROBE_BATCH)))
    return probes


def probe_dimensions(result: RuntimeResult, runner, probes: list[Probe], reference: dict,
                     schema: dict | None, tolerance: Tolerance,
                     floor: NoiseFloor | None = None) -> None:
    """Say per dimension what the file does; a size it runs but gets wrong fails the format.
    A file already off at its own sizes (fp16 weights through 50 layers) is as far off at
    another: that says nothing about the dimension."""
    accurate = result.passed
    for probe in probes:
        try:
            outcome = compare(result.format, result.runtime, runner.run, [probe.inputs],
                              reference, schema, tolerance, floor)
        except Exception as err:  # the runtime refuses the size: the dimension is fixed
            result.dimensions[probe.dimension] = (f"fixed: {probe.size} refused "
                                                  f"({type(err).__name__})")
            continue
        if not outcome.passed and accurate:
            result.checks += [Check(f"{probe.dimension} of {probe.size}: {c.name}", c.value,
                                    c.limit, c.passed, " (the file runs this size but gets it "
                                    "wrong: feed only the exported size)")
                              for c in outcome.checks if not c.passed]
            result.dimensions[probe.dimension] = f"wrong at {probe.size}"
        elif probe.dimension != "batch":
            result.dimensions[probe.dimension] = f"dynamic (ran {probe.size})"
        else:
            limit = runner.batch_limit
            result.dimensions["batch"] = (
                "dynamic" if limit is None else f"dynamic up to {limit}" if limit >= PROBE_BATCH
                else f"fixed at {limit} (the runner feeds rows one by one)")


def lowering_line(lowering: dict) -> str:
    left = lowering["not_delegated"]
    return (f"XNNPACK: {sum(lowering['delegated'].values())} nodes delegated in "
            f"{lowering['subgraphs']} subgraph(s); "
            + (f"{sum(left.values())} not delegated (portable kernels): "
               + ", ".join(f"{op} ×{n}" for op, n in left.items()) if left
               else "none left outside"))


def parity_document(results: list[RuntimeResult],
                    not_run: dict[str, dict[str, str]] | None = None,
                    sets: list[InputSet] | None = None) -> dict:
    """`not_run`: per format, the runtimes that could not be used here and how to add them;
    `sets`: the inputs checked, named in the report with how they were chosen."""
    formats = {}
    for fmt in dict.fromkeys(r.format for r in results):
        every = [r for r in results if r.format == fmt]
        runs = [r for r in every if not r.gates]
        first = runs[0]
        formats[fmt] = {
            "runtime": first.runtime,
            "max_abs_diff": max(r.max_abs_diff for r in runs),
            "max_rel_diff": max(r.max_rel_diff for r in runs),
            "label_agreement": min((r.label_agreement for r in runs
                                    if r.label_agreement is not None), default=None),
            "metrics": first.metrics,
            "decisions": first.decisions,
            "passed": all(r.passed for r in runs),
            "runtimes": {r.runtime: r.as_dict() for r in every},
            "not_run": (not_run or {}).get(fmt, {}),
        }
    return {"passed": all(f["passed"] for f in formats.values()) and bool(formats),
            "formats": formats,
            "inputs": [{"name": s.name, "rows": len(s.inputs[0]), "batch_size": s.batch_size,
                        **({"note": s.note} if s.note else {})} for s in sets or []]}


def parity_markdown(document: dict, reference_metrics: dict | None = None) -> str:
    lines = ["# Parity with PyTorch", "",
             f"Overall: **{'PASSED' if document['passed'] else 'FAILED'}**", "",
             "| format | runtime | max abs diff | max rel diff | label agreement | metrics | "
             "decisions flipped | Brier, ECE (test set) | dimensions | result |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    lowered = []
    for fmt, entry in document["formats"].items():
        for runtime, r in entry["runtimes"].items():
            agreement = "n/a" if r["label_agreement"] is None else f"{r['label_agreement']:.2%}"
            metrics = ", ".join(f"{k} {v:.4f}" for k, v in r["metrics"].items()) or "—"
            dimensions = "; ".join(f"{k} {v}" for k, v in r.get("dimensions", {}).items()) or "—"
            verdict = ("✓ pass" if r["passed"] else f"— {cell(r['error'])}" if r.get("not_run")
                       else f"✗ FAIL {cell(r['error'] or '')}")
            flips, calibration = decisions_cells(r.get("decisions"))
            lines.append(f"| {fmt} | {runtime} | {r['max_abs_diff']:.2e} | "
                         f"{r['max_rel_diff']:.2e} | {agreement} | {metrics} | {flips} | "
                         f"{calibration} | {dimensions} | {verdict} |")
            lines += output_rows(r)
            if r.get("lowering"):
                lowered.append(f"- {fmt}: {lowering_line(r['lowering'])}")
    lines += floor_lines(document)
    if lowered:
        lines += ["", "Lowering (recorded in each .pte file):", *lowered]
    exported = [f"- {fmt}: {entry['exported_dimensions']}"
                for fmt, entry in document["formats"].items() if entry.get("exported_dimensions")]
    if exported:
        lines += ["", "Dimensions each file was exported with:", *exported]
    not_run = [f"{fmt} on {runtime} ({how})" for fmt, entry in document["formats"].items()
               for runtime, how in entry.get("not_run", {}).items()]
    if not_run:
        lines += ["", "Not run here (runtime not available): " + "; ".join(not_run)]
    if document.get("inputs"):
        lines += ["", "Inputs: " + "; ".join(
            f"{s['name']} ({s['rows']} rows at batch {s['batch_size']})" for s in document["inputs"])]
        lines += [s["note"] + "." for s in document["inputs"] if s.get("note")]
    if reference_metrics:
        lines += ["", "PyTorch: " + ", ".join(f"{k} {v:.4f}" for k, v in reference_metrics.items())]
    lines += ["", f"Dimensions: checked by running a batch of {PROBE_BATCH} (and each declared "
              "dimension at twice its size) against PyTorch.",
              "", "Tolerances: " + "; ".join(f"{name}: {f.tolerance.describe()}"
                                             for name, f in FORMATS.items())]
    return "\n".join(lines) + "\n"
