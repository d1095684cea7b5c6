"""Weights computed by a parametrization (weight_norm, spectral_norm) folded into plain weights
before export, on a copy of the module.

Exported as they are, weight_norm's g * v / ||v|| is a pow/sum/div subgraph in every file,
computed at each call, outside XNNPACK's fused kernels. In eval mode the weight it computes is
fixed, so each file gets that weight as a constant, and the export log says which were folded.
Both APIs are covered: torch.nn.utils.parametrize (parametrizations.weight_norm and
spectral_norm) and the older forward pre-hooks (torch.nn.utils.weight_norm, spectral_norm).
"""

from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.spectral_norm import SpectralNorm
from torch.nn.utils.weight_norm import WeightNorm

# The older hooks, and how each is removed (leaving its computed weight in place).
HOOKS = {WeightNorm: ("weight_norm", nn.utils.remove_weight_norm),
         SpectralNorm: ("spectral_norm", nn.utils.remove_spectral_norm)}

# parametrizations.weight_norm's and spectral_norm's classes, by the names users call them.
KINDS = {"_WeightNorm": "weight_norm", "_SpectralNorm": "spectral_norm"}


def fold_parametrizations(module: nn.Module) -> tuple[nn.Module, list[str]]:
    """(the module with every parametrized weight made a plain one, what was folded as
    "KIND of PATH.NAME"); the module itself, untouched, where nothing is parametrized."""
    if not any(parametrized(m) for m in module.modules()):
        return module, []
    # The older hooks leave the weight they computed as a non-leaf tensor, which deepcopy
    # refuses: the copy gets it detached (its hook computes it again at each call anyway).
    computed = {id(t): t.detach().clone() for m in module.modules()
                for hook in m._forward_pre_hooks.values() if type(hook) in HOOKS
                for t in [getattr(m, hook.name)] if not t.is_leaf}
    folded_module, folded = copy.deepcopy(module, computed), []
    for path, m in list(folded_module.named_modules()):
        where = f"{path}." if path else ""
        for hook in list(m._forward_pre_hooks.values()):
            if type(hook) in HOOKS:
                kind, remove = HOOKS[type(hook)]
                remove(m, hook.name)
                folded.append(f"{kind} of {where}{hook.name}")
        if parametrize.is_parametrized(m):
            own_class(m)
            for name in list(m.parametrizations):
                kinds = ", ".join(KINDS.get(type(p).__name__, type(p).__name__)
                                  for p in m.parametrizations[name])
                parametrize.remove_parametrizations(m, name, leave_parametrized=True)
                folded.append(f"{kinds} of {where}{name}")
    return folded_module.eval(), folded


def own_class(m: nn.Module) -> None:
    """Give a copied parametrized module a class of its own: parametrize makes one class per
    module, which deepcopy shares with the original, and removing a parametrization deletes
    its property from that class (the original then has no weight)."""
    cls = type(m)
    body = {k: v for k, v in vars(cls).items() if k not in ("__dict__", "__weakref__")}
    m.__class__ = type(cls.__name__, cls.__bases__, body)


def parametrized(m: nn.Module) -> bool:
    return parametrize.is_parametrized(m) or any(
        type(hook) in HOOKS for hook in m._forward_pre_hooks.values())
