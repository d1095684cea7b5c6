"""The drawing pad's spec: what an image classifier's schema (the digits CNN: one 1x28x28 image
of grey levels, a probability per class) asks of the app. It answers the same verbs as the
form's FormSpec, so the bundle, the predictors and the self-check serve both: `encode` turns
the strokes a finger drew (one answer, "strokes", as JSON) into the model's input with
drawing.py, `decide` ranks the classes."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .drawing import SIDE, rasterize
from .form import MULTICLASS, SchemaError
from .outcome import ClassRanking
from .schema import schema_problems

IMAGE_SHAPE = [-1, 1, SIDE, SIDE]
STROKES = "strokes"


@dataclass(frozen=True)
class StrokesField:
    """The pad's one answer: every pixel of the image comes from it."""

    name: str = STROKES
    label: str = "drawing"
    columns: range = range(SIDE * SIDE)


class PadSpec:
    """A drawing pad for a multi-class model of 28x28 grey images (0 = background, 255 = ink)."""

    task = MULTICLASS
    reference = None  # the explanation of a drawing is not built yet
    min_golden_cases = 10  # one drawing of each digit (export/verify/golden_drawings.py)

    def __init__(self, schema: dict):
        problems = schema_problems(schema)
        if schema.get("task") != MULTICLASS or not isinstance(schema.get("classes"), list):
            problems.append("a drawing pad needs a multi-class model with its classes")
        if problems:
            raise SchemaError("; ".join(problems) + ". Rebuild the bundle from a model "
                              "trained by pocketml.")
        self.classes = list(schema["classes"])
        self.n_outputs = len(self.classes)
        self.n_columns = SIDE * SIDE
        self.fields = [StrokesField()]
        self.model_name = schema.get("model", "model")
        self.heading = f"{self.model_name}: draw one, then Predict"

    def encode(self, answers: dict) -> tuple[list[float] | None, dict[str, str]]:
        """The image for the strokes in answers["strokes"] (JSON: a list of strokes, each a
        list of [x, y] points, y up), or (None, {"strokes": why not})."""
        try:
            strokes = json.loads(answers.get(STROKES) or "[]")
            return rasterize([[(float(x), float(y)) for x, y in s] for s in strokes]), {}
        except ValueError as err:
            return None, {STROKES: "draw something first" if "nothing" in str(err)
                          else f"not a drawing ({err})"}
        except TypeError as err:
            return None, {STROKES: f"not a drawing ({err})"}

    def decide(self, output) -> ClassRanking:
        return ClassRanking.of(output, self.classes)
