"""The arm64 environment: Debian bookworm's arm64 Python 3.11 and the aarch64 wheels of the
runtimes, built once into the user's cache and reused.

Nothing is installed on the system and nothing needs root: apt-get runs with private state
and cache folders (its own arm64 package index), `dpkg-deb -x` unpacks the .deb files into a
folder, and pip installs the aarch64 wheels into another with --target and --platform. qemu's
user-mode emulator (qemu-user-static) then runs that Python as if on an ARM phone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from pocketml.folder.errors import UserError
from pocketml.folder.places import cache_dir
from pocketml.export.arm64.cpus import CpuModel, write_cpu_root
from pocketml.export.arm64.health import (check_cache_root, check_can_build, damage,
                                          refuse_damaged)

QEMU_INSTALL = "sudo apt-get install qemu-user-static"
DEBIAN_SOURCES = ("http://deb.debian.org/debian bookworm main",
                  "http://deb.debian.org/debian-security bookworm-security main")
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
DEBIAN_PACKAGES = ("python3.11", "libstdc++6")  # apt adds what they depend on (libc6, ...)
GUEST_PYTHON = "usr/bin/python3.11"
# The runtimes run on arm64 at the versions this machine runs on x86, so a difference between
# the two is the CPU's kernels, never another release. ai-edge-litert 2.x ships only the
# manylinux_2_27 tag; with 2014/2_28 alone pip settles on LiteRT 1.x.
WHEELS = ("ai-edge-litert", "onnxruntime", "numpy")
PLATFORM_TAGS = ("manylinux_2_27_aarch64", "manylinux_2_28_aarch64", "manylinux2014_aarch64",
                 "manylinux_2_17_aarch64")
LAYOUT = 1  # bump when the folder's layout changes, so an old cache is rebuilt, not misread
READY = "ready"


def qemu_binary() -> str:
    found = shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")
    if not found:
        raise UserError("--arm64 runs the arm64 runtimes under qemu's user-mode emulator, which "
                        f"is not installed. Install it with: {QEMU_INSTALL}")
    return found


def cache_root() -> Path:
    return cache_dir() / "arm64"


@dataclass(frozen=True)
class Arm64Environment:
    folder: Path
    qemu: str

    @property
    def debian(self) -> Path:
        return self.folder / "debian"

    @property
    def site(self) -> Path:  # the aarch64 wheels
        return self.folder / "site-packages"

    def cpu_root(self, cpu: CpuModel) -> Path:
        """qemu's -L folder for this CPU, made on first use."""
        root = self.folder / "cpus" / cpu.name
        write_cpu_root(root, self.debian, cpu)
        return root

    def command(self, cpu: CpuModel, script: Path, *args: str) -> tuple[list[str], dict]:
        """The command line and environment that run `script` in the arm64 Python on `cpu`."""
        root = self.cpu_root(cpu)
        env = {"PATH": "/usr/bin:/bin", "QEMU_CPU": cpu.name, "PYTHONNOUSERSITE": "1",
               "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}
        return [self.qemu, "-L", str(root), str(root / GUEST_PYTHON), "-I", str(script),
                str(self.site), *args], env

    def describe(self) -> str:
        return (f"Debian bookworm arm64 Python 3.11 with "
                + ", ".join(f"{name} {version(name)}" for name in WHEELS)
                + f" (aarch64 wheels), under {Path(self.qemu).name}")


def environment_folder() -> Path:
    key = "-".join(f"{name}{version(name)}" for name in WHEELS)
    return cache_root() / f"py311-{key}-layout{LAYOUT}"


def check_environment() -> Path:
    """The environment's folder, refused when its cache is damaged (health.py); called before
    any work, and again before any row."""
    check_cache_root(cache_root())
    folder = environment_folder()
    if folder.exists() and not folder.is_dir():
        refuse_damaged(folder, "a file is where its folder belongs")
    if (folder / READY).exists():
        problem = damage(folder, GUEST_PYTHON, [name.replace("-", "_") for name in WHEELS])
        if problem:
            refuse_damaged(folder, problem)
    return folder


def arm64_environment(log=print) -> Arm64Environment:
    """The environment, built on first use (about 250 MB, under a minute) and reused."""
    qemu = qemu_binary()
    folder = check_environment()
    if (folder / READY).is_file():
        log(f"arm64: reusing {folder}")
        return Arm64Environment(folder, qemu)
    for tool in ("apt-get", "dpkg-deb"):
        if not shutil.which(tool):
            raise UserError(f"--arm64 builds its arm64 Python from Debian's packages with "
                            f"{tool}, which this machine lacks (a Debian or Ubuntu system has "
                            "it).")
    if not Path(DEBIAN_KEYRING).is_file():
        raise UserError(f"--arm64 checks Debian's arm64 packages against {DEBIAN_KEYRING}, which "
                        "is missing. Install it with: sudo apt-get install debian-archive-keyring")
    check_can_build(cache_root(), DEBIAN_SOURCES)
    log(f"arm64: building the environment in {folder} (once; later runs reuse it)")
    staging = folder.with_name(f".{folder.name}.{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        debs = fetch_debian_packages(cache_root() / "apt", log)
        (staging / "debian").mkdir(parents=True)
        step(log, f"unpacking {len(debs)} .deb files with dpkg-deb -x",
             lambda: [run(["dpkg-deb", "-x", str(deb), str(staging / "debian")]) for deb in debs])
        step(log, "installing the aarch64 wheels of " + ", ".join(
            f"{name} {version(name)}" for name in WHEELS),
             lambda: install_wheels(staging / "site-packages"))
        (staging / READY).write_text(Arm64Environment(staging, qemu).describe() + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Arm64Environment(folder, qemu)


def step(log, what: str, work) -> None:
    started = time.perf_counter()
    log(f"arm64: {what} ...")
    work()
    log(f"arm64:   done in {time.perf_counter() - started:.1f} s")


def run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise UserError(f"setting up the arm64 environment failed: {' '.join(command[:4])} ... "
                        f"exited with {done.returncode}:\n{done.stderr[-2000:]}\nCheck that "
                        "this machine reaches deb.debian.org and PyPI, then run again.")


def fetch_debian_packages(apt: Path, log) -> list[Path]:
    """Debian bookworm's arm64 .deb files of DEBIAN_PACKAGES and their dependencies, with
    apt-get's own resolver, into `apt`/archives (kept: a rebuild downloads nothing again)."""
    for sub in ("lists/partial", "archives/partial", "etc"):
        (apt / sub).mkdir(parents=True, exist_ok=True)
    status = apt / "status"  # an empty dpkg status: nothing counts as installed already
    status.touch()
    (apt / "etc/sources.list").write_text("".join(
        f"deb [arch=arm64 signed-by={DEBIAN_KEYRING}] {source}\n" for source in DEBIAN_SOURCES))
    options = []
    for key, value in (("Dir::Etc::SourceList", apt / "etc/sources.list"),
                       ("Dir::Etc::SourceParts", apt / "etc/none"), ("Dir::State", apt),
                       ("Dir::State::status", status), ("Dir::Cache", apt),
                       ("APT::Architecture", "arm64"), ("APT::Architectures::", "arm64"),
                       ("Debug::NoLocking", "1"), ("Acquire::Languages", "none")):
        options += ["-o", f"{key}={value}"]
    step(log, "reading Debian bookworm's arm64 package index (apt-get update)",
         lambda: run(["apt-get", *options, "-q", "update"]))
    step(log, f"downloading {', '.join(DEBIAN_PACKAGES)} and their libraries (arm64 .deb)",
         lambda: run(["apt-get", *options, "-q", "-y", "--no-install-recommends",
                      "install", "--download-only", *DEBIAN_PACKAGES]))
    return sorted((apt / "archives").glob("*.deb"))


def install_wheels(target: Path) -> None:
    platforms = [arg for tag in PLATFORM_TAGS for arg in ("--platform", tag)]
    run([sys.executable, "-m", "pip", "install", "--quiet", "--no-warn-conflicts",
         "--disable-pip-version-check", "--target", str(target), *platforms,
         "--python-version", "3.11", "--implementation", "cp", "--only-binary=:all:",
         *(f"{name}=={version(name)}" for name in WHEELS)])
