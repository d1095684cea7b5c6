"""The checks a model's task adds: the labels it decides (pocketml/folder/reference.py: the
schema's threshold on a probability, or argmax) and its own metric on the labelled test set,
a format's against PyTorch's."""

from __future__ import annotations

import numpy as np

from pocketml.export.tolerances import Tolerance
from pocketml.export.verify.output_checks import Check
from pocketml.folder.reference import PRIMARY_METRIC, labels_of


class LabelTally:
    """The task's decisions (the schema's threshold or argmax on output 0), format vs PyTorch."""

    def __init__(self, schema: dict | None):
        self.schema, self.agree, self.total, self.first_differ = schema, 0, 0, ""

    def add(self, got: np.ndarray, want: np.ndarray, set_name: str, start: int) -> None:
        got_labels = labels_of(got, self.schema)
        if got_labels is None:
            return
        same = got_labels == labels_of(want, self.schema)
        self.agree, self.total = self.agree + int(same.sum()), self.total + len(same)
        if not same.all() and not self.first_differ:
            self.first_differ = f"{set_name}, row {start + int(np.argmin(same))}"

    def check(self, tolerance: Tolerance) -> Check:
        agreement = self.agree / self.total
        return Check("label agreement", agreement, f">= {tolerance.label_agreement:.1%}",
                     agreement >= tolerance.label_agreement,
                     f" [first disagreement: {self.first_differ}]" if self.first_differ else "")


def metric_checks(metrics: dict, theirs_all: dict, schema: dict | None,
                  tolerance: Tolerance) -> list[Check]:
    metric = PRIMARY_METRIC.get((schema or {}).get("task"))
    if tolerance.metric_within is None or metric not in metrics:
        return []
    ours, theirs = metrics[metric], theirs_all[metric]
    gap = abs(ours - theirs) / (abs(theirs) if metric == "rmse" else 1.0)
    return [Check(f"{metric} vs PyTorch's {theirs:.4f}", gap,
                  f"<= {tolerance.metric_within:g}" + (" relative" if metric == "rmse" else ""),
                  gap <= tolerance.metric_within)]
