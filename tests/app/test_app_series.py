"""The forecaster on the app's series chart, in a real Kivy Window under Xvfb at a phone's size:
`pocketml all --models lstm --app lstm` trains the lecture's LSTM on the sunspots, exports and
verifies it, and bundles it with golden windows (held-out windows, then flat ones at the
range's bounds); the app replays them at start as typed values, opens on the series' newest
window, predicts the next value as PyTorch does, draws it after the window, refuses a value it
cannot use, and Reset brings the newest window back.

Screenshots are kept in artifacts/screenshots-test/ (app_series_*.png, app_forecast_*.png;
`make screenshots` refreshes the committed ones)."""

from __future__ import annotations

import json
import re

import pytest
import torch

from app_fixtures import keep_screenshots, phone_metrics, run_driver
from pocketml.cli import main
from pocketml.folder.artifacts import load_model
from pocketml.pocketapp.bundle import open_bundle
from pocketml.pocketapp.half_precision import DesktopLiteRTFp16, load_fp16_predictor
from pocketml.pocketapp.predictors import DesktopLiteRT, DesktopOnnx
from pocketml.pocketapp.selfcheck import verify_on_device
from pocketml.pocketapp.series import SeriesSpec, step_names

PHONE = "360x740"
UNIT = "yearly mean sunspot number"


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory):
    """The trained folder and the app's bundle, both from `pocketml all`."""
    root = tmp_path_factory.mktemp("forecaster")
    assert main(["all", "--models", "lstm", "--app", "lstm", "--artifacts", str(root / "artifacts"),
                 "--app-model", str(root / "app"), "--no-progress"]) == 0
    return root / "artifacts" / "lstm", root / "app"


def forecast(folder, window: list[float]) -> float:
    with torch.no_grad():
        return float(load_model(folder)(torch.tensor(window).reshape(1, -1, 1))[0, 0])


def test_the_bundle_carries_golden_windows(forecaster):
    folder, bundle = forecaster
    spec = open_bundle(bundle).form
    assert isinstance(spec, SeriesSpec) and spec.window == 11 and spec.unit == UNIT
    assert [f.name for f in spec.fields] == step_names(11) == ["t-10", *[f"t-{k}" for k in
                                                                         range(9, 0, -1)], "t"]
    cases = json.loads((bundle / "golden.json").read_text())["cases"]
    sources = [c["source"].rsplit(" ", 1)[0] for c in cases]
    assert sources.count("test set row") == 16 and "edge case" in sources
    for case in cases:
        row, errors = spec.encode(case["values"])  # typed values, as a person enters them
        assert not errors and row == pytest.approx(case["input"], rel=1e-7)
        assert case["output"][0] == pytest.approx(forecast(folder, case["input"]), rel=1e-6)
    # the app opens on the newest window of the series the model was trained on
    schema = json.loads((bundle / "schema.json").read_text())
    assert spec.recent == schema["input"]["recent"] and len(spec.recent) == 11


@pytest.mark.parametrize("runtime", [DesktopLiteRT, DesktopOnnx])
def test_each_desktop_runtime_passes_the_self_check(forecaster, runtime):
    bundle = open_bundle(forecaster[1])
    verification = verify_on_device(bundle, runtime.load(bundle))
    assert verification.rows >= 16 and verification.max_diff <= 1e-5


def test_the_fp16_predictor_runs_a_window_as_verify_proved(forecaster):
    """A GPU delegate's arithmetic on the window's own shape: each golden window is among the
    rows `pocketml verify` ran in fp16, so none differs more than the proof recorded."""
    bundle = open_bundle(forecaster[1])
    half = load_fp16_predictor(bundle, "desktop")
    assert isinstance(half, DesktopLiteRTFp16)
    proved = json.loads((forecaster[1] / "delegates.json").read_text())["fp16_arithmetic"]
    cases = json.loads((forecaster[1] / "golden.json").read_text())["cases"]
    diffs = [abs(half.predict(case["input"]) - case["output"][0]) for case in cases]
    assert proved["passed"] and 0 < max(diffs) <= proved["max_abs_diff"]


def test_a_forecast_is_drawn_after_the_window(display, tmp_path, forecaster):
    folder, bundle = forecaster
    spec = open_bundle(bundle).form
    report = run_driver(display, tmp_path, "forecast", bundle, metrics=phone_metrics(),
                        answers={"t": "40"}, bad=["abc", "1,5", "500", ""], size=PHONE,
                        tag=f"lstm_{PHONE}")
    assert report["screen"] == "SeriesScreen"
    assert report["heading"] == "sequence-sunspots: the next value"
    verified = re.fullmatch(r"verified on this device: (\d+)/\1, max diff (0|\d(\.\d)?e-\d+)",
                            report["footer"].split("\n")[0])
    assert verified and int(verified[1]) >= 16, report["footer"]
    assert report["opened_on"] == spec.values(spec.recent)
    # the typed value replaced the newest; the model ran once, on exactly that window
    window = [*spec.recent[:-1], 40.0]
    assert report["predictions"] == 1
    assert report["outputs"][0] == pytest.approx(forecast(folder, window), rel=1e-5)
    assert report["result"] == f"Predicted next value: {report['outputs'][0]:.4g} {UNIT}"
    chart = report["chart"]
    assert chart["values"] == window and chart["forecast"] == report["outputs"][0]
    xs = [point[0] for point in chart["points"]]
    assert xs == sorted(xs) and len(xs) == 12  # oldest to newest, the forecast last
    # each value drawn at its height between the range's lines (0 and 190.2), in order
    low_y, high_y = chart["bounds_y"]
    heights = [point[1] for point in chart["points"]]
    for value, y in zip([*window, chart["forecast"]], heights):
        assert y == pytest.approx(low_y + value / 190.2 * (high_y - low_y), abs=1e-6)
    # bad values never reach the model, name the cell, and take the old forecast off the chart
    messages = {"abc": "not a number: abc", "1,5": "use a dot for decimals: 1.5",
                "500": "outside the plausible range 0 to 190.2", "": "required: enter a number"}
    for bad in report["bad"]:
        assert bad["result"] == f"Fix 1 value first: t: {messages[bad['text']]}"
        assert bad["invalid"] == ["t"] and not bad["reached_model"] and bad["forecast"] is None
    assert report["after_reset"] == {"answers": spec.values(spec.recent), "result": "",
                                     "forecast": None}
    for name, audit in report["audits"].items():
        assert not audit["problems"], (name, audit["problems"])
    keep_screenshots(report)
