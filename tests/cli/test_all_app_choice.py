"""`pocketml all --app NAME` chooses which model goes into the app: a table model trained from
the user's CSV (`--models table --table FILE --target COLUMN`) as well as the kidney model, the
digits CNN (a drawing pad) or a forecaster (a series chart, tests/app/test_app_series.py); a
model not trained is refused before any training."""

from __future__ import annotations

import json

import pytest

from pocketml.cli import main
from table_data import wine_csv


@pytest.mark.parametrize("argv, words", [
    (["--models", "lstm", "--app", "rnn"], ["--app rnn: not among --models lstm"]),
    (["--models", "kidney", "--app", "table"], ["--app table: not among --models kidney"]),
    (["--models", "table"], ["--models table needs --table FILE.csv and --target COLUMN"]),
])
def test_a_model_the_app_cannot_take_is_refused_before_training(tmp_path, capsys, argv, words):
    assert main(["all", "--artifacts", str(tmp_path / "artifacts"), *argv]) == 2
    error = capsys.readouterr().err
    for word in words:
        assert word in error
    assert not (tmp_path / "artifacts").exists()


def test_all_puts_the_users_table_model_into_the_app(tmp_path, capsys):
    csv = wine_csv(tmp_path)
    app = tmp_path / "app_model"
    sidecar = tmp_path / "wine.json"  # what `train table --sidecar` takes, through `all`
    sidecar.write_text(json.dumps({"columns": {"alcohol": {"label": "alcohol content",
                                                           "unit": "% vol"}}}))
    assert main(["all", "--models", "table", "--table", str(csv), "--target", "target",
                 "--sidecar", str(sidecar), "--k", "12", "--app", "table", "--app-model",
                 str(app), "--artifacts", str(tmp_path / "artifacts"), "--no-progress"]) == 0
    schema = json.loads((app / "schema.json").read_text())
    assert schema["task"] == "multiclass_classification" and schema["model"] == "wine"
    fields = {c.get("field", c["name"]): c for c in schema["columns"]}
    assert len(fields) == 12 and fields["alcohol"]["label"] == "alcohol content"
    assert fields["alcohol"]["unit"] == "% vol"
    golden = json.loads((app / "golden.json").read_text())
    assert len(golden["cases"]) == 32 and all(len(c["output"]) == 3 for c in golden["cases"])
    summary = (tmp_path / "artifacts" / "summary.md").read_text()
    assert "| table |" in summary and "held out" in summary
