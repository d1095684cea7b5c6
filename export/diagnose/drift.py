"""`pocketml diagnose DIR --format F`: where an exported file starts to compute something else
than PyTorch.

PyTorch and the file run the same rows: the worst rows of the input set where the file's
output is furthest from PyTorch's (parity's input sets). PyTorch's module outputs come from
forward hooks; the file's intermediate tensors from its runtime's own hooks (taps.py), each
named by the module that made it. Every module is compared at its output, in the order PyTorch
ran them, by the largest difference relative to the range of that module's PyTorch values;
the first one past the format's tolerance is named, with the layers after it. Writes
diagnosis.md and error_per_layer.png (log scale) into DIR-diagnosis/F/ beside the model
folder, which must hold nothing its manifest does not list."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pocketml.folder.errors import UserError
from pocketml.export.folder_gate import opened_model_folder
from pocketml.export.formats import FORMATS
from pocketml.export.model_folder import ModelFolder, exported_files
from pocketml.export.verify.input_sets import input_sets
from pocketml.folder.reference import run_batches, torch_runner
from pocketml.export.runtimes import load_runner
from pocketml.export.diagnose.tap_alignment import (ACTIVATION_MODULES, ACTIVATIONS,
                                                    activated, in_pytorch_layout)
from pocketml.export.diagnose.taps import Tap, capture
from pocketml.folder.replace import replace_folder
from pocketml.folder.artifacts import atomic_write_bytes

WORST_ROWS = 64  # the rows diagnosed: the failing set's worst, worst first
RANGE_ROWS = 2000  # rows of that set that give each layer's PyTorch range
# Parity judges integer formats of regressors by the error relative to the output range
# (<= 0.05), and float formats by their absolute tolerance: each layer is judged the same way.
INTEGER_LAYER_TOLERANCE = 0.05
SKIPPED = (nn.Dropout, nn.Identity)  # nothing to compare: no op in any exported file


@dataclass
class Layer:
    module: str  # dotted path; "output" for what the model returns
    kind: str  # the module's class
    error: float | None = None  # max |file - PyTorch| / range of PyTorch's values
    tensor: str = ""  # the file's name for the tensor compared
    mapped_by: str = ""  # "name", "shape" (in order), "" when it could not be mapped
    clipped: float | None = None  # share of PyTorch's values outside the integer range
    limits: tuple[float, float] | None = None
    span: tuple[float, float] = (0.0, 0.0)  # PyTorch's values, least and greatest
    values: np.ndarray | None = field(default=None, repr=False)  # PyTorch's, on the rows

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "values"}


def diagnose_folder(folder: Path, fmt: str, out: Path | None = None, log=print,
                    trust_source: bool = False, trusted: tuple[bytes, ...] = ()) -> dict:
    """The folder opens through verify's checks (folder_gate.py): a file that verify refuses
    is never diagnosed. `out` is a pocketml folder, written as model folders are (folders.py):
    refused before any work when it holds a user's files, is a link or lies inside the model
    folder; locked for the whole run; replaced whole at the end."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}.")
    out = Path(out or default_out(Path(folder), fmt))
    check_out(Path(folder), out)
    with replace_folder(out, "--out") as staging:
        with opened_model_folder(folder, trust_source, trusted, log) as model:
            report, layers = diagnose_model(model, folder, fmt, log)
        plot_errors(staging / "error_per_layer.png", layers, report["tolerance"], fmt)
        atomic_write_bytes(staging / "diagnosis.md", diagnosis_markdown(report, folder).encode())
    log(summary_line(report))
    log(f"wrote {out / 'diagnosis.md'} and {out / 'error_per_layer.png'}")
    return report


def check_out(folder: Path, out: Path) -> None:
    """Refuse an --out inside the model folder (it must hold only what its manifest lists) or
    reached through a link (what it points to is someone else's)."""
    model, target = folder.resolve(), out.resolve()
    if target == model or model in target.parents:
        raise UserError(f"--out {out}: inside the model folder {folder}, which holds only what "
                        f"its manifest lists; give a folder beside it (the default is "
                        f"{default_out(folder, 'FORMAT')}).")
    linked = next((p for p in (out, *out.parents) if p.is_symlink()), None)
    if linked is not None:
        raise UserError(f"--out {out}: {linked} is a symbolic link, and pocketml never writes "
                        "through one; give a real folder.")


def diagnose_model(model: ModelFolder, folder: Path, fmt: str, log) -> tuple[dict, list[Layer]]:
    files = exported_files(model.folder)
    if files.get(fmt) is None:
        raise UserError(f"{folder} has no {FORMATS[fmt].filename} ({fmt} was "
                        f"{'not exported' if fmt not in files else 'refused by its exporter'}); "
                        f"export it first: pocketml export {folder} --formats ...,{fmt}")
    path = files[fmt]
    tolerance = FORMATS[fmt].tolerance.max_abs_diff or INTEGER_LAYER_TOLERANCE
    set_name, rows, reference = worst_rows(model, path, FORMATS[fmt].runtimes[0], log)
    log(f"diagnosing {fmt} on the {len(rows[0])} worst rows of {set_name}")
    layers = torch_layers(model.module, rows, reference)
    taps = capture(fmt, path, rows, model.job())
    unmapped_taps = match(layers, taps, len(rows[0]))
    first = next((layer for layer in layers
                  if layer.error is not None and layer.error > tolerance), None)
    report = {"format": fmt, "file": path.name, "inputs": set_name, "rows": len(rows[0]),
              "tolerance": tolerance, "first": None if first is None else first.module,
              "layers": [layer.as_dict() for layer in layers],
              "taps": len(taps), "taps_unmapped": unmapped_taps}
    return report, layers


def default_out(folder: Path, fmt: str) -> Path:
    return folder.resolve().with_name(f"{folder.resolve().name}-diagnosis") / fmt


def worst_rows(model: ModelFolder, path: Path, runtime: str, log
               ) -> tuple[str, list[np.ndarray], list[np.ndarray]]:
    """Parity's input sets through PyTorch and the file: the set where the file is furthest
    off, its WORST_ROWS worst rows (worst first), and RANGE_ROWS rows for the layer ranges."""
    run = load_runner(path, runtime).run
    torch_run = torch_runner(model.module.eval())
    worst = None
    for s in input_sets(model.schema, model.example, model.test_set):
        want = run_batches(torch_run, s.inputs, 64)
        got = run_batches(run, s.inputs, 64)
        span = max(1.0, max(float(w.max() - w.min()) for w in want))
        per_row = np.max([np.abs(g - w).reshape(len(g), -1).max(axis=1)
                          for g, w in zip(got, want)], axis=0) / span
        if worst is None or per_row.max() > worst[1].max():
            worst = (s, per_row)
        log(f"  {s.name}: worst output difference {per_row.max():.3g} of the output range")
    chosen, per_row = worst
    order = np.argsort(-per_row, kind="stable")
    picked = order[:WORST_ROWS]
    sample = order[:RANGE_ROWS]
    return (chosen.name, [x[picked] for x in chosen.inputs], [x[sample] for x in chosen.inputs])


def torch_layers(module: nn.Module, rows: list[np.ndarray], reference: list[np.ndarray]
                 ) -> list[Layer]:
    """Every module that computes something, in the order its forward finished, and the
    model's output; each with its output on `rows`, and its range on `reference`."""
    records: dict[str, list] = {}
    kinds = {}

    def hook(name):
        def record(_, __, output):
            value = output[0] if isinstance(output, (tuple, list)) else output
            records.setdefault(name, []).append(value.detach().float().numpy())
        return record

    handles = [m.register_forward_hook(hook(name)) for name, m in module.named_modules()
               if name and not isinstance(m, SKIPPED) and not has_children(m)]
    kinds.update({name: type(m).__name__ for name, m in module.named_modules() if name})
    try:
        with torch.no_grad():
            spans = {}
            outputs = module(*[torch.from_numpy(x) for x in reference])
            for name, values in records.items():
                spans[name] = (float(values[0].min()), float(values[0].max()))
            out = outputs[0] if isinstance(outputs, (tuple, list)) else outputs
            spans["output"] = (float(out.min()), float(out.max()))
            records.clear()
            outputs = module(*[torch.from_numpy(x) for x in rows])
    finally:
        for handle in handles:
            handle.remove()
    out = outputs[0] if isinstance(outputs, (tuple, list)) else outputs
    return ([Layer(name, kinds[name], span=spans[name], values=values[0])
             for name, values in records.items()]
            + [Layer("output", type(module).__name__, span=spans["output"], values=out.numpy())])


def has_children(module: nn.Module) -> bool:
    return any(True for _ in module.children())


def match(layers: list[Layer], taps: list[Tap], rows: int) -> int:
    """Give each layer the file's tensor that holds its output: by module name (the last
    tensor of that module with the same number of values per row), else by shape, in order,
    between the tensors the named layers took. Returns how many taps no layer took."""
    def fits(tap: Tap, layer: Layer) -> bool:
        return (tap.values.shape[0] == rows
                and tap.values[0].size == layer.values[0].size)

    taken: dict[int, int] = {}  # layer index -> tap index
    names = {layer.module for layer in layers}  # a tap named for one layer is not another's
    for i, layer in enumerate(layers[:-1]):
        named = [k for k, tap in enumerate(taps) if holds(tap, layer.module) and fits(tap, layer)]
        if named:
            taken[i] = named[-1]
            layer.mapped_by = "name"
    final = max((k for k, tap in enumerate(taps) if fits(tap, layers[-1])), default=None)
    if final is not None:  # the file's last value of the output's shape is its output
        taken[len(layers) - 1] = final
        layers[-1].mapped_by = "name"
    for i, layer in enumerate(layers):
        if i in taken:
            continue
        after = max((k for j, k in taken.items() if j < i), default=-1)
        before = min((k for j, k in taken.items() if j > i), default=len(taps))
        candidates = [k for k in range(after + 1, before) if fits(taps[k], layer)
                      and k not in taken.values() and taps[k].module not in names]
        if candidates:
            taken[i] = candidates[-1]
            layer.mapped_by = "shape"
    for i, k in taken.items():
        compare_layer(layers[i], taps[k])
    return len(taps) - len(set(taken.values()))


def holds(tap: Tap, module: str) -> bool:
    """Whether the tap holds `module`'s output: made by it, or by the op it was fused into
    together with an activation (compared with that activation applied: compare_layer)."""
    return tap.module == module or (module in tap.fused and tap.activation is not None)


def compare_layer(layer: Layer, tap: Tap) -> None:
    """The layer's PyTorch values as the tap holds them: through the activation TFLite fused
    into the layer's op (not when the layer is that activation's own module)."""
    fused = None if layer.kind in ACTIVATION_MODULES else tap.activation
    want, (low, high) = activated(layer.values, layer.span, fused)
    got = in_pytorch_layout(tap.values, want).reshape(len(want), -1).astype(np.float64)
    want = want.reshape(len(want), -1).astype(np.float64)
    layer.error = float(np.abs(got - want).max() / max(high - low, 1e-12))
    layer.tensor = tap.name
    if fused in ACTIVATIONS:
        layer.mapped_by += f", with its fused {fused}"
    if tap.limits is not None:
        layer.limits = (float(tap.limits[0]), float(tap.limits[1]))
        layer.clipped = float(((want < tap.limits[0]) | (want > tap.limits[1])).mean())


# -- the report ---------------------------------------------------------------------------

def summary_line(report: dict) -> str:
    layers = {layer["module"]: layer for layer in report["layers"]}
    if report["first"] is None:
        worst = max((l for l in report["layers"] if l["error"] is not None),
                    key=lambda l: l["error"], default=None)
        return (f"{report['format']}: no layer past the tolerance {report['tolerance']:g}"
                + (f" (largest: {worst['module']}, {worst['error']:.3g})" if worst else ""))
    first = layers[report["first"]]
    return (f"{report['format']}: first layer past the tolerance {report['tolerance']:g}: "
            f"{first['module']} ({first['kind']}), error {first['error']:.3g} of its range"
            + clipping(first))


def clipping(layer: dict) -> str:
    if not layer.get("clipped"):
        return ""
    low, high = layer["limits"]
    return (f"; {layer['clipped']:.1%} of PyTorch's values fall outside the integer range "
            f"[{low:.3g}, {high:.3g}] (PyTorch: [{layer['span'][0]:.3g}, {layer['span'][1]:.3g}])")


def diagnosis_markdown(report: dict, folder: Path) -> str:
    lines = [f"# Where {report['format']} ({report['file']}) drifts from PyTorch", "",
             summary_line(report) + ".", "",
             f"Rows: the {report['rows']} worst of {report['inputs']}, worst first. Error: the "
             "largest difference between the file's tensor and PyTorch's module output over "
             "those rows, divided by the range of PyTorch's values there. Tolerance: "
             f"{report['tolerance']:g}.", "",
             "| # | layer | module | error | past tolerance | mapped by | file's tensor | "
             "integer range clips |", "|---|---|---|---|---|---|---|---|"]
    for i, layer in enumerate(report["layers"], 1):
        error = "—" if layer["error"] is None else f"{layer['error']:.3g}"
        past = "" if layer["error"] is None else (
            "**yes**" if layer["error"] > report["tolerance"] else "no")
        clipped = "—" if layer["clipped"] is None else f"{layer['clipped']:.1%}"
        lines.append(f"| {i} | {layer['module']} | {layer['kind']} | {error} | {past} | "
                     f"{layer['mapped_by'] or 'not mapped'} | `{layer['tensor'] or '—'}` | "
                     f"{clipped} |")
    unmapped = [l["module"] for l in report["layers"] if not l["mapped_by"]]
    lines += ["", "Not mapped: " + (", ".join(unmapped) + " (no tensor of the file holds "
                                    "this module's output: fused into a neighbour, or computed "
                                    "in pieces)" if unmapped else "every layer was mapped") + "; "
              f"{report['taps_unmapped']} of the file's {report['taps']} tensors are inside "
              "layers (not compared).", "",
              f"Plot: error_per_layer.png. Rerun: `pocketml diagnose {folder} --format "
              f"{report['format']}`."]
    return "\n".join(lines) + "\n"


def plot_errors(path: Path, layers: list[Layer], tolerance: float, fmt: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [layer for layer in layers if layer.error is not None]
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(shown) + 2), 4))
    errors = [max(layer.error, 1e-9) for layer in shown]  # an exact match still gets a bar
    colours = ["tab:red" if e > tolerance else "tab:blue" for e in errors]
    ax.bar(range(len(shown)), errors, color=colours)
    ax.axhline(tolerance, color="black", ls="--", lw=1, label=f"tolerance {tolerance:g}")
    ax.set_yscale("log")
    ax.set_xticks(range(len(shown)), [f"{layer.module}\n{layer.kind}" for layer in shown],
                  fontsize=8)
    ax.set(ylabel="max |file - PyTorch| / PyTorch's range",
           title=f"{fmt}: error per layer, in the order PyTorch runs them")
    ax.legend(loc="upper left")
    fig.tight_layout()
    partial = path.with_name(f".{path.name}.partial")
    fig.savefig(partial, format="png", dpi=110)
    plt.close(fig)
    partial.replace(path)
