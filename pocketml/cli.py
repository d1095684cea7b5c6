"""The `pocketml` command. Each subcommand parses its arguments and calls one function;
the work itself lives in train/, export/ and the app launcher."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pocketml.errors import UserError


def cmd_data(args) -> int:
    from pocketml.train.ckd_data import load_ckd
    from pocketml.train.ckd_fetch import obtain_ckd

    path, origin = (args.data, "--data") if args.data else obtain_ckd()
    data = load_ckd(path)
    print(f"data from {origin}\n  {data.describe()}")
    return 0


def cmd_train_kidney(args) -> int:
    from pocketml.train.kidney import KidneyOptions, train_kidney

    train_kidney(KidneyOptions(out=args.out or Path("artifacts/kidney"), data=args.data,
                               balance=args.balance, features=args.features,
                               select=args.select, k=args.k, device=args.device,
                               seed=args.seed, folds=args.folds,
                               progress=not args.no_progress))
    return 0


def add_common_training(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="model folder to write (default artifacts/<model>)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="cuda (mixed precision) when available with auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pocketml",
        description="Train PyTorch models, export them to ONNX and TFLite with proof of "
                    "parity, and ship them in a Kivy app.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="load, clean and describe a data set")
    data.add_argument("dataset", choices=("kidney",))
    data.add_argument("--data", type=Path, help="CKD CSV or ARFF (default: download and cache)")
    data.set_defaults(handler=cmd_data)

    train = commands.add_parser("train", help="train a model and write its folder")
    models = train.add_subparsers(dest="model", required=True, metavar="MODEL")
    kidney = models.add_parser("kidney", help="the CKD MLP on the selected clinical features")
    kidney.add_argument("--data", type=Path, help="CKD CSV or ARFF (default: download and cache)")
    kidney.add_argument("--balance", default="smote",
                        choices=("smote", "smotenc", "over", "under", "none"),
                        help="class balancing, applied to training folds only")
    kidney.add_argument("--features", default="seed", choices=("seed", "auto"),
                        help="seed: the lecture's 10 features (the app's form); "
                             "auto: the top --k by --select")
    kidney.add_argument("--select", default="mutual-info", choices=("chi2", "mutual-info", "rfe"),
                        help="feature ranking method (reported either way)")
    kidney.add_argument("--k", type=int, default=10, help="features kept with --features auto")
    kidney.add_argument("--folds", type=int, default=5, help="cross-validation folds")
    add_common_training(kidney)
    kidney.set_defaults(handler=cmd_train_kidney)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except UserError as err:
        print(f"pocketml: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
