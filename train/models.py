"""Every architecture pocketml trains, by the name its `config()` saves.

Each class can be rebuilt from `config()`, which is how export/ reloads weights without pickle.
"""

from __future__ import annotations

from torch import nn

from pocketml.train.digits.model import DigitsCNN
from pocketml.train.kidney.model import MLP
from pocketml.train.sequence.model import SequenceRNN

ARCHITECTURES: dict[str, type[nn.Module]] = {
    "mlp": MLP, "digits_cnn": DigitsCNN, "sequence_rnn": SequenceRNN}


def build_model(config: dict) -> nn.Module:
    """Rebuild a model from the `config()` it was saved with."""
    params = dict(config)
    name = params.pop("architecture")
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name](**params)
