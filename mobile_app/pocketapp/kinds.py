"""Which screen a schema gets: a drawing pad for an image classifier, a series chart for a
forecaster, else the form its columns describe. `pocketml bundle` asks the same question before
it verifies anything, so a bundle the app cannot show is never written."""

from __future__ import annotations

from .form import FormSpec, SchemaError
from .pad import IMAGE_SHAPE, PadSpec
from .series import SeriesSpec, is_series_model


def is_image_model(schema) -> bool:
    return isinstance(schema, dict) and "columns" not in schema and isinstance(
        schema.get("input"), dict) and schema["input"].get("shape") == IMAGE_SHAPE


def spec_for(schema) -> FormSpec | PadSpec | SeriesSpec:
    if is_image_model(schema):
        return PadSpec(schema)
    if is_series_model(schema):
        return SeriesSpec(schema)
    if isinstance(schema, dict) and "columns" not in schema:
        given = schema.get("input")
        shape = given.get("shape") if isinstance(given, dict) else None
        raise SchemaError(
            f"no columns, and an input of shape {shape!r}: this app shows a form for a table's "
            f"columns, a drawing pad for one {IMAGE_SHAPE[1:]} grey image, or a chart for a "
            "window of one series (shape [-1, W, 1]). Export this model for another app, or "
            "train one of these with pocketml.")
    return FormSpec(schema)
