"""The host side of the arm64 check: one emulated Python per CPU model, and a runner per file
that speaks runtimes.py's runner interface (`run(inputs)`, `batch_limit`), so parity judges
an arm64 row exactly as it judges an x86 one.

Each runner also runs the same batches through the x86 build of the same runtime, and keeps
the largest difference and the label agreement between the two: a difference there is the
CPU's kernels, since the file, the inputs and the runtime release are the same.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path

import numpy as np

from pocketml.export.arm64.cpus import CPU_MODELS, CpuModel
from pocketml.export.arm64.environment import Arm64Environment, arm64_environment
from pocketml.export.arm64.wire import read_message, write_message
from pocketml.folder.reference import labels_of
from pocketml.export.runtimes import load_runner

GUEST = Path(__file__).with_name("guest.py")
EXPORT_SOURCE = GUEST.parent.parent  # runtimes.py, which the guest imports
# What runs on arm64, per x86 runtime: TensorFlow's interpreter and CUDA have no phone build.
ARM64_RUNTIMES = ("litert", "onnxruntime")
XNNPACK_LOG = "Created TensorFlow Lite XNNPACK delegate"
# Not in the default arm64 check, with the reason and cost (docs/arm64.md).
LEFT_OUT = {"executorch": (
    "left out of the arm64 check: ExecuTorch's Python runtime links libtorch, and PyPI's only "
    "aarch64 torch 2.13.0 is the CUDA build (427 MB download, 918 MB installed; ~1.2 GB with "
    "ExecuTorch, ~35 s per CPU model under qemu)")}


def arm64_runtime(runtime: str, cpu: CpuModel) -> str:
    return f"{runtime} (arm64, emulated {cpu.label})"


class Guest:
    """An arm64 Python on one emulated CPU, serving load/run requests until closed."""

    def __init__(self, environment: Arm64Environment, cpu: CpuModel):
        command, env = environment.command(cpu, GUEST, str(EXPORT_SOURCE))
        self.cpu = cpu
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def ask(self, header: dict, arrays=()) -> tuple[dict, list[np.ndarray]]:
        try:
            write_message(self.process.stdin, header, arrays)
            answer = read_message(self.process.stdout)
        except (BrokenPipeError, OSError):
            answer = None
        if answer is None:  # the emulated process died (a segfault in a runtime, say)
            self.process.kill()
            stderr = self.process.stderr.read().decode(errors="replace").strip()
            raise RuntimeError(f"the arm64 Python on {self.cpu.name} stopped "
                               f"(exit {self.process.wait()}): {stderr[-500:]}")
        if "error" in answer[0]:
            raise RuntimeError(answer[0]["error"])
        return answer

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class EmulatedRunner:
    lowering = None

    def __init__(self, guest: Guest, path: Path, runtime: str, schema: dict | None):
        self.guest, self.schema = guest, schema
        self.request = {"path": str(Path(path).resolve()), "runtime": runtime}
        self.x86 = load_runner(path, runtime)
        started = time.perf_counter()
        answer, _ = guest.ask({"op": "load", **self.request})
        self.batch_limit = answer["batch_limit"]
        self.emulation = {"cpu": guest.cpu.name, "architecture": guest.cpu.architecture,
                          "kernels": kernels_line(runtime, answer["kernels"]),
                          "max_abs_diff_vs_x86": 0.0, "label_agreement_vs_x86": None,
                          "rows": 0, "seconds": 0.0}
        self._agree = self._labelled = 0
        self._seconds = time.perf_counter() - started
        kernels = answer["kernels"]
        if runtime == "litert" and not (kernels["delegate_nodes"] and any(
                XNNPACK_LOG in line for line in kernels["delegate_log"])):
            raise RuntimeError("LiteRT ran without its XNNPACK delegate (no "
                               f"'{XNNPACK_LOG}' in its log, or no DELEGATE node in the "
                               "graph): the phone's kernels were not checked")

    def run(self, inputs) -> list[np.ndarray]:
        started = time.perf_counter()
        answer, outputs = self.guest.ask({"op": "run", **self.request}, inputs)
        self._seconds += time.perf_counter() - started
        self.batch_limit = answer["batch_limit"]
        self._compare_with_x86(outputs, self.x86.run(inputs))
        return outputs

    def notes(self) -> list[str]:
        record = self.emulation
        return [f"kernels: {record['kernels']}",
                f"vs x86 {self.request['runtime']}: max abs diff "
                f"{record['max_abs_diff_vs_x86']:.3g}"
                + ("" if record["label_agreement_vs_x86"] is None
                   else f", labels {record['label_agreement_vs_x86']:.2%} equal")
                + f"; {record['rows']:,} rows in {record['seconds']:.1f} s emulated"]

    def _compare_with_x86(self, arm: list[np.ndarray], x86: list[np.ndarray]) -> None:
        record = self.emulation
        for got, want in zip(arm, x86):
            diff = float(np.abs(got.astype(np.float64) - want).max(initial=0.0))
            record["max_abs_diff_vs_x86"] = max(record["max_abs_diff_vs_x86"], diff)
        ours, theirs = labels_of(arm[0], self.schema), labels_of(x86[0], self.schema)
        if ours is not None:
            self._agree += int((ours == theirs).sum())
            self._labelled += len(ours)
            record["label_agreement_vs_x86"] = self._agree / self._labelled
        record["rows"] += len(arm[0])
        record["seconds"] = round(self._seconds, 2)


def kernels_line(runtime: str, kernels: dict) -> str:
    """What the runtime itself says ran, for the report."""
    if "providers" in kernels:
        return "ONNX Runtime " + ", ".join(kernels["providers"]) + " (MLAS kernels)"
    lines, nodes = kernels["delegate_log"], kernels["delegate_nodes"]
    if not (lines and nodes):
        return "LiteRT's built-in kernels (no XNNPACK delegate in its log or graph)"
    return (f"XNNPACK ({nodes} DELEGATE node(s) over the graph's {kernels['ops']} ops; LiteRT's "
            f"log: \"{lines[0].removeprefix('INFO: ')}\")")


class Arm64Check:
    """The arm64 rows of one verification: which runtimes each format gets, and their runners.
    Use as a context manager: the emulated Pythons end with it."""

    def __init__(self, environment: Arm64Environment, cpus: list[str], schema: dict | None,
                 host_load):
        self.environment, self.schema, self.host_load = environment, schema, host_load
        self.cpus = [CPU_MODELS[name] for name in cpus]
        self.guests: dict[str, Guest] = {}
        self.names = {arm64_runtime(r, cpu): (r, cpu) for r in ARM64_RUNTIMES for cpu in self.cpus}

    def __enter__(self) -> Arm64Check:
        return self

    def __exit__(self, *exc) -> None:
        for guest in self.guests.values():
            guest.close()

    def add_rows(self, runtimes: dict[str, list[str]], not_run: dict[str, dict[str, str]]) -> None:
        """Add an arm64 row per CPU model after each format's x86 rows; name what is left out."""
        for fmt, names in runtimes.items():
            left_out = [r for r in names if r in LEFT_OUT]
            names += [arm64_runtime(r, cpu) for r in names if r in ARM64_RUNTIMES
                      for cpu in self.cpus]
            for runtime in left_out:
                not_run.setdefault(fmt, {})[f"{runtime} (arm64)"] = LEFT_OUT[runtime]

    def load(self, path: Path, runtime: str):
        """A runner for `runtime`: emulated for the arm64 names, else runtimes.py's own."""
        if runtime not in self.names:
            return self.host_load(path, runtime)
        base, cpu = self.names[runtime]
        if cpu.name not in self.guests:
            self.guests[cpu.name] = Guest(self.environment, cpu)
        return EmulatedRunner(self.guests[cpu.name], path, base, self.schema)


@contextlib.contextmanager
def emulated_rows(cpus: list[str] | None, schema: dict | None, runtimes: dict[str, list[str]],
                  not_run: dict[str, dict[str, str]], host_load, log=print):
    """Yields the `load` for check_parity: with `cpus`, the arm64 rows are added to `runtimes`
    (the environment is built first if need be) and the others go to `host_load`; without,
    `host_load` itself."""
    if not cpus:
        yield host_load
        return
    environment = arm64_environment(log)
    log(f"arm64: {environment.describe()}; CPU models: "
        + "; ".join(f"{name} ({CPU_MODELS[name].architecture})" for name in cpus))
    with Arm64Check(environment, cpus, schema, host_load) as check:
        check.add_rows(runtimes, not_run)
        yield check.load
