"""What `pocketml train kidney` may be asked, checked before any data is fetched or anything is
written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pocketml.folder.errors import UserError
from pocketml.train.kidney.data import ATTRIBUTE_BY_NAME, CATEGORICAL, NUMERIC
from pocketml.train.loop import check_run_options

# Columns after one-hot encoding: what --k may select from.
ENCODED_COLUMNS = len(NUMERIC) + sum(len(ATTRIBUTE_BY_NAME[c].choices) for c in CATEGORICAL)
# Cross-validation estimates how well a model generalises; past 100,000 rows that estimate
# hardly moves (its standard error is ~0.0005 at 98 % accuracy), while its cost keeps growing.
MAX_CV_ROWS = 100_000


@dataclass
class KidneyOptions:
    out: Path = Path("artifacts/kidney")
    data: Path | None = None
    download: bool = False  # re-fetch the data instead of reading the shipped copy
    balance: str = "smote"
    features: str = "seed"
    select: str = "mutual-info"
    k: int = 10
    device: str = "auto"
    optimizer: str = "adamw"  # the MLP's, a name in train/loop.py's OPTIMIZERS
    seed: int = 0
    folds: int = 5
    max_rows: int = MAX_CV_ROWS  # cross-validation sample; the final models see every row
    test_size: float = 0.2
    progress: bool = True
    force: bool = False  # replace --out even if it holds files pocketml did not write


def check_options(options: KidneyOptions) -> None:
    """Refuse bad options before any data is fetched or anything is written."""
    if options.folds < 2:
        raise UserError(f"--folds {options.folds}: cross-validation needs at least 2 folds.")
    if options.max_rows < 1:
        raise UserError(f"--max-rows {options.max_rows}: give the most training rows to "
                        f"cross-validate on, a positive number (default {MAX_CV_ROWS}).")
    if options.features == "auto" and not 1 <= options.k <= ENCODED_COLUMNS:
        raise UserError(f"--k {options.k}: choose 1 to {ENCODED_COLUMNS}, the number of "
                        "encoded features.")
    check_run_options(options.device, options.seed, options.optimizer)
