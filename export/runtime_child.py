"""The child process that runs a crash-prone runtime for the parent (isolated.py): it loads
files and runs batches on request, over its stdin and stdout, in the messages the arm64 guest
speaks (arm64/wire.py: a JSON line, then raw array bytes; never pickled). A segfault in the
runtime ends this process, not the verification.

    python -m pocketml.export.runtime_child RUNTIME...

The RUNTIMEs are imported before the first request, while the parent is still busy.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pocketml.export.arm64.wire import read_message, write_message
from pocketml.export.runtimes import import_runtime
from pocketml.export.verify.fp16_arithmetic import host_runner


def answer_to(request: dict, arrays: list, runners: dict) -> tuple[dict, list]:
    key = (request["path"], request["runtime"])
    if request["op"] == "load":
        runner = runners[key] = host_runner(Path(request["path"]), request["runtime"])
        notes = getattr(runner, "notes", list)()
        return {"lowering": runner.lowering, "notes": notes,
                "batch_limit": runner.batch_limit}, []
    runner = runners[key]
    outputs = runner.run(arrays)
    return {"batch_limit": runner.batch_limit}, outputs


def serve() -> None:
    reply = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a runtime prints goes to stderr, never into the replies
    runners = {}
    while message := read_message(sys.stdin.buffer):
        try:
            answer, outputs = answer_to(*message, runners)
        except Exception as err:  # the parent fails that row with it, as in-process
            answer, outputs = {"error": str(err), "type": type(err).__name__}, []
        write_message(reply, answer, outputs)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        import_runtime(name)
    serve()
