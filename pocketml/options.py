"""Options that several `pocketml` commands share. Nothing here imports PyTorch: `--help`
stays fast."""

from __future__ import annotations

import argparse
from pathlib import Path

# The names are train/loop.py's OPTIMIZERS (a test checks): importing it here would load
# PyTorch for `pocketml --help`.
OPTIMIZER_HELP = ("sgd, momentum, rmsprop, adagrad, adam or adamw (default), each at the "
                  "learning rate chosen for this model (see docs/optimizers.md)")


def add_common_training(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="model folder to write (default artifacts/<model>)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--optimizer", default="adamw", help=OPTIMIZER_HELP)
    add_device_and_progress(parser)
    add_force(parser)
    add_sign(parser, "sign the new folder's manifest with this private key (pocketml keygen)")


def add_force(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true",
                        help="replace the pocketml folder even if it holds files pocketml did "
                             "not write (they are deleted)")


def add_sign(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--sign", type=Path, metavar="KEY", help=what)


def add_trusted_key(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--trusted-key", type=Path, action="append", metavar="PUB", help=what)


READ_TRUSTED = ("refuse the folder unless this public key signed its manifest as it is now "
                "(repeatable: any of them), as verify does")


def add_device_and_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="cuda (mixed precision) when available with auto")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def add_data_source(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", type=Path,
                        help="your CKD CSV or ARFF (default: the UCI data shipped with pocketml)")
    source.add_argument("--download", action="store_true",
                        help="fetch the UCI data again (UCI archive, else the PyPI wheel ckd) "
                             "and cache it, instead of reading the shipped copy")


def add_trust_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trust-source", action="store_true",
                        help="for a folder exported from your own module: import and run the "
                             "module its source.json names (only for code you trust)")


def add_arm64(parser: argparse.ArgumentParser) -> None:
    from pocketml.export.arm64.cpus import CPU_MODELS, DEFAULT_CPUS

    parser.add_argument("--arm64", action="store_true",
                        help="also run every file in the arm64 builds of LiteRT and ONNX "
                             "Runtime (a phone's kernels) under qemu emulation; the first run "
                             "builds the environment in the user cache (about 250 MB)")
    parser.add_argument("--arm64-cpus", metavar="LIST",
                        help=f"with --arm64: the emulated CPU models, from "
                             f"{', '.join(CPU_MODELS)} (max: qemu's SME CPU, whose int8 "
                             f"results are wrong) (default {','.join(DEFAULT_CPUS)})")
