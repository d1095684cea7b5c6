"""Drive the real app in its own process: a real Kivy Window (under Xvfb in the tests), real
touches on its widgets and typed text, then a JSON report and screenshots.

Kivy's Window is one per process and its event loop cannot be restarted, so each test runs
this script as a subprocess:

    python tests/app_driver.py SCENARIO --bundle DIR --out DIR [--answers JSON] [--bad JSON]

Scenarios: `form` (describe the form), `patient` (fill in --answers, Submit, read the result),
`bad_inputs` (type each --bad text into the first numeric field, Submit, read its message;
then one --showcase text per numeric field for the screenshot),
`refused` (report what a refused bundle shows). The report is OUT/report.json."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

STARTED = time.perf_counter()
os.environ.setdefault("KIVY_NO_ARGS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mobile_app"))

from main import ChoiceEntry, FormScreen, PocketMLApp  # noqa: E402  (after sys.path)
from kivy.base import EventLoop  # noqa: E402
from kivy.clock import Clock  # noqa: E402
from kivy.tests.common import UnitTestTouch  # noqa: E402

STEP_S = 0.15  # between actions: enough for Kivy to lay out and draw a frame under Xvfb


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


def screenshot(out: Path, name: str) -> str:
    # Window.screenshot numbers its files (name0001.png) and never overwrites: rename them
    written = Path(EventLoop.window.screenshot(name=str(out / "shot.png")))
    return str(written.replace(out / name))


class Driver:
    def __init__(self, args):
        self.args = args
        self.out = Path(args.out)
        self.app = PocketMLApp(bundle_dir=Path(args.bundle))
        self.report: dict = {"scenario": args.scenario, "screenshots": []}
        self.predictions = 0

    def run(self) -> None:
        self.steps = self.scenario()
        Clock.schedule_once(self.advance, STEP_S)
        self.app.bind(on_start=lambda _app: EventLoop.window.bind(on_flip=self.first_frame))
        self.app.run()
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
        if not isinstance(root, FormScreen):
            self.report["message"] = root.message
            self.report["model_loaded"] = self.app.predictor is not None
            yield
            self.shot("app_refused.png")
            return
        self.count_predictions()
        self.report["fields"] = [self.describe(name, e) for name, e in self.app.entries.items()]
        self.report["footer"] = root.footer
        yield
        if self.args.scenario == "patient":
            self.shot("app_form.png")
            yield from self.fill(json.loads(self.args.answers))
            tap(root.ids.submit)
            yield
            self.report["result"] = root.result
            self.report["messages"] = {n: e.message for n, e in self.app.entries.items()}
            self.shot("app_result.png")
        elif self.args.scenario == "bad_inputs":
            yield from self.bad_inputs(json.loads(self.args.answers), json.loads(self.args.bad),
                                       json.loads(self.args.showcase))
        self.report["predictions"] = self.predictions

    def fill(self, answers: dict):
        for name, value in answers.items():
            entry = self.app.entries[name]
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
            type_text(entry.ids.entry, text)
        tap(self.app.root.ids.submit)
        yield
        self.shot("app_bad_input.png")

    def count_predictions(self) -> None:
        predict = self.app.predictor.predict

        def counted(row):
            self.predictions += 1
            self.report["probability"] = predict(row)
            return self.report["probability"]
        self.app.predictor.predict = counted

    @staticmethod
    def describe(name: str, entry) -> dict:
        described = {"name": name, "title": entry.title, "kind": type(entry).__name__}
        if isinstance(entry, ChoiceEntry):
            described["choices"] = sorted(b.text for b in entry.ids.choices.children)
        else:
            described["hint"] = entry.hint
        return described

    def shot(self, name: str) -> None:
        self.report["screenshots"].append(screenshot(self.out, name))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=("form", "patient", "bad_inputs", "refused"))
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--answers", default="{}", help="JSON {field: text or choice}")
    parser.add_argument("--bad", default="[]", help="JSON list of texts")
    parser.add_argument("--showcase", default="[]", help="JSON list of texts, one per field")
    Driver(parser.parse_args()).run()


if __name__ == "__main__":
    main()
