"""`pocketml explain DIR --row ...`: the app's prediction and per-field explanation for one
row, from the command line. It opens the bundle (or model folder) with the app's own reader,
validates the row with the app's form and runs the app's desktop predictor on model.tflite,
so its numbers are the app's numbers."""

from __future__ import annotations

import json
from pathlib import Path

from pocketml.folder.errors import UserError
from pocketml.export.console import quiet
from pocketml.folder.manifest import UNLISTED
from pocketml.pocketapp.bundle import BundleError, open_bundle
from pocketml.pocketapp.explain import explain
from pocketml.pocketapp.form import BINARY
from pocketml.pocketapp.predictors import load_predictor


def parse_row(text: str) -> dict[str, str]:
    """"sg=1.02,al=4,pc=abnormal" -> {"sg": "1.02", "al": "4", "pc": "abnormal"}."""
    answers = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, equals, value = part.partition("=")
        if not equals or not name.strip():
            raise UserError(f"--row: {part!r} is not FIELD=VALUE; write e.g. "
                            "--row 'sg=1.02,al=4,sod=135,hemo=9.1,pc=abnormal,htn=yes,dm=yes'.")
        answers[name.strip()] = value.strip()
    return answers


def explain_row(folder: Path, text: str, as_json: bool = False, log=print) -> dict:
    try:
        bundle = open_bundle(Path(folder), unlisted=UNLISTED)  # a model folder's reports too
    except BundleError as err:
        raise UserError(str(err)) from None
    form = bundle.form
    if form.reference is None:
        raise UserError(f"{folder}: this model has no reference row to explain against (a "
                        "drawing pad's model, or a bundle from an older pocketml); explain "
                        "takes a table model's bundle or folder.")
    answers = parse_row(text)
    unknown = sorted(set(answers) - {f.name for f in form.fields})
    if unknown:
        raise UserError(f"--row: {', '.join(unknown)} is not a field of this model; its fields "
                        f"are {', '.join(f.name for f in form.fields)}.")
    row, errors = form.encode(answers)
    if errors:
        raise UserError("--row: " + "; ".join(f"{name}: {message}"
                                              for name, message in errors.items()) + ".")
    with quiet():  # LiteRT announces its XNNPACK delegate on stderr
        predictor = load_predictor(bundle, "desktop")
    prediction = form.decide(predictor.predict(row))
    explanation = explain(form, row, predictor.predict)
    binary = form.task == BINARY
    result = {**({"probability": prediction.probability} if binary
                 else {"prediction": prediction.lines}),
              "label": prediction.label, **explanation.as_dict()}
    if as_json:
        log(json.dumps(result, indent=2))
    elif binary:
        log(f"Probability of {prediction.positive_class}: {prediction.percent} "
            f"(predicted class {prediction.label}, threshold {prediction.threshold:.0%}; "
            f"{predictor.runtime})")
    else:
        log(f"{'; '.join(prediction.lines)} ({predictor.runtime})")
    if not as_json:
        for c in explanation.contributions:
            log(f"  {c.line():<52} (typical: {c.reference})")
        log(f"  {explanation.total_line()}")
        log(explanation.heading)
    return result

