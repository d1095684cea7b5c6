"""The Android and iOS code paths, run here against fakes of the APIs they call (pyjnius: LiteRT
Java, java.nio, WindowInsets; pyobjus: TFLite Objective-C, Foundation), which copy those APIs'
contracts and run the real model through LiteRT (tests/app/phone_fakes.py): the self-check passes on
both phone predictors, a model with a second input tensor is refused at load like a wrong size,
and Android 15's edge-to-edge bars and cut-out are padded by exactly what covers the app."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from app_fixtures import APP, write_manifest
from insets_fakes import DISPLAY_CUTOUT, NAVIGATION_BARS, STATUS_BARS, GraphicsInsets, Phone
from phone_fakes import FakeJnius, FakePyobjus

sys.path.insert(0, str(APP))
from pocketapp.bundle import open_bundle  # noqa: E402
from pocketapp.predictors import (AndroidLiteRT, DesktopLiteRT, DesktopOnnx, IOSTFLite,  # noqa: E402
                                  ModelMismatch)
from pocketapp.safearea import LARGEST_ANDROID_INSETS, Insets, safe_area  # noqa: E402
from pocketapp.selfcheck import verify_on_device  # noqa: E402

PHONE_PREDICTORS = {"android": (AndroidLiteRT, "jnius", FakeJnius),
                    "ios": (IOSTFLite, "pyobjus", FakePyobjus)}


@pytest.fixture(params=list(PHONE_PREDICTORS))
def phone_predictor(request, monkeypatch):
    predictor, module, fake = PHONE_PREDICTORS[request.param]
    monkeypatch.setitem(sys.modules, module, fake())
    return predictor


def test_the_self_check_passes_through_each_phone_predictor(kidney_bundle, phone_predictor):
    bundle = open_bundle(kidney_bundle)
    verification = verify_on_device(bundle, phone_predictor.load(bundle))
    assert verification.rows == 32 and verification.max_diff <= 1e-5
    assert verification.log_line.startswith(f"self-check passed on {phone_predictor.runtime} (")
    assert "): 32/32 golden rows" in verification.log_line


@pytest.fixture(scope="module")
def two_input_model(tmp_path_factory) -> Path:
    """model.tflite and model.onnx whose first input is the form's row (10 float32 values) and
    whose second is one more value: every check of the first tensor passes."""
    import litert_torch
    import torch
    from torch import nn

    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(10, 1)

        def forward(self, row, offset):
            return torch.sigmoid(self.linear(row) + offset)

    folder = tmp_path_factory.mktemp("two_inputs")
    torch.manual_seed(0)
    model, example = TwoInputs().eval(), (torch.zeros(1, 10), torch.zeros(1, 1))
    litert_torch.convert(model, example).export(str(folder / "model.tflite"))
    torch.onnx.export(model, example, str(folder / "model.onnx"), dynamo=False,
                      input_names=["features", "offset"], output_names=["p"],
                      dynamic_axes={"features": {0: "batch"}, "offset": {0: "batch"},
                                    "p": {0: "batch"}})
    return folder


@pytest.fixture
def two_input_bundle(kidney_bundle, two_input_model, tmp_path) -> Path:
    bundle = Path(shutil.copytree(kidney_bundle, tmp_path / "model"))
    for name in ("model.tflite", "model.onnx"):
        shutil.copy(two_input_model / name, bundle / name)
    write_manifest(bundle)
    return bundle


TWO_INPUTS = ("model.tflite has 2 input and 1 output tensor\\(s\\), but the form gives one row "
              "to one input and reads one output. .*rebuild the bundle with `pocketml bundle`")


def test_a_model_with_a_second_input_is_refused_at_load_on_each_phone(two_input_bundle,
                                                                      phone_predictor):
    with pytest.raises(ModelMismatch, match=TWO_INPUTS):
        phone_predictor.load(open_bundle(two_input_bundle))


@pytest.mark.parametrize("runtime", [DesktopLiteRT, DesktopOnnx])
def test_a_model_with_a_second_input_is_refused_by_both_desktop_runtimes(two_input_bundle,
                                                                         runtime):
    with pytest.raises(ModelMismatch, match=TWO_INPUTS):
        runtime.load(open_bundle(two_input_bundle))


# --- Android 15 edge to edge ------------------------------------------------------------------

# A Pixel 8 in portrait: 1080x2400 px at density 2.625; status bar 24 dp (63 px) beside a camera
# cut-out of 137 px; gesture navigation 24 dp (63 px), or three buttons 48 dp (126 px).
PIXEL = dict(height=2400, density=2.625)
BARS = {STATUS_BARS: GraphicsInsets(top=63), NAVIGATION_BARS: GraphicsInsets(bottom=126),
        DISPLAY_CUTOUT: GraphicsInsets(top=137)}


def insets_on(monkeypatch, phone: Phone) -> Insets:
    monkeypatch.setitem(sys.modules, "jnius", phone.jnius())
    return safe_area("android")


def test_edge_to_edge_pads_by_the_cutout_and_the_navigation_bar(monkeypatch):
    """Drawn under the bars (API 35): the larger of status bar and cut-out at the top, the
    navigation bar at the bottom, in Kivy's dp."""
    phone = Phone(sdk=35, content_top=0, content_bottom=2400, insets=BARS, **PIXEL)
    assert insets_on(monkeypatch, phone) == Insets(137 / 2.625, 126 / 2.625)
    without_cutout = {k: v for k, v in BARS.items() if k != DISPLAY_CUTOUT}
    phone = Phone(sdk=35, content_top=0, content_bottom=2400, insets=without_cutout, **PIXEL)
    assert insets_on(monkeypatch, phone) == Insets(63 / 2.625, 126 / 2.625)


def test_a_window_android_keeps_clear_of_its_bars_gets_no_padding(monkeypatch):
    """Before edge to edge the content view starts below the status bar and the cut-out and ends
    above the navigation bar: padding again would waste the space twice."""
    for sdk in (29, 34):
        phone = Phone(sdk=sdk, content_top=137, content_bottom=2400 - 126, insets=BARS, **PIXEL)
        assert insets_on(monkeypatch, phone) == Insets(0, 0)


def test_before_api_30_the_per_side_getters_and_the_cutout_are_read(monkeypatch):
    phone = Phone(sdk=29, content_top=0, content_bottom=2400, insets=BARS, **PIXEL)
    assert insets_on(monkeypatch, phone) == Insets(137 / 2.625, 126 / 2.625)
    phone = Phone(sdk=27, content_top=0, content_bottom=2400, insets=BARS, **PIXEL)  # no cut-out API
    assert insets_on(monkeypatch, phone) == Insets(63 / 2.625, 126 / 2.625)


def test_insets_not_known_yet_keep_an_edge_to_edge_app_clear_of_any_bar(monkeypatch):
    phone = Phone(sdk=35, content_top=0, content_bottom=2400, insets=None, **PIXEL)
    assert insets_on(monkeypatch, phone) == Insets(*LARGEST_ANDROID_INSETS)
    phone = Phone(sdk=34, content_top=63, content_bottom=2274, insets=None, **PIXEL)
    assert insets_on(monkeypatch, phone) == Insets(0, 0)
