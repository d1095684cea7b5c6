"""Runtimes that can take the whole process down run in a child process.

LiteRT's CompiledModel (the fp16 arithmetic row) and TensorFlow's TFLite interpreter segfault
on a truncated .tflite (tried), and the LiteRT/XNNPACK interpreter and ExecuTorch are native
code that trusts the file it is given. Their rows run in a child (runtime_child.py), reused from
row to row and started again after a crash: a crash or a hang is that row's failure, "the
runtime crashed (signal 11) on this file", and the verification goes on to write parity.json.
ONNX Runtime refuses a damaged file with an exception, so it stays in process.

IsolatedRunner speaks runtimes.py's runner interface (run, batch_limit, lowering, notes)."""

from __future__ import annotations

import select
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from pocketml.export.arm64.wire import read_message, write_message
from pocketml.export.tolerances import FP16
from pocketml.export.runtimes import FP16_ARITHMETIC

CRASH_PRONE = ("litert", "tensorflow", FP16_ARITHMETIC, "executorch")
ANSWER_SECONDS = 300  # no load or batch of a model pocketml exports takes this long here


class RuntimeCrashed(RuntimeError):
    """The runtime's process died or stopped answering on this file."""


class Child:
    """One child process serving the crash-prone runtimes' loads and runs."""

    def __init__(self, runtimes: list[str]):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pocketml.export.runtime_child", *runtimes],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def ask(self, header: dict, arrays=()) -> tuple[dict, list[np.ndarray]]:
        answer, ready = None, True
        try:
            write_message(self.process.stdin, header, arrays)
            ready, _, _ = select.select([self.process.stdout], [], [], ANSWER_SECONDS)
            answer = read_message(self.process.stdout) if ready else None
        except (BrokenPipeError, OSError, EOFError, ValueError):
            pass
        if answer is None:
            raise RuntimeCrashed(self.stopped(hung=not ready))
        if "error" in answer[0]:  # the runtime refused the file: its own exception, by name
            raise type(answer[0]["type"], (RuntimeError,), {})(answer[0]["error"])
        return answer

    def stopped(self, hung: bool) -> str:
        self.close()
        if hung:
            return f"the runtime hung (no answer in {ANSWER_SECONDS} s) on this file"
        code = self.process.wait()
        return (f"the runtime crashed (signal {-code}) on this file" if code < 0
                else f"the runtime's process exited with status {code} on this file")

    def close(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait()

    def finish(self) -> None:
        """End the child as it ends by itself: at the end of its input."""
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.close()


class IsolatedRunner:
    def __init__(self, child: Child, path: Path, runtime: str):
        self.child = child
        self.request = {"path": str(Path(path).resolve()), "runtime": runtime}
        if runtime == FP16_ARITHMETIC:  # the row is judged at the precision it computes in
            self.tolerance = FP16
        answer, _ = child.ask({"op": "load", **self.request})
        self.lowering, self._notes = answer["lowering"], answer["notes"]
        self.batch_limit = answer["batch_limit"]

    def run(self, inputs) -> list[np.ndarray]:
        answer, outputs = self.child.ask({"op": "run", **self.request}, inputs)
        self.batch_limit = answer["batch_limit"]
        return outputs

    def notes(self) -> list[str]:
        return list(self._notes)


@contextmanager
def isolated_runtimes(load, planned: dict[str, list[str]]) -> Iterator:
    """A `load` for check_parity that runs CRASH_PRONE runtimes in a child process and leaves
    the others to `load`. One child serves them all, as one process would: it starts at once
    and imports the CRASH_PRONE runtimes in `planned` (format -> runtimes; TensorFlow and
    ExecuTorch's torch take seconds each) while PyTorch's reference runs here. A crash fails
    the row it happened in; the next row gets a new child."""
    wanted = sorted({r for names in planned.values() for r in names if r in CRASH_PRONE})
    child = [Child(wanted)] if wanted else []

    def isolated_load(path: Path, runtime: str):
        if runtime not in CRASH_PRONE:
            return load(path, runtime)
        if not child or not child[0].alive:
            child[:] = [Child([runtime])]
        return IsolatedRunner(child[0], path, runtime)
    try:
        yield isolated_load
    finally:
        for process in child:
            process.finish()
