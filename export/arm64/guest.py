"""Runs inside the emulated arm64 Python (stdlib, numpy and the runtimes only: no pocketml
install, no torch). It serves the host over its stdin and stdout: load a file in a runtime, run
a batch, and answer with the outputs and with what the runtime logged.

The runners are pocketml's own (export/runtimes.py, imported from the host's source folder),
so arm64 and x86 cast, quantize, resize and batch exactly alike. A message is one JSON line
that lists its arrays (dtype and shape), then their raw bytes (wire.py; never pickled).

    python3.11 guest.py SITE_PACKAGES EXPORT_FOLDER
"""

import contextlib
import os
import sys
import tempfile
import types

sys.path.insert(0, sys.argv[1])
import numpy as np  # noqa: E402

for name, path in (("pocketml", []), ("pocketml.export", [sys.argv[2]])):
    package = types.ModuleType(name)
    package.__path__ = path
    sys.modules[name] = package
from pocketml.export import runtimes  # noqa: E402
from pocketml.export.arm64.wire import read_message, write_message  # noqa: E402

captured = []  # what the runtime printed while loading the last file


@contextlib.contextmanager
def capture():
    """runtimes.quiet() silences the runtimes' start-up logs; here they are the proof of which
    kernels ran, so they are kept instead."""
    with tempfile.TemporaryFile() as log:
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            log.seek(0)
            captured.append(log.read().decode(errors="replace"))


runtimes.quiet = capture


delegate_log = []  # LiteRT announces its XNNPACK delegate once per process, at the first file


def kernels(runner, log: str) -> dict:
    """What the runtime says it runs the file with: ONNX Runtime its providers; LiteRT its log
    line, and per file the DELEGATE nodes in its graph (each a partition XNNPACK took)."""
    if isinstance(runner, runtimes.OnnxRunner):
        return {"providers": runner.session.get_providers()}
    delegate_log.extend(line.strip() for line in log.splitlines() if "delegate" in line.lower())
    ops = [op["op_name"] for op in runner.interpreter._get_ops_details()]
    return {"delegate_log": delegate_log, "delegate_nodes": ops.count("DELEGATE"),
            "ops": len(ops) - ops.count("DELEGATE")}


def main() -> None:
    reply = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a runtime prints goes to stderr, never into the replies
    loaded = {}
    while message := read_message(sys.stdin.buffer):
        request, arrays = message
        outputs = []
        try:
            if request["op"] == "load":
                captured.clear()
                with capture():
                    runner = runtimes.load_runner(request["path"], request["runtime"])
                loaded[request["path"] + request["runtime"]] = runner
                answer = {"batch_limit": runner.batch_limit,
                          "kernels": kernels(runner, "".join(captured))}
            else:
                runner = loaded[request["path"] + request["runtime"]]
                outputs = runner.run(arrays)
                answer = {"batch_limit": runner.batch_limit}
        except Exception as err:  # reported to the host, which fails that row with it
            answer = {"error": f"{type(err).__name__}: {err}"}
        write_message(reply, answer, outputs)


main()
