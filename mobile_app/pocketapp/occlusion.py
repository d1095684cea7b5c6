"""Which parts of a drawing the answer rests on: an occlusion map (Zeiler and Fergus, 2014).

The image is cut into PATCH x PATCH squares; each square that holds ink is blanked in turn (set
to the background, 0) and the model run again. What the most likely class's probability loses
is that square's share: a large loss marks ink the answer needs, a gain ink that spoke for
another class. A square with no ink is background already: blanking it changes nothing, so it
is not run. A 28x28 digit has about 20 inked squares of 4x4, so the map costs about 20 runs of
the model, each a few milliseconds on a phone. Pure Python, like the rest of pocketapp."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

PATCH = 4


@dataclass(frozen=True)
class OcclusionMap:
    label: str  # the class explained: the most likely one
    probability: float
    side: int  # the image's side, in pixels
    patch: int
    losses: list[list[float]]  # [row][column] of patches: the probability lost when blanked

    @property
    def largest(self) -> float:
        return max((abs(v) for row in self.losses for v in row), default=0.0)

    def as_dict(self) -> dict:
        return {"label": self.label, "probability": self.probability, "patch": self.patch,
                "losses": self.losses}


def occlusion_map(image: Sequence[float], side: int, classes: Sequence[str],
                  probabilities: Sequence[float], predict: Callable[[list[float]], list[float]],
                  patch: int = PATCH) -> OcclusionMap:
    """The map of `image` (side x side grey levels, row by row) for its most likely class by
    `probabilities` (the model's output for it); `predict` is the app's predictor."""
    best = max(range(len(classes)), key=lambda k: probabilities[k])
    patches = -(-side // patch)
    losses = [[0.0] * patches for _ in range(patches)]
    for row in range(patches):
        for column in range(patches):
            pixels = [r * side + c for r in range(row * patch, min(side, (row + 1) * patch))
                      for c in range(column * patch, min(side, (column + 1) * patch))]
            if not any(image[i] for i in pixels):
                continue
            blanked = list(image)
            for i in pixels:
                blanked[i] = 0.0
            losses[row][column] = probabilities[best] - predict(blanked)[best]
    return OcclusionMap(classes[best], float(probabilities[best]), side, patch, losses)
