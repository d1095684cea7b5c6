"""pocketml's app: a form built from the bundle's schema, a Submit button, and the prediction.

Layout is in pocketml.kv; the logic (integrity check, on-device self-check, form, validation,
inference) is in pocketapp/, which knows nothing about widgets. This file only connects the two.

Runs on Android and iOS (buildozer / kivy-ios package this folder) and on a desktop:
    python mobile_app/main.py                      # the bundle in mobile_app/model
    POCKETML_BUNDLE=path/to/bundle python mobile_app/main.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pocketapp.bundle import BundleError, open_bundle
from pocketapp.explain import explain
from pocketapp.form import BINARY, ChoiceField
from padscreen import DrawingScreen
from seriesscreen import SeriesScreen
from pocketapp.drawing import SIDE
from pocketapp.keyboard import ask_for_decimal_keys
from pocketapp.occlusion import occlusion_map
from pocketapp.pad import STROKES, PadSpec
from pocketapp.predictors import PLATFORM, load_predictor
from pocketapp.refusal import details, for_the_person
from pocketapp.signature import SignatureError, trusted_key
from pocketapp.safearea import safe_area
from pocketapp.selfcheck import verify_on_device
from pocketapp.series import SeriesSpec
from pocketapp.textsize import ios_font_scale

if PLATFORM == "desktop":  # a phone-shaped window; must be set before the Window is created
    from kivy.config import Config

    Config.set("graphics", "width", "460")
    Config.set("graphics", "height", "820")
    Config.set("input", "mouse", "mouse,multitouch_on_demand")  # no red dots on right click
elif PLATFORM == "ios":  # portrait is locked in the Xcode project's Info.plist (ios/lock_portrait.py)
    from kivy.metrics import Metrics

    Metrics.fontscale = ios_font_scale()  # Kivy follows the user's text size only on Android

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.factory import Factory
from kivy.logger import Logger
from kivy.metrics import dp
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.textinput import TextInput

APP_DIR = Path(__file__).resolve().parent
DEFAULT_BUNDLE = APP_DIR / "model"
NOT_A_DIAGNOSIS = "A screening aid, not a diagnosis: see a doctor about any result."
KEYBOARD_SLIDE_S = 0.4  # after the soft keyboard's slide, its inset is final


def fix_first(noun: str, refused: list[str], separator: str) -> str:
    """"Fix 2 fields first: a, b": what Submit (or Predict) says when answers are refused."""
    return (f"Fix {len(refused)} {noun}{'s' if len(refused) > 1 else ''} first: "
            + separator.join(refused))


class NumberInput(TextInput):
    """A number field whose phone keyboard has digits and a decimal point (pocketapp/keyboard.py):
    asked for once Kivy has asked for its own keyboard, which is why this binds after
    TextInput's own focus handling."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.fbind("focus", self.ask_for_decimal_keys)
        if PLATFORM == "android":  # edge to edge, the keyboard's inset is padded (safearea.py)
            self.fbind("focus", self.pad_once_keyboard_moved)

    def ask_for_decimal_keys(self, _widget, focused: bool) -> None:
        if not focused:
            return
        try:
            ask_for_decimal_keys(PLATFORM)
        except Exception as err:  # the field keeps Kivy's keyboard; validation still applies
            Logger.warning(f"pocketml: no decimal keyboard on {PLATFORM}: {err}")


    @staticmethod
    def pad_once_keyboard_moved(_widget, _focused: bool) -> None:
        Clock.schedule_once(App.get_running_app().pad_by_safe_area, KEYBOARD_SLIDE_S)


class NumericEntry(BoxLayout):
    title = StringProperty()
    hint = StringProperty()  # unit and plausible range
    message = StringProperty()  # why the value was refused; empty when it is fine

    def answer(self) -> str:
        return self.ids.entry.text


class ChoiceEntry(BoxLayout):
    title = StringProperty()
    message = StringProperty()
    choices_share = NumericProperty(0.42)  # of the row, beside the title, when they fit there
    narrow = BooleanProperty(False)  # the choices take their own row under the title

    def __init__(self, choices: list[str], group: str, **kwargs):
        super().__init__(**kwargs)
        for choice in choices:
            button = Factory.ChoiceButton(text=choice, group=group)
            button.bind(texture_size=self.fit)
            self.ids.choices.add_widget(button)
        self.bind(width=self.fit)

    def fit(self, *_) -> None:
        """Beside the title only if every choice's whole word fits its button there."""
        box = self.ids.choices
        needed = sum(b.texture_size[0] + b.padding[0] + b.padding[2] for b in box.children)
        needed += box.spacing * (len(box.children) - 1)
        self.narrow = needed > (self.width - self.ids.row.spacing) * self.choices_share

    def answer(self) -> str | None:
        return next((b.text for b in self.ids.choices.children if b.state == "down"), None)


class FormScreen(BoxLayout):
    heading = StringProperty()
    result = StringProperty()
    result_is_error = BooleanProperty(False)
    footer = StringProperty()


class ErrorScreen(BoxLayout):
    summary = StringProperty()  # what happened and what to do, for the person holding the phone
    message = StringProperty()  # the technical reason, behind the details control
    show_details = BooleanProperty(False)


class ContributionRow(BoxLayout):
    text = StringProperty()  # "hemoglobin 9.1 g/dL: odds x41 (+3.71)"
    share = NumericProperty(0)  # the bar's signed length, -1 to 1: log-odds / the largest's


class PocketMLApp(App):
    """Builds FormScreen from a bundle that passed its integrity check and its self-check on
    this device, or ErrorScreen saying why it cannot be trusted."""

    title = "pocketml"
    safe_top = NumericProperty(0)  # pixels the phone covers: notch, home indicator
    safe_bottom = NumericProperty(0)

    def __init__(self, bundle_dir: Path | None = None, **kwargs):
        super().__init__(**kwargs)
        self.bundle_dir = Path(bundle_dir or os.environ.get("POCKETML_BUNDLE") or DEFAULT_BUNDLE)
        self.entries: dict[str, NumericEntry | ChoiceEntry] = {}
        self.bundle = self.predictor = self.verification = None
        self.explanation = None  # the last Submit's
        self.pad_by_safe_area()

    def pad_by_safe_area(self, *_) -> None:
        insets = safe_area(PLATFORM)
        self.safe_top, self.safe_bottom = dp(insets.top), dp(insets.bottom)

    def build(self):
        Window.softinput_mode = "below_target"  # a phone's keyboard must not hide the field
        if PLATFORM == "android":  # the window's insets are final once it is laid out
            Window.bind(size=self.pad_by_safe_area, on_draw=self.pad_once_drawn)
        try:
            bundle = open_bundle(self.bundle_dir, trusted_key(APP_DIR, PLATFORM))
            predictor = load_predictor(bundle)
            self.verification = verify_on_device(bundle, predictor)
        except (BundleError, SignatureError) as err:  # a failed self-check too: no predictions
            Logger.error(f"pocketml: refused {self.bundle_dir}: {err}")
            return self.refusal(err)
        except Exception as err:  # a runtime that cannot load the file: show it, never crash
            Logger.error(f"pocketml: the model could not be loaded: {err}")
            return self.refusal(err)
        self.bundle, self.predictor = bundle, predictor
        # the footer's trust state too: the logcat of a CI run proves which key the app trusted
        Logger.info(f"pocketml: {self.verification.log_line}; bundle {self.trust()}")
        if isinstance(bundle.form, PadSpec):
            return DrawingScreen(heading=bundle.form.heading, footer=self.footer())
        if isinstance(bundle.form, SeriesSpec):
            return self.build_series()
        return self.build_form()

    def refusal(self, err: Exception) -> "ErrorScreen":
        return ErrorScreen(summary=for_the_person(err), message=details(err, self.bundle_dir))

    def trust(self) -> str:
        return f"signed by key {self.bundle.signer}" if self.bundle.signer else "unsigned"

    def pad_once_drawn(self, *_) -> None:
        Window.unbind(on_draw=self.pad_once_drawn)
        self.pad_by_safe_area()

    def build_form(self) -> FormScreen:
        form = self.bundle.form
        screen = FormScreen(heading=form.heading, footer=self.footer())
        for field in form.fields:
            title = f"{field.label} ({field.name})" if field.label != field.name else field.name
            if isinstance(field, ChoiceField):
                entry = ChoiceEntry(field.choices, group=f"field-{field.name}", title=title)
            else:
                entry = NumericEntry(title=title, hint=field.hint)
            screen.ids.fields.add_widget(entry)
            self.entries[field.name] = entry
        return screen

    def build_series(self) -> SeriesScreen:
        spec = self.bundle.form
        steps = spec.fields
        caption = (f"{spec.unit + ': ' if spec.unit else ''}oldest ({steps[0].name}) to newest "
                   f"({steps[-1].name}), range {spec.low:g} to {spec.high:g}; the forecast in "
                   "orange")
        return SeriesScreen(spec, heading=spec.heading, caption=caption, footer=self.footer())

    def footer(self) -> str:
        return f"{self.verification.summary}\n{self.predictor.runtime}, offline, {self.trust()}"

    def submit_drawing(self) -> None:
        """The drawing as the image the model was trained on (pocketapp/drawing.py), ranked, and
        which of its ink the answer rests on (pocketapp/occlusion.py)."""
        pad, screen = self.bundle.form, self.root
        screen.explanation = ""
        screen.ids.occlusion.clear()
        row, errors = pad.encode({STROKES: json.dumps(screen.ids.drawing.strokes)})
        if errors:
            screen.result, screen.result_is_error = errors[STROKES], True
            return
        try:
            output = self.predictor.predict(row)
            ranking = pad.decide(output)
            seen = occlusion_map(row, SIDE, pad.classes, output, self.predictor.predict)
        except Exception as err:  # a runtime failure is reported, never raised into Kivy
            screen.result = f"The model failed on this drawing: {err}"
            screen.result_is_error = True
            return
        screen.result, screen.result_is_error = "\n".join(ranking.lines), False
        screen.explanation = (f"Left, the {SIDE}x{SIDE} image the model saw: orange marks the "
                              f"ink its answer {seen.label} rests on, blue ink that spoke for "
                              "another class.")
        screen.ids.occlusion.show(row, seen)

    def clear_drawing(self) -> None:
        self.root.ids.drawing.clear()
        self.root.ids.occlusion.clear()
        self.root.result = self.root.explanation = ""

    def submit_series(self) -> None:
        """Every value checked as a form's field; the forecast drawn after the window."""
        screen, spec = self.root, self.bundle.form
        row, errors = spec.encode(screen.answers())
        for name, cell in screen.cells.items():
            cell.invalid = name in errors
        if errors:
            screen.result_is_error = True
            screen.result = fix_first("value", [f"{name}: {why}" for name, why in errors.items()],
                                      "; ")
            return
        try:
            estimate = spec.decide(self.predictor.predict(row))
        except Exception as err:  # a runtime failure is reported, never raised into Kivy
            screen.result, screen.result_is_error = f"The model failed on this window: {err}", True
            return
        screen.ids.chart.forecast = estimate.value
        screen.result, screen.result_is_error = "\n".join(estimate.lines), False

    def reset_series(self) -> None:
        self.root.fill(self.bundle.form.recent)

    def submit(self) -> None:
        """Validate every field, then predict only when all are valid."""
        form = self.bundle.form
        row, errors = form.encode({name: e.answer() for name, e in self.entries.items()})
        for name, entry in self.entries.items():
            entry.message = errors.get(name, "")
        if errors:
            labels = [f.label for f in form.fields if f.name in errors]
            self.show(fix_first("field", labels, ", ") + ".", error=True)
            return
        try:
            prediction = form.decide(self.predictor.predict(row))
            self.explanation = (explain(form, row, self.predictor.predict)
                                if form.reference is not None else None)
        except Exception as err:  # a runtime failure is reported, never raised into Kivy
            self.show(f"The model failed on this input: {err}", error=True)
            return
        self.show("\n".join(prediction.lines) if form.task != BINARY else
                  f"Probability of {prediction.positive_class}: {prediction.percent}\n"
                  f"Predicted class: {prediction.label} (threshold {prediction.threshold:.0%})\n"
                  f"{NOT_A_DIAGNOSIS}", error=False)
        self.show_explanation()

    def show_explanation(self) -> None:
        panel = self.root.ids.explanation
        panel.clear_widgets()
        if self.explanation is None:
            return
        panel.add_widget(Factory.ExplanationHeading(text=self.explanation.heading))
        contributions = self.explanation.contributions
        largest = max(abs(c.log_odds) for c in contributions) or 1.0
        for contribution in contributions:
            panel.add_widget(ContributionRow(text=contribution.line(),
                                             share=contribution.log_odds / largest))
        # last, so the panel's top (where it scrolls to) stays where the chosen answers show
        panel.add_widget(Factory.ExplanationHeading(text=self.explanation.total_line()))
        self.root.ids.scroll.scroll_to(panel, animate=False)

    def show(self, text: str, error: bool) -> None:
        self.root.result, self.root.result_is_error = text, error
        if error:
            self.explanation = None
            self.root.ids.explanation.clear_widgets()


if __name__ == "__main__":
    PocketMLApp().run()
