"""Each format's pass marks. Below the format table (formats.py), so that the converters that
check their own files (fp16 layers) and the verifiers can read them without importing it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerance:
    """Pass marks for one format. None means the check does not apply to that format."""
    max_abs_diff: float | None
    label_agreement: float
    metric_within: float | None = None  # |metric(format) - metric(PyTorch)|, e.g. ROC AUC

    def describe(self) -> str:
        parts = [f"max abs diff <= {self.max_abs_diff:g}"] if self.max_abs_diff else []
        parts.append(f"label agreement >= {self.label_agreement:.1%}")
        if self.metric_within is not None:
            parts.append(f"metric within {self.metric_within:g}")
        return ", ".join(parts)


FP32 = Tolerance(max_abs_diff=1e-5, label_agreement=1.0)
FP16 = Tolerance(max_abs_diff=1e-3, label_agreement=0.995)
INT8 = Tolerance(max_abs_diff=None, label_agreement=0.98, metric_within=0.01)
