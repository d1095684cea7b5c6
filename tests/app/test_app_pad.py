"""The digits CNN on the app's drawing pad, in a real Kivy Window under Xvfb at a phone's size:
`pocketml bundle` writes golden cases of drawn strokes (one per digit), the app replays them
at start through its own rasterizer and runtime, a finger's strokes (simulated touches) become
the image pocketapp/drawing.py makes of them, Predict ranks the classes as PyTorch does on that
image and shows that image with its occlusion map (pocketapp/occlusion.py), and Clear empties
the pad.

Screenshots are kept in artifacts/screenshots-test/ (app_pad_*.png, app_drawn_*.png; `make
screenshots` refreshes the committed ones)."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import torch

from app_fixtures import GOLDEN, keep_screenshots, phone_metrics, run_driver, write_manifest
from pocketml.cli import main
from pocketml.export.verify.golden import app_form, write_golden
from pocketml.export.verify.golden_drawings import DIGIT_STROKES
from pocketml.export.model_folder import export_folder
from pocketml.pocketapp.drawing import rasterize
from pocketml.pocketapp.pad import PadSpec
from pocketml.folder.artifacts import load_model, read_json
from pocketml.train.digits.train import train_digits
from pocketml.train.loop import TrainConfig

SMOKE = TrainConfig(epochs=2, patience=2, progress=False, device="cpu")
PHONE = "360x740"
# Digits as a finger draws them on the pad: fractions of the pad's width and height, y up.
DRAWN_ONE = [[[0.45, 0.85], [0.5, 0.9], [0.5, 0.6], [0.5, 0.35], [0.5, 0.1]]]
DRAWN_FOUR = [[[0.6, 0.95], [0.15, 0.35], [0.85, 0.35]], [[0.62, 0.65], [0.62, 0.05]]]


@pytest.fixture(scope="module")
def digits_bundle(tmp_path_factory):
    """A two-epoch digits CNN and its bundle, with the files and golden cases `pocketml bundle`
    writes. Assembled here rather than by `pocketml bundle`: that one bundles only a folder that
    passes parity, and this smoke model's model.tflite misses the fp32 tolerance on some of its
    7,000 parity inputs (1.1e-5 against 1e-5, seen on this machine), which the fully trained
    model is not asked here to show."""
    folder = tmp_path_factory.mktemp("digits") / "model"
    train_digits(folder, None, SMOKE, log=lambda _: None)
    export_folder(folder, ["onnx", "tflite"], log=lambda _: None)
    bundle = folder.parent / "app"
    bundle.mkdir()
    for name in ("model.tflite", "model.onnx", "schema.json"):
        shutil.copy(folder / name, bundle / name)
    write_golden(folder, bundle / GOLDEN)
    write_manifest(bundle)
    return folder, bundle


def probabilities(folder, image: list[float]) -> np.ndarray:
    x = torch.tensor(image, dtype=torch.float32).reshape(1, 1, 28, 28)
    with torch.no_grad():
        return load_model(folder)(x).numpy()[0]


def test_the_bundle_carries_drawn_golden_cases(digits_bundle):
    folder, bundle = digits_bundle
    # what `pocketml bundle` checks first: the app can show this model (a pad, not a form)
    assert isinstance(app_form(read_json(folder / "schema.json")), PadSpec)
    cases = json.loads((bundle / "golden.json").read_text())["cases"]
    assert [c["source"] for c in cases] == [f"drawn {d}" for d in DIGIT_STROKES]
    for case in cases:
        strokes = json.loads(case["values"]["strokes"])
        assert case["input"] == pytest.approx(rasterize(strokes), abs=1e-3)
        assert case["output"] == pytest.approx(probabilities(folder, case["input"]).tolist(),
                                               abs=1e-6)
    # the drawn digits are digits to the model: most are read as what was drawn
    read = [c["label"] == c["source"][-1] for c in cases]
    assert sum(read) >= 8, [c["label"] for c in cases]  # 10 of 10 with two epochs here


# A small phone at a large text size squeezes the pad most when the result appears under it.
@pytest.mark.parametrize("drawn, size, fontscale", [(DRAWN_ONE, PHONE, 1.0),
                                                    (DRAWN_FOUR, "320x640", 1.3)])
def test_a_drawn_digit_is_predicted_on_the_pad(display, tmp_path, digits_bundle, drawn, size,
                                               fontscale):
    folder, bundle = digits_bundle
    tag = f"digits_{size}" + ("" if fontscale == 1.0 else f"_fs{fontscale}")
    report = run_driver(display, tmp_path, "draw", bundle, metrics=phone_metrics(fontscale),
                        answers={"strokes": drawn}, size=size, tag=tag)
    assert report["screen"] == "DrawingScreen"
    assert report["heading"] == "digits: draw one, then Predict"
    assert re.fullmatch(r"verified on this device: 10/10, max diff (0|\d(\.\d)?e-\d+)",
                        report["footer"].split("\n")[0])
    # the pad kept the touches' path, in fractions of the pad, and the app fed the model that
    # path's image; the ink stayed on the pad when the result moved it
    assert len(report["pad_strokes"]) == len(drawn)
    for kept, stroke in zip(report["pad_strokes"], drawn):
        np.testing.assert_allclose(kept, stroke, atol=1e-6)
    assert report["ink_outside_pad"] == []
    image = rasterize(report["pad_strokes"])
    wanted = probabilities(folder, image)
    assert report["outputs"][0] == pytest.approx(wanted.tolist(), abs=1e-5)
    top = str(int(wanted.argmax()))
    lines = report["result"].split("\n")
    assert lines[0] == f"Most likely: {top}" and lines[1].startswith(f"{top}: ")
    assert_occlusion_is_pytorchs(report, folder, image, wanted)
    assert report["after_clear"] == {"result": "", "strokes": 0, "occlusion": False,
                                     "explanation": ""}
    for name, audit in report["audits"].items():
        assert not audit["problems"], (name, audit["problems"])
    keep_screenshots(report)


def assert_occlusion_is_pytorchs(report: dict, folder, image: list[float],
                                 wanted: np.ndarray) -> None:
    """Each inked 4x4 square's loss is what PyTorch loses on the answer's class with that square
    blanked; squares without ink cost no run and lose nothing."""
    seen, top = report["occlusion"], int(wanted.argmax())
    assert seen["label"] == str(top) and seen["size"][0] > 0
    assert f"its answer {top} rests on" in seen["explanation"]
    pixels = np.asarray(image).reshape(7, 4, 7, 4)
    inked = pixels.max(axis=(1, 3)) > 0
    assert report["predictions"] == 1 + inked.sum()  # the answer, then one run per inked square
    losses = np.asarray(seen["losses"])
    assert (losses[~inked] == 0).all() and losses.max() > 0.01
    for row, column in zip(*np.nonzero(inked)):
        blanked = pixels.copy()
        blanked[row, :, column, :] = 0
        lost = wanted[top] - probabilities(folder, blanked.reshape(-1).tolist())[top]
        assert losses[row, column] == pytest.approx(lost, abs=1e-5)


def test_predict_with_nothing_drawn_asks_for_a_drawing(display, tmp_path, digits_bundle):
    _, bundle = digits_bundle
    report = run_driver(display, tmp_path, "draw", bundle, answers={"strokes": []})
    assert report["result"] == "draw something first"
    assert report["predictions"] == 0


def test_explain_names_what_it_takes_for_a_pad_model(digits_bundle, capsys):
    _, bundle = digits_bundle
    assert main(["explain", str(bundle), "--row", "strokes=[]"]) == 2
    error = capsys.readouterr().err
    assert "no reference row to explain against" in error and error.count("\n") == 1
