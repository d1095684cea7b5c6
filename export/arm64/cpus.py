"""The ARM CPUs qemu emulates for the arm64 check, and the files that tell the runtimes which
CPU they run on.

qemu user-mode emulation hands the guest the host's /proc/cpuinfo (an x86 one): ONNX Runtime
then segfaults parsing it, and LiteRT's cpuinfo finds no ARM features and silently runs without
XNNPACK. qemu's -L ROOT looks every absolute path up under ROOT first, so each CPU model gets
its own small root with an ARM /proc/cpuinfo and /sys/devices/system/cpu files (MIDR included),
and links to the shared Debian files for everything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CpuModel:
    name: str  # qemu's -cpu / QEMU_CPU value
    architecture: str  # what the row says about it
    midr: int  # MIDR_EL1: implementer, variant, part number, revision
    features: str  # /proc/cpuinfo "Features", as Linux prints them for this core

    @property
    def label(self) -> str:
        return "max, with SME" if self.name == "max" else self.name


_V80 = "fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid"
_V82 = _V80.replace(" cpuid", "") + " atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"

CPU_MODELS = {c.name: c for c in (
    CpuModel("cortex-a76", "ARMv8.2, fp16 arithmetic and dot product", 0x414FD0B1, _V82),
    CpuModel("cortex-a53", "ARMv8.0, no fp16 arithmetic", 0x410FD034, _V80),
    # qemu's newest everything, SVE2 and SME included: XNNPACK picks its SME kernels there.
    # MIDR: implementer 0 ("software"), part number 'Q', as qemu 7.2 sets it.
    CpuModel("max", "every feature qemu 7.2 emulates, SVE2 and SME included", 0x000F0510,
             _V82 + " sve asimdfhm flagm ssbs sb paca pacg dcpodp sve2 sveaes svepmull "
             "svebitperm svesha3 svesm4 flagm2 frint svei8mm svebf16 i8mm bf16 dgh bti "
             "sme smei16i64 smef64f64 smei8i32 smef16f32 smeb16f32 smef32f32 smefa64"),
)}
DEFAULT_CPUS = ("cortex-a76", "cortex-a53")
SHARED = ("bin", "etc", "lib", "sbin", "usr", "var")  # the Debian folders every CPU root links to


def cpuinfo(cpu: CpuModel) -> str:
    midr = cpu.midr
    return (f"processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: {cpu.features}\n"
            f"CPU implementer\t: 0x{midr >> 24:02x}\nCPU architecture: 8\n"
            f"CPU variant\t: 0x{(midr >> 20) & 0xF:x}\nCPU part\t: 0x{(midr >> 4) & 0xFFF:03x}\n"
            f"CPU revision\t: {midr & 0xF}\n\n")


def write_cpu_root(root: Path, debian: Path, cpu: CpuModel) -> None:
    """`root`: the folder qemu -L gets for this CPU; `debian`: the unpacked packages."""
    system = root / "sys/devices/system/cpu"
    (system / "cpu0/regs/identification").mkdir(parents=True, exist_ok=True)
    (root / "proc").mkdir(exist_ok=True)
    (root / "proc/cpuinfo").write_text(cpuinfo(cpu))
    for name in ("possible", "present", "online"):  # one core: the check runs one thread
        (system / name).write_text("0\n")
    (system / "cpu0/regs/identification/midr_el1").write_text(f"0x{cpu.midr:016x}\n")
    for name in SHARED:
        link = root / name
        if not link.is_symlink():
            link.symlink_to(debian / name)
