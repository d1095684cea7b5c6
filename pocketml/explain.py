"""`pocketml explain DIR --row ...`: the app's prediction and per-field explanation for one
row, from the command line. It opens the bundle (or model folder) with the app's own reader,
validates the row with the app's form and runs the app's desktop predictor on model.tflite,
so its numbers are the app's numbers."""

from __future__ import annotations

import json
from pathlib import Path

from pocketml.folder.errors import UserError
from pocketml.export.folder_gate import opened_for_app
from pocketml.pocketapp.explain import explain
from pocketml.pocketapp.form import BINARY


def parse_row(text: str) -> dict[str, str]:
    """"sg=1.02,al=4,pc=abnormal" -> {"sg": "1.02", "al": "4", "pc": "abnormal"}."""
    answers = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, equals, value = part.partition("=")
        if not equals or not name.strip():
            raise UserError(f"--row: {part!r} is not FIELD=VALUE; write e.g. "
                            "--row 'sg=1.02,al=4,sod=135,hemo=9.1,pc=abnormal,htn=yes,dm=yes'.")
        if name.strip() in answers:  # the app's form has one box per field
            raise UserError(f"--row: {name.strip()} is given twice ({answers[name.strip()]!r} "
                            f"and {value.strip()!r}); give each field once.")
        answers[name.strip()] = value.strip()
    return answers


def explain_row(folder: Path, text: str, as_json: bool = False, log=print,
                trusted: tuple[bytes, ...] = ()) -> dict:
    """The row's prediction and explanation, given only where the app would give them: the
    folder passes verify's checks, or the bundle its golden self-check (folder_gate.py)."""
    answers = parse_row(text)
    with opened_for_app(Path(folder), trusted, log) as (bundle, predictor):
        return explain_opened(bundle.form, predictor, answers, as_json, log)


def explain_opened(form, predictor, answers: dict[str, str], as_json: bool, log) -> dict:
    if form.reference is None:
        raise UserError("this model has no reference row to explain against (a drawing pad's "
                        "model, or a bundle from an older pocketml); explain takes a table "
                        "model's bundle or folder.")
    unknown = sorted(set(answers) - {f.name for f in form.fields})
    if unknown:
        raise UserError(f"--row: {', '.join(unknown)} is not a field of this model; its fields "
                        f"are {', '.join(f.name for f in form.fields)}.")
    row, errors = form.encode(answers)
    if errors:
        raise UserError("--row: " + "; ".join(f"{name}: {message}"
                                              for name, message in errors.items()) + ".")
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

