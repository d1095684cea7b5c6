"""Golden cases for a drawing pad (pocketapp/pad.py): strokes a person could draw, one set per
digit, as the app's self-check replays them at start. Each case carries the strokes (JSON, y
up), the image pocketapp/drawing.py makes of them (the row PyTorch was given), PyTorch's
probabilities at batch 1, and its most likely class."""

from __future__ import annotations

import json

import numpy as np
import torch
from torch import nn

from pocketml.export.verify.parity import run_batches, torch_runner
from pocketml.pocketapp.pad import STROKES, PadSpec
from pocketml.pocketapp.selfcheck import GOLDEN_FORMAT

# A digit each, drawn on a 100 x 100 square (y up), as polylines a finger would trace.
DIGIT_STROKES = {
    "0": [[(50, 95), (25, 80), (15, 50), (25, 15), (50, 5), (75, 15), (85, 50), (75, 80),
           (50, 95)]],
    "1": [[(45, 90), (55, 95), (55, 5)]],
    "2": [[(20, 75), (35, 92), (60, 95), (78, 80), (75, 55), (20, 8), (85, 8)]],
    "3": [[(20, 85), (50, 95), (75, 82), (70, 60), (45, 52), (72, 42), (78, 18), (50, 5),
           (20, 15)]],
    "4": [[(60, 95), (15, 35), (85, 35)], [(62, 65), (62, 5)]],
    "5": [[(75, 95), (30, 95), (25, 55), (55, 60), (75, 42), (70, 15), (45, 5), (20, 15)]],
    "6": [[(70, 92), (40, 80), (22, 45), (28, 12), (52, 5), (72, 20), (68, 45), (45, 52),
           (25, 40)]],
    "7": [[(15, 92), (85, 92), (40, 5)]],
    "8": [[(50, 52), (25, 70), (35, 92), (65, 92), (75, 70), (50, 52), (22, 30), (30, 8),
           (70, 8), (78, 30), (50, 52)]],
    "9": [[(75, 70), (55, 55), (28, 62), (30, 88), (55, 95), (75, 80), (72, 40), (60, 5)]],
}


def drawn_golden(module: nn.Module, form: PadSpec) -> dict:
    """One case per drawn digit: strokes, image, PyTorch's output and decision."""
    strokes = [json.dumps(s) for s in DIGIT_STROKES.values()]
    rows = [form.encode({STROKES: text})[0] for text in strokes]
    inputs = np.asarray(rows, np.float32).reshape(-1, 1, 28, 28)
    outputs = run_batches(torch_runner(module.eval()), [inputs], 1)[0]
    return {"format": GOLDEN_FORMAT, "reference": f"PyTorch {torch.__version__}",
            "columns": [], "cases": [
                {"source": f"drawn {digit}", "values": {STROKES: text},
                 "input": inputs[k].reshape(-1).tolist(), "output": outputs[k].tolist(),
                 "label": form.classes[int(outputs[k].argmax())]}
                for k, (digit, text) in enumerate(zip(DIGIT_STROKES, strokes))]}
