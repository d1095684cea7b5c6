"""What each `pocketml` subcommand does: one handler per command, given the parsed arguments.
The work itself lives in train/, export/ and the app launcher; cli.py builds the parser."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

from pocketml.folder.errors import UserError


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
    train_kidney_model(args.out or Path("artifacts/kidney"), args, sealed(signing_of(args)),
                       balance=args.balance, features=args.features, select=args.select,
                       k=10 if args.k is None else args.k, folds=args.folds,
                       **({} if args.max_rows is None else {"max_rows": args.max_rows}))
    return 0


def training_config(base, args):
    """A model's own training settings with the command line's optimizer, device, seed and
    progress."""
    return dataclasses.replace(base, optimizer=args.optimizer, device=args.device,
                               seed=args.seed, progress=not args.no_progress)


def signing_of(args):
    """The command's --sign KEY and --trusted-key PUBs (read and checked before any work)."""
    from pocketml.folder.custody import public_key_bytes
    from pocketml.export.model_folder import Signing

    return Signing.of(getattr(args, "sign", None),
                      [public_key_bytes(p) for p in getattr(args, "trusted_key", None) or []])


def sealed(signing, finish=None):
    """`finish` (if any), then sign the new folder's manifest: a folder is signed when it is
    written, by whoever wrote it. None when there is nothing to do."""
    if finish is None and signing.key is None:
        return None

    def seal(staging: Path) -> None:
        from pocketml.folder.replace import written_by_pocketml
        from pocketml.folder.manifest import write_manifest

        if finish is not None:
            finish(staging)
        if signing.key is not None:
            if not written_by_pocketml(staging):
                write_manifest(staging)
            signing.seal(staging)
    return seal


def train_digits_model(out: Path, args, data_dir: Path | None = None, finish=None) -> None:
    from pocketml.train.digits.train import DIGITS_TRAINING, train_digits

    train_digits(out, data_dir, training_config(DIGITS_TRAINING, args), finish=finish,
                 force=args.force)


def train_sequence_model(out: Path, args, cell: str, series: str = "sunspots",
                         finish=None) -> None:
    from pocketml.train.sequence.train import sequence_training, train_sequence

    train_sequence(out, cell, series, training_config(sequence_training(cell), args),
                   finish=finish, force=args.force)


def train_kidney_model(out: Path, args, finish=None, **pipeline_options) -> None:
    """`pipeline_options`: balance, features, select, k, folds, max_rows (KidneyOptions'
    defaults else)."""
    from pocketml.train.kidney.options import KidneyOptions
    from pocketml.train.kidney.train import train_kidney

    train_kidney(KidneyOptions(out=out, data=args.data, download=args.download,
                               optimizer=args.optimizer, device=args.device, seed=args.seed,
                               progress=not args.no_progress, force=args.force,
                               **pipeline_options), finish=finish)


# `pocketml all --models`: each name trains into artifacts/<name>; `finish` runs on the new
# folder before it replaces the old one.
MODELS = {
    "kidney": lambda out, args, finish: train_kidney_model(out, args, finish),
    "digits": lambda out, args, finish: train_digits_model(out, args, finish=finish),
    "rnn": lambda out, args, finish: train_sequence_model(out, args, "rnn", finish=finish),
    "lstm": lambda out, args, finish: train_sequence_model(out, args, "lstm", finish=finish),
    "table": lambda out, args, finish: train_table_model(out, args, args.table, finish,
                                                         task=args.task, sidecar=args.sidecar,
                                                         k=args.k),
}


def cmd_train_table(args) -> int:
    train_table_model(args.out, args, args.data, sealed(signing_of(args)), task=args.task,
                      sidecar=args.sidecar, balance=args.balance, select=args.select, k=args.k,
                      folds=args.folds)
    return 0


def train_table_model(out: Path | None, args, data: Path, finish=None, **pipeline_options) -> None:
    """`pipeline_options`: task, sidecar, balance, select, k, folds (TableOptions' defaults
    else)."""
    from pocketml.train.table.train import TableOptions, train_table

    train_table(TableOptions(data=data, target=args.target, out=out, optimizer=args.optimizer,
                             device=args.device, seed=args.seed, progress=not args.no_progress,
                             force=args.force, **pipeline_options), finish=finish)


def cmd_train_digits(args) -> int:
    train_digits_model(args.out or Path("artifacts/digits"), args, args.data,
                       sealed(signing_of(args)))
    return 0


def cmd_train_sequence(args) -> int:
    name = args.cell if args.series == "sunspots" else f"{args.cell}_{args.series}"
    train_sequence_model(args.out or Path("artifacts") / name, args, args.cell, args.series,
                         sealed(signing_of(args)))
    return 0


def cmd_export(args) -> int:
    from pocketml.export.model_folder import export_folder, export_user_module

    formats = args.formats.split(",")
    signing = signing_of(args)
    if args.model:
        if not args.input_shape or not args.out:
            raise UserError("--model needs --input-shape (one per input) and --out DIR.")
        passed = export_user_module(args.model, args.input_shape, args.out, formats,
                                    force=args.force, signing=signing)
    elif args.dir:
        passed = export_folder(args.dir, formats, trust_source=args.trust_source,
                               force=args.force, signing=signing)
    else:
        raise UserError("give a model folder (pocketml export artifacts/kidney) or --model.")
    return 0 if passed else 1


def cmd_verify(args) -> int:
    from pocketml.export.model_folder import verify_folder

    return 0 if verify_folder(args.dir, trust_source=args.trust_source,
                              trusted=signing_of(args).trusted,
                              arm64=arm64_cpus(args)) else 1


def arm64_cpus(args) -> list[str] | None:
    """--arm64's CPU models (None without --arm64), each checked before any work starts."""
    from pocketml.export.arm64.cpus import CPU_MODELS, DEFAULT_CPUS
    from pocketml.export.arm64.environment import check_environment, qemu_binary

    if not args.arm64:
        if args.arm64_cpus is not None:
            raise UserError(f"--arm64-cpus {args.arm64_cpus} chooses the emulated CPUs of "
                            "--arm64, which is not given; add --arm64, or leave out "
                            "--arm64-cpus.")
        return None
    names = comma_list(",".join(DEFAULT_CPUS) if args.arm64_cpus is None else args.arm64_cpus,
                       str, "--arm64-cpus")
    unknown = [name for name in names if name not in CPU_MODELS]
    if unknown or not names:
        raise UserError(f"--arm64-cpus {args.arm64_cpus!r}: choose from "
                        f"{', '.join(CPU_MODELS)}, comma-separated.")
    qemu_binary()  # a missing emulator is named before anything is trained or checked
    check_environment()  # so is a damaged cache
    return list(dict.fromkeys(names))


def cmd_diagnose(args) -> int:
    from pocketml.export.diagnose.drift import diagnose_folder

    diagnose_folder(args.dir, args.fmt, args.out, trust_source=args.trust_source,
                    trusted=signing_of(args).trusted)
    return 0


def cmd_bundle(args) -> int:
    from pocketml.app_launcher import app_bundle
    from pocketml.export.model_folder import bundle_folder

    bundle_folder(args.dir, args.to or app_bundle(), signing=signing_of(args), force=args.force)
    return 0


def cmd_keygen(args) -> int:
    from pocketml.folder.signing import generate_key_pair

    generate_key_pair(args.key, None if args.no_app else args.app)
    return 0


def cmd_explain(args) -> int:
    from pocketml.explain import explain_row

    explain_row(args.dir, args.row, as_json=args.json, trusted=signing_of(args).trusted)
    return 0


MAX_REPEATS = 1_000_000  # about 8 MB of timings per row, seconds to minutes of runs


def cmd_bench(args) -> int:
    from pocketml.export.bench import bench_folder

    if not 10 <= args.repeats <= MAX_REPEATS:  # each run's time is kept in memory
        raise UserError(f"--repeats {args.repeats}: give from 10 to {MAX_REPEATS:,} timed runs "
                        "(default 2000).")
    bench_folder(args.dir, repeats=args.repeats, trust_source=args.trust_source,
                 trusted=signing_of(args).trusted)
    return 0


def parse_models(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in MODELS]
    if unknown or not names:
        raise UserError(f"--models {text!r}: choose from {', '.join(MODELS)}, comma-separated.")
    return list(dict.fromkeys(names))


def cmd_all(args) -> int:
    """Train, export and verify each model; bundle the --app model (kidney by default) into
    the app; summarise.

    Each model folder is replaced once, trained, exported and verified, or not at all."""
    from pocketml.export.formats import DEFAULT_FORMATS
    from pocketml.export.model_folder import bundle_folder, export_into
    from pocketml.export.summary import summary_markdown, summary_row
    from pocketml.folder.replace import check_target
    from pocketml.folder.artifacts import atomic_write_bytes
    from pocketml.train.loop import check_run_options

    if args.out is not None:  # train's option, which `all` shares; its folders are per model
        raise UserError(f"--out {args.out}: `pocketml all` writes one folder per model, "
                        f"<--artifacts>/<model>; give --artifacts {args.out} instead.")
    names = parse_models(args.models)
    check_run_options(args.device, args.seed, args.optimizer)
    signing = signing_of(args)
    arm64 = arm64_cpus(args)
    in_app = app_choice(args, names)
    app_model = app_model_folder(args) if in_app else None
    for name in names:  # refuse a bad target before the first model is trained
        check_target(args.artifacts / name, "--artifacts", args.force)
    if app_model is not None:
        check_target(app_model, "--app-model", args.force)
    rows, failed = [], []
    for name in names:
        started = time.perf_counter()
        folder = args.artifacts / name
        print(f"\n== {name}: train, export, verify ==")
        verified = []
        MODELS[name](folder, args, sealed(signing, lambda staging, shown=folder: verified.append(
            export_into(staging, DEFAULT_FORMATS, shown=shown, arm64=arm64))))
        if not verified[0]:
            failed.append(name)
        elif name == in_app:
            bundle_folder(folder, app_model, verification=verified[0], signing=signing,
                          force=args.force)
        rows.append(summary_row(name, folder, time.perf_counter() - started))
    table = summary_markdown(rows)
    atomic_write_bytes(args.artifacts / "summary.md", table.encode())
    print(f"\n{table}wrote {args.artifacts / 'summary.md'}")
    if failed:
        print(f"pocketml: parity FAILED for {', '.join(failed)}: see parity.md in "
              f"{', '.join(str(args.artifacts / n) for n in failed)}", file=sys.stderr)
    return 1 if failed else 0


def app_choice(args, names: list[str]) -> str | None:
    """The model `pocketml all` bundles into the app: --app, else kidney when it is trained;
    refused before any training when it is not among --models. The app shows each of them: a
    form for a table, a drawing pad for the digits CNN, a series chart for a forecaster."""
    if "table" in names and not (args.table and args.target):
        raise UserError("--models table needs --table FILE.csv and --target COLUMN.")
    chosen = args.app or ("kidney" if "kidney" in names else None)
    if chosen is None:
        return None
    if chosen not in names:
        raise UserError(f"--app {chosen}: not among --models {args.models}; add it there.")
    return chosen


def app_model_folder(args) -> Path:
    """Where `pocketml all` bundles the app's model: --app-model, else the folder `pocketml app`
    and `pocketml apk` read, beside the package whatever the current folder."""
    from pocketml.app_launcher import app_bundle

    return args.app_model or app_bundle()


def cmd_compare_optimizers(args) -> int:
    from pocketml.train.compare import compare_optimizers

    chosen = {"optimizers": comma_list(args.optimizers, str, "--optimizers")} \
        if args.optimizers else {}  # else all of them
    compare_optimizers(args.model, args.out, seeds=comma_list(args.seeds, int, "--seeds"),
                       device=args.device, progress=not args.no_progress, epochs=args.epochs,
                       force=args.force, **chosen)
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

    return build_apk(release=args.release)
