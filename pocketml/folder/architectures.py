"""The architectures a model folder's model.json may name.

train/ declares them as `pocketml.architectures` entry points (pyproject.toml), so the folder
layer rebuilds a module without importing train/, and a name outside that list is refused:
model.json is data, never an import path to follow.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from torch import nn

GROUP = "pocketml.architectures"


def architectures() -> dict[str, object]:
    return {point.name: point for point in entry_points(group=GROUP)}


def build_model(config: dict) -> nn.Module:
    """Rebuild a model from the `config()` it was saved with."""
    params = dict(config)
    name = params.pop("architecture")
    known = architectures()
    if name not in known:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(sorted(known))}")
    return known[name].load()(**params)
