"""`pocketml verify --arm64`: the kidney model's files run in the aarch64 builds of LiteRT and
ONNX Runtime under qemu, on the CPU models a phone has (cortex-a76, cortex-a53), and on qemu's
SME CPU, whose wrong int8 results must show as a failing row.

The arm64 environment is built on first use into the user cache (about 250 MB; under a minute)
and reused by later runs, CI's included."""

from __future__ import annotations

import json
import shutil

import pytest

from pocketml.cli import main
from pocketml.export.arm64.cpus import CPU_MODELS
from pocketml.export.arm64.environment import arm64_environment, environment_folder
from pocketml.export.formats import DEFAULT_FORMATS

CPUS = ("cortex-a76", "cortex-a53")
FLOAT_FORMATS = ("onnx", "tflite", "tflite_fp16")


@pytest.fixture(scope="module")
def arm64_parity(kidney_folder, tmp_path_factory):
    """One run of the real command on the phone CPUs and on qemu's `max` (SME) CPU."""
    folder = shutil.copytree(kidney_folder, tmp_path_factory.mktemp("arm64") / "kidney")
    status = main(["verify", str(folder), "--arm64", "--arm64-cpus", ",".join(CPUS) + ",max"])
    parity = json.loads((folder / "parity.json").read_text())
    return status, parity, (folder / "parity.md").read_text()


def rows(parity: dict, cpu: str) -> dict[str, dict]:
    return {f"{fmt} on {runtime}": row for fmt, entry in parity["formats"].items()
            for runtime, row in entry["runtimes"].items() if f"emulated {cpu}" in runtime}


@pytest.mark.parametrize("cpu", CPUS)
def test_every_default_file_passes_on_the_phone_cpus(arm64_parity, cpu):
    _, parity, _ = arm64_parity
    found = rows(parity, cpu)
    formats = {name.split(" on ")[0] for name in found}
    assert formats == set(DEFAULT_FORMATS) - {"executorch"}
    for name, row in found.items():
        assert row["passed"], (name, row)
        emulation = row["emulation"]
        assert emulation["cpu"] == cpu
        assert emulation["rows"] >= sum(s["rows"] for s in parity["inputs"])  # every input set
        assert emulation["label_agreement_vs_x86"] == 1.0
        if name.split(" on ")[0] in FLOAT_FORMATS:
            assert emulation["max_abs_diff_vs_x86"] <= 1e-6, name
        # The runtime's own word on its kernels: XNNPACK for LiteRT, MLAS's CPU provider for ORT.
        expected = ("CPUExecutionProvider" if "onnxruntime" in name else
                    "Created TensorFlow Lite XNNPACK delegate for CPU.")
        assert expected in emulation["kernels"], emulation["kernels"]


def test_executorch_is_named_as_left_out_with_its_cost(arm64_parity):
    _, parity, markdown = arm64_parity
    reason = parity["formats"]["executorch"]["not_run"]["executorch (arm64)"]
    assert "CUDA build" in reason and "918 MB" in reason
    assert "executorch on executorch (arm64)" in markdown


def test_the_sme_cpu_s_wrong_int8_results_fail_the_verification(arm64_parity):
    status, parity, markdown = arm64_parity
    assert status == 1 and parity["passed"] is False
    sme = rows(parity, "max, with SME")
    failed = {name for name, row in sme.items() if not row["passed"]}
    assert failed == {"tflite_int8 on litert (arm64, emulated max, with SME)"}
    row = sme["tflite_int8 on litert (arm64, emulated max, with SME)"]
    assert row["emulation"]["max_abs_diff_vs_x86"] > 0.5
    assert row["emulation"]["label_agreement_vs_x86"] < 0.99
    # Shown in both tables, marked failing, never dropped.
    assert "| tflite_int8 | litert (arm64, emulated max, with SME) |" in markdown
    arm64_table = markdown.split("## On arm64")[1]
    assert "| tflite_int8 | litert | max (" in arm64_table and "✗ FAIL" in arm64_table
    # Only the emulated SME row failed: every x86 row and phone CPU row still passed.
    others = [row for entry in parity["formats"].values() for name, row in entry["runtimes"].items()
              if "max, with SME" not in name and not row["gates"]]
    assert all(row["passed"] for row in others)


def test_the_environment_is_built_once_and_reused(arm64_parity):
    lines = []
    environment = arm64_environment(lines.append)
    assert lines == [f"arm64: reusing {environment_folder()}"]
    assert (environment.debian / "usr/bin/python3.11").is_file()
    cpuinfo = (environment.cpu_root(CPU_MODELS["cortex-a76"]) / "proc/cpuinfo").read_text()
    assert "CPU part\t: 0xd0b" in cpuinfo and "asimdhp" in cpuinfo


def test_a_missing_qemu_names_the_apt_line(kidney_folder, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no qemu-aarch64(-static) on it
    assert main(["verify", str(kidney_folder), "--arm64"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pocketml: error: ") and "apt-get install qemu-user-static" in err


def test_an_unknown_cpu_model_is_refused(kidney_folder, capsys):
    assert main(["verify", str(kidney_folder), "--arm64", "--arm64-cpus", "cortex-a99"]) == 2
    assert "choose from cortex-a76, cortex-a53, max" in capsys.readouterr().err
