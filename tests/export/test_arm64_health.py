"""The arm64 environment checks itself before any row (export/arm64/health.py): a damaged
cache is named as the cache, with the command that rebuilds it, exit 2, and the previous
parity report stays as it was (before: "parity: FAILED", exit 1, the PASSED report
overwritten); a build that cannot succeed fails at once; POCKETML_CACHE naming a file is one
message. Each damaged cache is a private copy of the real environment (hard links: the copy's
damage unlinks, never writes into a shared file)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pocketml.folder.errors import UserError
from pocketml.export.arm64 import environment
from pocketml.export.model_folder import verify_folder
from test_output_folders import refused


def real_environment() -> Path:
    folder = environment.environment_folder()
    if not (folder / environment.READY).is_file():  # built once, as tests/export/test_arm64.py does
        environment.arm64_environment(log=lambda _: None)
    return folder


@pytest.fixture
def cache_copy(tmp_path, monkeypatch) -> Path:
    """POCKETML_CACHE pointing at a copy of the built environment; the copy's folder."""
    real = real_environment()
    monkeypatch.setenv("POCKETML_CACHE", str(tmp_path / "cache"))
    copy = environment.environment_folder()
    copy.parent.mkdir(parents=True)
    subprocess.run(["cp", "-al", str(real), str(copy)], check=True)
    return copy


def remove_runtime(folder: Path) -> str:
    shutil.rmtree(folder / "site-packages" / "onnxruntime")
    return "the aarch64 runtime onnxruntime (site-packages/onnxruntime) is missing"


def empty_guest_python(folder: Path) -> str:
    python = folder / "debian" / environment.GUEST_PYTHON
    python.unlink()  # a new empty file, not the shared one truncated
    python.touch()
    return "the guest Python (debian/usr/bin/python3.11) is missing or empty"


def only_the_ready_marker(folder: Path) -> str:
    for path in folder.iterdir():
        if path.name != environment.READY:
            shutil.rmtree(path)
    return "the unpacked Debian packages (debian/) are missing"


def file_for_site_packages(folder: Path) -> str:
    shutil.rmtree(folder / "site-packages")
    (folder / "site-packages").write_text("")
    return "site-packages is a file where a folder belongs"


def file_for_a_cpu_root(folder: Path) -> str:
    shutil.rmtree(folder / "cpus" / "cortex-a76", ignore_errors=True)
    (folder / "cpus").mkdir(exist_ok=True)
    (folder / "cpus" / "cortex-a76").write_text("")
    return "cpus/cortex-a76 is a file where a folder belongs"


DAMAGE = {"a runtime removed": remove_runtime, "the guest Python emptied": empty_guest_python,
          "only the ready marker left": only_the_ready_marker,
          "a file where site-packages belongs": file_for_site_packages,
          "a file where a CPU's root belongs": file_for_a_cpu_root}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=list(DAMAGE))
def test_a_damaged_cache_is_named_and_the_previous_report_stays(kidney_copy, cache_copy,
                                                                capsys, damage):
    what = damage(cache_copy)
    before = (kidney_copy / "parity.json").read_bytes()
    refused(capsys, ["verify", str(kidney_copy), "--arm64", "--arm64-cpus", "cortex-a76"],
            f"the environment cached in {cache_copy} is damaged: {what}", "not the model",
            f"rm -rf '{cache_copy}'")
    # the check inside verify too, before any row, for a cache damaged after the command began
    with pytest.raises(UserError, match="is damaged"):
        verify_folder(kidney_copy, log=lambda _: None, arm64=["cortex-a76"])
    assert (kidney_copy / "parity.json").read_bytes() == before


def test_the_whole_environment_passes_its_own_check(cache_copy):
    assert environment.check_environment() == cache_copy


def test_a_cache_that_is_a_file_is_one_message(tmp_path, monkeypatch, capsys, kidney_copy):
    (tmp_path / "cache").write_text("")
    monkeypatch.setenv("POCKETML_CACHE", str(tmp_path / "cache"))
    refused(capsys, ["verify", str(kidney_copy), "--arm64"], "is a file",
            "Point POCKETML_CACHE at a folder")


def test_a_build_on_a_full_disk_fails_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("POCKETML_CACHE", str(tmp_path / "cache"))
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr("pocketml.export.arm64.health.shutil.disk_usage",
                        lambda _: usage._replace(free=0))
    with pytest.raises(UserError, match=r"needs about 400 MB, and 0 MB are free there"):
        environment.arm64_environment(log=lambda _: None)
    assert not (tmp_path / "cache" / "arm64").exists() or not any(
        (tmp_path / "cache" / "arm64").iterdir())


def test_a_build_without_the_package_index_fails_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("POCKETML_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(environment, "DEBIAN_SOURCES", ("http://127.0.0.1:9/debian bookworm main",))
    with pytest.raises(UserError, match=r"from 127\.0\.0\.1, which cannot be reached from here"):
        environment.arm64_environment(log=lambda _: None)


def test_arm64_cpus_without_arm64_is_refused(kidney_copy, capsys):
    refused(capsys, ["verify", str(kidney_copy), "--arm64-cpus", "cortex-a53"],
            "--arm64-cpus cortex-a53 chooses the emulated CPUs of --arm64, which is not given")
