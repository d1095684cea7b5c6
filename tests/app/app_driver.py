"""Drive the real app in its own process: a real Kivy Window (under Xvfb in the tests), real
touches on its widgets and typed text, then a JSON report and screenshots.

Kivy's Window is one per process and its event loop cannot be restarted, so each test runs
this script as a subprocess:

    python tests/app/app_driver.py SCENARIO --bundle DIR --out DIR [--answers JSON] [--bad JSON]
        [--size WxH] [--safe-area TOP,BOTTOM] [--tag NAME]

Scenarios: `form` (describe the form), `patient` (fill in --answers, Submit, read the result),
`bad_inputs` (type each --bad text into the first numeric field, Submit, read its message;
then one --showcase text per numeric field for the screenshot), `keyboard` (tap the first
number field, record its requests for a decimal keyboard),
`refused` (report what a refused bundle shows), `draw` (trace --answers' {"strokes": ...} on a
drawing pad with touches, Predict, then Clear), `forecast` (type --answers into a forecaster's
cells, Predict, then each --bad text in its newest cell, then Reset). The report is OUT/report.json.

--size resizes the window (a phone's screen at density 1: KIVY_METRICS_DENSITY=1, with
KIVY_METRICS_FONTSCALE for the phone's font size); --safe-area pads as an iPhone's notch and
home indicator would (dp); --tag is added to the screenshots' names. With every screenshot the
report audits every label on screen (shortened, overflowing its box, or off the screen's
sides), measures every touch target's height and every text's contrast from the pixels
(tests/app/app_legibility.py), and records the app's "pocketml:" log lines."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

STARTED = time.perf_counter()
os.environ.setdefault("KIVY_NO_ARGS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "mobile_app"))

from main import (ChoiceEntry, ContributionRow, FormScreen, NumberInput,  # noqa: E402
                  PocketMLApp)  # (after sys.path)
from padscreen import DrawingScreen  # noqa: E402
from seriesscreen import SeriesScreen  # noqa: E402
from kivy.base import EventLoop  # noqa: E402
from kivy.clock import Clock  # noqa: E402
from kivy.core.window import Window  # noqa: E402
from kivy.graphics import Line  # noqa: E402
from kivy.graphics.opengl import GL_RGB, GL_UNSIGNED_BYTE, glReadPixels  # noqa: E402
from kivy.logger import Logger  # noqa: E402
from kivy.tests.common import UnitTestTouch  # noqa: E402
from kivy.uix.label import Label  # noqa: E402

STEP_S = 0.15  # between actions: enough for Kivy to lay out and draw a frame under Xvfb
# Steps a screenshot waits for the layout to stop moving. Submit fills the explanation, whose
# rows size themselves from their text over several frames: on a busy machine one step caught
# a half-laid-out screen, and which answers were still in view depended on the load.
SETTLE_STEPS = 40


def tap(widget) -> None:
    """A touch down and up at the widget's centre, dispatched through the Window."""
    x, y = widget.to_window(*widget.center)
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    touch.touch_up()


def type_text(text_input, text: str) -> None:
    """Focus the entry by tapping it, clear it, then type as a keyboard would."""
    tap(text_input)
    text_input.text = ""
    for character in text:
        EventLoop.window.dispatch("on_textinput", character)


def audit_labels(root) -> dict:
    """Every label with text on screen, and what is wrong with any: its rendered words are not
    all of its text (Kivy's `shorten` writes "urine spec...avity"), its texture is larger than
    its box (cut or drawn over a neighbour), or it reaches past the screen's sides."""
    labels = [w for w in root.walk(restrict=True) if isinstance(w, Label) and w.text.strip()]
    problems = []
    for label in labels:
        label.texture_update()  # render at the size it has now
        rendered = "".join(word.text for line in label._label._cached_lines for word in line.words)
        left, _ = label.to_window(label.x, label.y)
        right, _ = label.to_window(label.right, label.y)
        width, height = label.texture_size
        what = []
        if "".join(rendered.split()) != "".join(label.text.split()):
            what.append(f"shortened to {rendered!r}")
        if width > label.width + 1 or height > label.height + 1:
            what.append(f"text {width}x{height} px in a {label.width:.0f}x{label.height:.0f} box")
        if left < -1 or right > Window.width + 1:
            what.append(f"spans x {left:.0f} to {right:.0f} on a {Window.width} px screen")
        if what:
            problems.append({"text": label.text, "problems": what})
    return {"labels": len(labels), "problems": problems}


class LogLines(logging.Handler):
    """The app's own lines from Kivy's log (which the tests keep off the console)."""

    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record) -> None:
        message = record.getMessage()
        if message.startswith("pocketml:"):
            self.lines.append(message)


def screenshot(out: Path, name: str):
    """The window as a PNG. Window.screenshot() is not used: it reads the back buffer without
    drawing it (black after a resize under Mesa) and skews any width whose rows are not a
    multiple of 4 bytes (390 px, an iPhone's), so draw the frame, then read and write it here."""
    import numpy as np  # here, not at the top: the start-up the benchmark times has neither
    from matplotlib.image import imsave

    window = EventLoop.window
    window.dispatch("on_draw")
    width, height = window.size
    rows = np.frombuffer(glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE), np.uint8)
    pixels = rows.reshape(height, width, 3)[::-1]  # GL's first row is the bottom one
    imsave(out / name, pixels)
    return str(out / name), pixels


class Driver:
    def __init__(self, args):
        self.args = args
        self.out = Path(args.out)
        self.app = PocketMLApp(bundle_dir=Path(args.bundle))
        self.report: dict = {"scenario": args.scenario, "screenshots": []}
        self.predictions = 0

    def run(self) -> None:
        if self.args.size:
            Window.size = tuple(int(n) for n in self.args.size.split("x"))
        if self.args.safe_area:
            top, bottom = (float(n) for n in self.args.safe_area.split(","))
            self.app.safe_top, self.app.safe_bottom = top, bottom
        log = LogLines()
        Logger.addHandler(log)
        self.steps = self.scenario()
        Clock.schedule_once(self.advance, STEP_S)
        self.app.bind(on_start=lambda _app: EventLoop.window.bind(on_flip=self.first_frame))
        self.app.run()
        self.report["log"] = log.lines
        (self.out / "report.json").write_text(json.dumps(self.report, indent=2))

    def first_frame(self, window) -> None:
        """The first frame on screen after build(): the form (or the refusal) is usable."""
        window.unbind(on_flip=self.first_frame)
        self.report["first_frame_s"] = round(time.perf_counter() - STARTED, 4)
        if "POCKETML_T0" in os.environ:  # the launcher's clock: includes Python's own start
            self.report["first_frame_since_launch_s"] = round(
                time.time() - float(os.environ["POCKETML_T0"]), 4)

    def advance(self, _dt) -> None:
        try:
            next(self.steps)
            Clock.schedule_once(self.advance, STEP_S)
        except StopIteration:
            self.app.stop()
        except Exception as err:  # report, then stop: a hung window would hang the test
            self.report["driver_error"] = repr(err)
            self.app.stop()

    def scenario(self):
        root = self.app.root
        self.report["screen"] = type(root).__name__
        self.report["window"] = list(Window.size)
        if isinstance(root, DrawingScreen):
            yield from self.draw(root, json.loads(self.args.answers)["strokes"])
            return
        if isinstance(root, SeriesScreen):
            yield from self.forecast(root, json.loads(self.args.answers),
                                     json.loads(self.args.bad))
            return
        if not isinstance(root, FormScreen):
            self.report["summary"], self.report["message"] = root.summary, root.message
            self.report["model_loaded"] = self.app.predictor is not None
            self.report["shown"] = self.texts_on_screen()
            yield from self.settled_shot("app_refused.png")
            tap(root.ids.details_button)  # what a person does to see why
            yield from self.settle()
            self.report["shown_with_details"] = self.texts_on_screen()
            self.shot("app_refused_details.png")
            return
        self.count_predictions()
        self.report["footer"] = root.footer
        yield
        self.report["fields"] = [self.describe(name, e) for name, e in self.app.entries.items()]
        self.report["content_y"] = [min(w.y for w in root.children),
                                    max(w.top for w in root.children)]
        if self.args.scenario == "patient":
            yield from self.settled_shot("app_form.png")
            yield from self.fill(json.loads(self.args.answers))
            tap(root.ids.submit)
            yield from self.settle()
            self.report["result"] = root.result
            self.report["messages"] = {n: e.message for n, e in self.app.entries.items()}
            self.report["probability"] = self.report["outputs"][0]  # the patient's own row
            self.report["explanation"] = (self.app.explanation.as_dict()
                                          if self.app.explanation else None)
            shown = list(reversed(root.ids.explanation.children))
            self.report["bars"] = [{"text": w.text, "share": w.share}
                                   for w in shown if isinstance(w, ContributionRow)]
            self.report["explanation_texts"] = [w.text for w in shown]
            self.shot("app_result.png")
            # the chosen answers, which the explanation may have scrolled out of view
            yield from self.reach(next(e for e in self.app.entries.values()
                                       if isinstance(e, ChoiceEntry)))
            yield from self.settled_shot("app_answers.png")
        elif self.args.scenario == "bad_inputs":
            yield from self.bad_inputs(json.loads(self.args.answers), json.loads(self.args.bad),
                                       json.loads(self.args.showcase))
        elif self.args.scenario == "keyboard":
            yield from self.focus_a_number_field()
        self.report["predictions"] = self.predictions

    def draw(self, root, strokes: list):
        """Each stroke (points as fractions of the pad, y up) as one finger's touch: down, moved
        through its points, up; then Predict, then Clear."""
        self.count_predictions()
        self.report["footer"], self.report["heading"] = root.footer, root.heading
        pad = root.ids.drawing
        yield from self.settled_shot("app_pad.png")
        for stroke in strokes:
            points = [pad.to_window(pad.x + fx * pad.width, pad.y + fy * pad.height)
                      for fx, fy in stroke]
            touch = UnitTestTouch(*points[0])
            touch.touch_down()
            for x, y in points[1:]:
                touch.touch_move(x, y)
                yield
            touch.touch_up()
        tap(root.ids.submit)
        yield from self.settle()
        self.report["result"] = root.result
        self.report["pad_strokes"] = [list(stroke) for stroke in pad.strokes]
        self.report["pad_size"] = list(pad.size)
        # the pad moved when the result appeared under it: its ink must have moved with it
        points = [xy for line in pad.canvas.children if isinstance(line, Line)
                  for xy in zip(line.points[::2], line.points[1::2])]
        self.report["ink_outside_pad"] = [xy for xy in points if not pad.collide_point(*xy)]
        self.report["predictions"] = self.predictions
        view = root.ids.occlusion
        self.report["occlusion"] = view.shown and {**view.shown[0].as_dict(),
                                                   "size": list(view.size),
                                                   "explanation": root.explanation}
        self.shot("app_drawn.png")
        tap(root.ids.erase)
        yield from self.settle()
        self.report["after_clear"] = {"result": root.result, "strokes": len(pad.strokes),
                                      "occlusion": view.shown is not None,
                                      "explanation": root.explanation}

    def forecast(self, root, answers: dict, bad: list[str]):
        """The window the app opens on; --answers typed into their cells, Predict; then each
        --bad text in the newest cell, Predict; then Reset."""
        self.count_predictions()
        self.report["footer"], self.report["heading"] = root.footer, root.heading
        self.report["opened_on"] = root.answers()
        yield from self.settled_shot("app_series.png")
        for name, text in answers.items():
            type_text(root.cells[name].ids.entry, text)
            yield
        tap(root.ids.submit)
        yield from self.settle()
        chart = root.ids.chart
        self.report["result"], self.report["predictions"] = root.result, self.predictions
        self.report["chart"] = {"values": list(chart.values), "forecast": chart.forecast,
                                "points": chart.points(), "bounds_y": [chart.low_y, chart.high_y]}
        self.shot("app_forecast.png")
        newest = list(root.cells)[-1]
        self.report["bad"] = []
        for text in bad:
            before = self.predictions
            type_text(root.cells[newest].ids.entry, text)
            tap(root.ids.submit)
            yield
            self.report["bad"].append({"text": text, "result": root.result,
                                       "invalid": [n for n, c in root.cells.items() if c.invalid],
                                       "reached_model": self.predictions > before,
                                       "forecast": chart.forecast})
        if bad:
            yield from self.settled_shot("app_series_bad.png")
        tap(root.ids.reset)
        yield from self.settle()
        self.report["after_reset"] = {"answers": root.answers(), "result": root.result,
                                      "forecast": chart.forecast}

    def fill(self, answers: dict):
        for name, value in answers.items():
            entry = self.app.entries[name]
            yield from self.reach(entry)
            if isinstance(entry, ChoiceEntry):
                tap(next(b for b in entry.ids.choices.children if b.text == value))
            else:
                type_text(entry.ids.entry, value)
            yield

    def bad_inputs(self, answers: dict, bad: list[str], showcase: list[str]):
        """Each bad text alone in the first numeric field, every other field valid."""
        yield from self.fill(answers)
        target = next(n for n, e in self.app.entries.items() if not isinstance(e, ChoiceEntry))
        entry, results = self.app.entries[target], []
        yield from self.reach(entry)
        for text in bad:
            before = self.predictions
            type_text(entry.ids.entry, text)
            tap(self.app.root.ids.submit)
            yield
            results.append({"text": text, "message": entry.message,
                            "result": self.app.root.result,
                            "reached_model": self.predictions > before})
        self.report["field"], self.report["bad"] = target, results
        # the screenshot: several bad fields at once, each with its own message
        numeric = [e for e in self.app.entries.values() if not isinstance(e, ChoiceEntry)]
        for entry, text in zip(numeric, showcase):
            yield from self.reach(entry)
            type_text(entry.ids.entry, text)
        yield from self.reach(numeric[0])
        tap(self.app.root.ids.submit)
        yield from self.settled_shot("app_bad_input.png")

    def focus_a_number_field(self):
        """Tap the first number field; record each request for a decimal keyboard and whether
        Kivy had already asked for its own keyboard for that field (on Android, Kivy's request
        sets the number pad that this one must then replace)."""
        entry = next(e for e in self.app.entries.values() if not isinstance(e, ChoiceEntry))
        # the widget itself, not ids' weak proxy to it: Kivy's keyboard holds the widget
        field = next(w for w in entry.walk() if isinstance(w, NumberInput))
        requests = []

        def recorded(platform):
            keyboard = field._keyboard
            requests.append({"platform": platform, "kivy_keyboard_first":
                             keyboard is not None and keyboard.target is field})
            return False
        sys.modules["main"].ask_for_decimal_keys = recorded
        yield from self.reach(entry)
        tap(field)
        yield
        self.report["focused"], self.report["keyboard_requests"] = field.focus, requests

    def reach(self, entry):
        """Scroll the form until `entry` is on screen, as a thumb would, then let it draw."""
        self.app.root.ids.scroll.scroll_to(entry, animate=False)
        yield

    def settle(self):
        """Step until two frames are drawn with the scrolled content, its position and the
        result line all unchanged."""
        root = self.app.root
        last, frames = None, Clock.frames_displayed
        for _ in range(SETTLE_STEPS):
            yield
            scroll = root.ids.scroll if isinstance(root, FormScreen) else None
            now = (root.height, scroll and (scroll.children[0].height, scroll.scroll_y),
                   getattr(root, "result", None))
            if now != last:
                last, frames = now, Clock.frames_displayed
            elif Clock.frames_displayed >= frames + 2:
                return
        raise RuntimeError(f"the layout still moved after {SETTLE_STEPS} steps of {STEP_S} s")

    def texts_on_screen(self) -> list[str]:
        return [w.text for w in self.app.root.walk(restrict=True)
                if isinstance(w, Label) and w.text.strip()]

    def settled_shot(self, name: str):
        yield from self.settle()
        self.shot(name)

    def count_predictions(self) -> None:
        predict = self.app.predictor.predict

        def counted(row):
            self.predictions += 1
            self.report.setdefault("outputs", []).append(predict(row))
            return self.report["outputs"][-1]
        self.app.predictor.predict = counted

    @staticmethod
    def describe(name: str, entry) -> dict:
        described = {"name": name, "title": entry.title, "kind": type(entry).__name__}
        if isinstance(entry, ChoiceEntry):
            described["choices"] = sorted(b.text for b in entry.ids.choices.children)
            described["own_row"] = entry.narrow
        else:
            described["hint"] = entry.hint
            described["number_input"] = any(isinstance(w, NumberInput) for w in entry.walk())
            described["input_type"] = entry.ids.entry.input_type
            described["input_filter"] = entry.ids.entry.input_filter
        return described

    def shot(self, name: str) -> None:
        from app_legibility import text_contrast, touch_targets  # numpy: not in the timed start

        if self.args.tag:
            name = name.replace(".png", f"_{self.args.tag}.png")
        self.report.setdefault("audits", {})[name] = audit_labels(self.app.root)
        path, pixels = screenshot(self.out, name)
        self.report["screenshots"].append(path)
        self.report.setdefault("targets", {})[name] = touch_targets(self.app.root)
        self.report.setdefault("contrast", {})[name] = text_contrast(self.app.root, pixels)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario",
                        choices=("form", "patient", "bad_inputs", "refused", "keyboard",
                                 "draw", "forecast"))
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--answers", default="{}", help="JSON {field: text or choice}")
    parser.add_argument("--bad", default="[]", help="JSON list of texts")
    parser.add_argument("--showcase", default="[]", help="JSON list of texts, one per field")
    parser.add_argument("--size", help="window size WxH in pixels, e.g. 360x740")
    parser.add_argument("--safe-area", help="top,bottom insets in dp, as on an iPhone")
    parser.add_argument("--tag", help="added to the screenshots' names")
    Driver(parser.parse_args()).run()


if __name__ == "__main__":
    main()
