"""The float16 layer search (fp16_layers.bisect): one trial file where every layer takes
float16, the layers that do not fit found by halving, each trial judged on the whole set cast so
far, and at most MAX_CASTS trial files (untried layers keep float32)."""

from __future__ import annotations

from pocketml.export.convert.fp16_layers import MAX_CASTS, bisect

LAYERS = [f"layer_{i}" for i in range(53)]  # MobileNetV2's weight layers


def additive(effects: dict[str, float]):
    trials: list[list[str]] = []

    def effect(layers: list[str]) -> float:
        trials.append(list(layers))
        return sum(effects.get(layer, 1e-6) for layer in layers)
    return effect, trials


def test_a_model_that_takes_float16_everywhere_costs_one_trial():
    effect, trials = additive({})
    assert bisect(LAYERS, 8e-4, effect) == (LAYERS, 1)
    assert trials == [LAYERS]


def test_steep_layers_keep_float32_and_the_rest_is_cast_within_budget():
    steep = {"layer_3": 5e-3, "layer_40": 9e-4}
    effect, trials = additive(steep)
    chosen, tried = bisect(LAYERS, 8e-4, effect)
    assert set(LAYERS) - set(chosen) == set(steep)
    assert tried == len(trials) <= MAX_CASTS < len(LAYERS)
    assert effect(chosen) <= 8e-4


def test_the_search_is_bounded_and_untried_layers_keep_float32():
    steep = {layer: 1e-3 for layer in LAYERS[::4]}  # 14 layers past the budget alone
    effect, trials = additive(steep)
    chosen, tried = bisect(LAYERS, 8e-4, effect)
    assert tried == len(trials) == MAX_CASTS
    assert not set(chosen) & set(steep) and effect(chosen) <= 8e-4
