"""What every exporter is given: the module, example inputs and names, which dimensions are
dynamic, and optional extras."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from pocketml.export.convert.parametrizations import fold_parametrizations

# The input dtypes a user may declare, by the name the CLI and the schema use.
DTYPES = {"float32": torch.float32, "int32": torch.int32, "int64": torch.int64,
          "bool": torch.bool}
BATCH = "batch"  # axis 0 of every input: always exported as dynamic where the format allows
# Random rows an integer format is calibrated on where training rows do not cover the declared
# inputs: min-max ranges need many draws to see the tails.
CALIBRATION_ROWS = 2048


@dataclass(frozen=True)
class InputSpec:
    """One model input: its example shape (batch first), dtype, the range random parity inputs
    are drawn from, and the dimensions besides the batch that are declared dynamic
    (axis -> name; inputs that share a name share the size, e.g. token ids and their mask)."""
    shape: tuple[int, ...]
    dtype: str = "float32"
    range: tuple[float, float] | None = None
    dynamic: dict[int, str] = field(default_factory=dict)
    size_ranges: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # name -> range
    # One (low, high) per column of the last dimension (categorical ids, each column its own
    # vocabulary); `range` then spans them all.
    column_ranges: tuple[tuple[float, float], ...] = ()

    def example(self) -> torch.Tensor:
        """Two rows whose values run across the range (each column across its own), so that
        parity's random inputs, drawn across the example's values (random_like below), cover
        it; zeros for a float input without a range (parity then draws standard normal
        values)."""
        shape = (2, *self.shape[1:])
        if self.dtype == "bool":
            return (torch.arange(int(np.prod(shape))) % 2 == 1).reshape(shape)
        if self.range is None:
            return torch.zeros(shape, dtype=DTYPES[self.dtype])
        if self.column_ranges:
            cells = int(np.prod(shape[:-1]))
            values = np.stack([np.linspace(*r, num=cells) for r in self.column_ranges], axis=-1)
        else:
            values = np.linspace(*self.range, num=int(np.prod(shape)))
        values = torch.from_numpy(values.reshape(shape))
        return (values if self.dtype == "float32" else values.round()).to(DTYPES[self.dtype])

    @classmethod
    def of(cls, tensor: torch.Tensor, value_range=None, dynamic=None) -> "InputSpec":
        """The Python API's input: dtype from the example tensor; an integer input without a
        range is drawn across the example's own values; a range may be one (low, high) per
        column of the last dimension."""
        names = {dtype: name for name, dtype in DTYPES.items()}
        if tensor.dtype not in names:
            raise ValueError(f"input dtype {tensor.dtype} is not supported; use one of "
                             f"{', '.join(DTYPES)}.")
        dtype = names[tensor.dtype]
        if value_range is None and dtype in ("int32", "int64"):
            value_range = (int(tensor.min()), int(tensor.max()))
        columns = tuple(map(tuple, value_range)) if np.ndim(value_range) == 2 else ()
        if columns:  # one (low, high) per column of the last dimension
            value_range = (min(r[0] for r in columns), max(r[1] for r in columns))
        return cls(tuple(tensor.shape), dtype, None if value_range is None else tuple(value_range),
                   dict(dynamic or {}), column_ranges=columns)

    def schema(self, name: str) -> dict:
        """How the schema describes it: -1 for the batch, the name for a dynamic dimension."""
        shape = [-1] + [self.dynamic.get(axis, size) for axis, size in enumerate(self.shape)][1:]
        return {"name": name, "dtype": self.dtype, "shape": shape,
                **({"range": list(self.range)} if self.range is not None else {}),
                **({"sizes": {name: list(r) for name, r in self.size_ranges.items()}}
                   if self.size_ranges else {}),
                **({"column_ranges": [list(r) for r in self.column_ranges]}
                   if self.column_ranges else {})}


@dataclass
class ExportJob:
    module: nn.Module
    example_inputs: tuple[torch.Tensor, ...]
    input_names: list[str] = field(default_factory=list)
    output_names: list[str] = field(default_factory=list)
    schema: dict | None = None  # embedded in the ONNX metadata
    calibration: np.ndarray | None = None  # rows of the first input, for full-integer int8
    notes: list[str] = field(default_factory=list)  # what an exporter decided, for its log line
    # Per dimension name, the (min, max) sizes an export declares (max None: unbounded): the
    # user's (--input-shape h=64@8..512), narrowed where torch.export asks (dim_ranges).
    size_ranges: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    folded: list[str] = field(default_factory=list)  # parametrizations made plain weights

    def __post_init__(self):
        self.module, self.folded = fold_parametrizations(self.module.eval().cpu())
        self.example_inputs = tuple(t.detach().cpu() for t in self.example_inputs)
        if not self.input_names:
            self.input_names = forward_parameter_names(self.module, len(self.example_inputs))
        if not self.output_names:
            with torch.no_grad():
                outputs = self.module(*self.example_inputs)
            count = len(outputs) if isinstance(outputs, (tuple, list)) else 1
            self.output_names = ["output"] if count == 1 else [f"output_{i}" for i in range(count)]
        for spec in (self.schema or {}).get("inputs", []):
            for name, (low, high) in spec.get("sizes", {}).items():
                self.size_ranges.setdefault(name, (low, high))

    @property
    def dynamic(self) -> tuple[dict[int, str], ...]:
        """Per input, the dimensions besides the batch that the schema names (axis -> name)."""
        inputs = (self.schema or {}).get("inputs") or [{} for _ in self.example_inputs]
        return tuple({axis: size for axis, size in enumerate(i.get("shape", []))
                      if isinstance(size, str)} for i in inputs)

    def plans(self) -> list[Kept]:
        """What an export may keep dynamic, most first: all, then the batch fixed, then the
        declared dimensions fixed, then nothing."""
        if not any(self.dynamic):
            return [Kept(True, False), Kept(False, False)]
        return [Kept(True, True), Kept(False, True), Kept(True, False), Kept(False, False)]

    def batched(self, size: int) -> tuple[torch.Tensor, ...]:
        """The example inputs with `size` rows (rows repeated): torch.export treats a size of
        1 as a constant, so a dynamic batch is traced with more."""
        return tuple(t[torch.arange(size) % len(t)].contiguous() for t in self.example_inputs)

    def dynamic_shapes(self, max_batch: int | None = None, max_scale: int | None = None,
                       kept: Kept | None = None) -> dict:
        """torch.export's dynamic_shapes, by forward()'s parameters (a `*args` parameter takes
        a tuple): the batch up to `max_batch` and each declared dimension up to `max_scale`
        times its example size (None: unbounded), one Dim per name, as far as `kept` keeps
        them."""
        kept = kept or Kept()

        def dim(name, upper):
            low, high = self.size_range(name, upper)
            return torch.export.Dim(name, min=low, **({} if high is None else {"max": high}))

        dims = {BATCH: dim(BATCH, max_batch)}
        for spec, t in zip(self.dynamic, self.example_inputs):
            for axis, name in spec.items():
                dims.setdefault(name, dim(name, max_scale and max_scale * t.shape[axis]))
        per_input = [{**({0: dims[BATCH]} if kept.batch else {}),
                      **({axis: dims[name] for axis, name in spec.items()} if kept.declared
                         else {})} or None
                     for spec in self.dynamic]
        return by_parameter(self.module, per_input)

    def describe(self, kept: Kept, max_batch: int | None = None,
                 max_scale: int | None = None) -> str:
        """What a file exported under `kept` takes, e.g. "batch 1-64, seq 1-48" or
        "batch fixed at 1, seq fixed at 12"."""
        def span(name: str, upper: int | None) -> str:
            low, high = self.size_range(name, upper)
            return f"{low}-{high}" if high is not None else \
                "dynamic" if low == 1 else f"{low} and up"

        parts = [f"batch {span(BATCH, max_batch) if kept.batch else 'fixed at 1'}"]
        sizes = {}
        for spec, t in zip(self.dynamic, self.example_inputs):
            for axis, name in spec.items():
                sizes.setdefault(name, t.shape[axis])
        for name, size in sizes.items():
            parts.append(f"{name} " + (span(name, max_scale and max_scale * size)
                                       if kept.declared else f"fixed at {size}"))
        return ", ".join(parts)

    def size_range(self, name: str, upper: int | None = None) -> tuple[int, int | None]:
        """The sizes a dimension is declared over: its range, capped at `upper` (a format's
        own bound, e.g. ExecuTorch's memory plan)."""
        low, high = self.size_ranges.get(name, (1, None))
        tops = [t for t in (high, upper) if t is not None]
        return low, min(tops) if tops else None


@dataclass(frozen=True)
class Kept:
    """Which dimensions one export keeps dynamic: the batch, and those the user declared."""
    batch: bool = True
    declared: bool = True


def by_parameter(module: nn.Module, per_input: list) -> dict:
    """Values given per input, in the structure torch.export binds inputs to forward()'s
    parameters: by name, and a tuple for a `*args` parameter."""
    bound = inspect.signature(module.forward).bind(*range(len(per_input))).arguments
    return {name: (tuple(per_input[i] for i in index) if isinstance(index, tuple)
                   else per_input[index]) for name, index in bound.items()}


def random_like(example: torch.Tensor, n: int, rng: np.random.Generator,
                ranges=None) -> np.ndarray:
    """`n` random rows shaped and typed like `example`: uniform in `ranges` (the schema's: one
    (low, high), or one per column of the last dimension) when given, else across the
    example's own values (InputSpec.example spans the declared range). A float example that
    is constant declares no range: standard normal values."""
    values = example.detach().cpu().numpy()
    shape = (n, *values.shape[1:])
    if ranges is not None and np.ndim(ranges) == 2:  # per column: each drawn in its own
        return np.stack([random_like(example[..., i], n, rng, r) for i, r in enumerate(ranges)],
                        axis=-1)
    low, high = ranges if ranges else (values.min(), values.max())
    if values.dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if np.issubdtype(values.dtype, np.integer):
        return rng.integers(int(low), int(high) + 1, size=shape).astype(values.dtype)
    if low == high:
        return rng.standard_normal(shape).astype(values.dtype)
    return rng.uniform(low, high, size=shape).astype(values.dtype)


def declared_ranges(schema: dict | None, count: int) -> list:
    """Per input, the per-column ranges a user module declares (None: drawn across the
    example's values, as before)."""
    inputs = (schema or {}).get("inputs") or []
    return [(inputs[i].get("column_ranges") if i < len(inputs) else None) for i in range(count)]


def forward_parameter_names(module: nn.Module, count: int | None = None) -> list[str]:
    """The names forward() gives its first `count` positional inputs (all named ones when
    None): a `*args` parameter's are args_0, args_1, ... What the exported files call them."""
    names = []
    for p in inspect.signature(module.forward).parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
        elif p.kind == p.VAR_POSITIONAL and count is not None:
            names += [f"{p.name}_{i}" for i in range(count - len(names))]
    return names if count is None else names[:count]


def calibration_rows(training: np.ndarray | None, schema: dict | None,
                     example: torch.Tensor) -> np.ndarray | None:
    """What integer formats calibrate their ranges on: the training rows, and CALIBRATION_ROWS
    random rows from the input range the schema of a regressor declares (the sequence
    models' windows), since that is what the file is promised to take. Calibrated on the sunspot windows alone,
    the RNN's and LSTM's output layer clipped at [-1.2, 3.1] (standardized) where random
    in-range windows reach [-2.1, 4.9]: off by 25 % of the output range (`pocketml diagnose`).
    205 random windows left the RNN at 6.4 %, 512 the LSTM at 5.8 % (tolerance 5 %)."""
    ranges = (schema or {}).get("input", {}).get("range")
    if training is None or not ranges or schema.get("task") != "regression":
        return training  # a classifier's output is bounded; a forecaster's is in raw units
    rng = np.random.default_rng(1)  # not parity's seed 0: calibrate on other draws
    drawn = random_like(example, CALIBRATION_ROWS, rng, ranges).astype(training.dtype)
    return np.concatenate([training, drawn])
