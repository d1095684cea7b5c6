"""What every exporter is given: the module, example inputs and names, and optional extras."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn


@dataclass
class ExportJob:
    module: nn.Module
    example_inputs: tuple[torch.Tensor, ...]
    input_names: list[str] = field(default_factory=list)
    output_names: list[str] = field(default_factory=list)
    schema: dict | None = None  # embedded in the ONNX metadata
    calibration: np.ndarray | None = None  # rows of the first input, for full-integer int8

    def __post_init__(self):
        self.module = self.module.eval().cpu()
        self.example_inputs = tuple(t.detach().cpu() for t in self.example_inputs)
        if not self.input_names:
            self.input_names = forward_parameter_names(self.module)[:len(self.example_inputs)]
        if not self.output_names:
            with torch.no_grad():
                outputs = self.module(*self.example_inputs)
            count = len(outputs) if isinstance(outputs, (tuple, list)) else 1
            self.output_names = ["output"] if count == 1 else [f"output_{i}" for i in range(count)]


def forward_parameter_names(module: nn.Module) -> list[str]:
    """The names of forward()'s positional parameters: what the TFLite signature will use."""
    return [p.name for p in inspect.signature(module.forward).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
