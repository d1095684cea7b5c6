"""Like with like: what a file's tensor holds, put beside PyTorch's values for the same layer.

- TFLite fuses an activation into the op before it (FULLY_CONNECTED or CONV_2D with
  fused_activation_function RELU): the tensor holds the activation's output, so the layer is
  compared with that activation applied to its PyTorch output (an fp32 file matching PyTorch
  to 1.5e-7 was blamed with "Linear, error 0.29" otherwise).
- TFLite computes convolutions channel-last (NHWC) where PyTorch is channel-first (NCHW): such a
  tensor is moved back to PyTorch's layout before it is compared.
"""

from __future__ import annotations

import numpy as np

# TFLite's ActivationFunctionType (schema.fbs) as PyTorch computes it.
ACTIVATIONS = {
    "RELU": lambda v: np.maximum(v, 0.0),
    "RELU6": lambda v: np.clip(v, 0.0, 6.0),
    "RELU_N1_TO_1": lambda v: np.clip(v, -1.0, 1.0),
    "TANH": np.tanh,
}
# PyTorch modules that are such an activation: their output is what the fused tensor holds.
ACTIVATION_MODULES = ("ReLU", "ReLU6", "Hardtanh", "Tanh")


def activated(values: np.ndarray, span: tuple[float, float], activation: str | None
              ) -> tuple[np.ndarray, tuple[float, float]]:
    """PyTorch's values and their range after the file's fused activation (all are monotonic,
    so the range's ends map to the new range's ends)."""
    if activation not in ACTIVATIONS:
        return values, span
    apply = ACTIVATIONS[activation]
    low, high = (float(apply(np.float64(end))) for end in span)
    return apply(values), (low, high)


def in_pytorch_layout(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """The file's tensor [rows, ...] shaped as PyTorch's: a row run at batch 1 loses that
    axis, and a channel-last tensor has its channels moved back to axis 1."""
    if got.ndim == want.ndim + 1 and got.shape[1] == 1:
        got = got[:, 0]
    if got.shape == want.shape or got.ndim < 3:
        return got
    channel_first = np.moveaxis(got, -1, 1)
    return channel_first if channel_first.shape == want.shape else got
