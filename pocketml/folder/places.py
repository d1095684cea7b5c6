"""Where pocketml keeps what is not a model folder: downloads and the arm64 environment."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def cache_dir() -> Path:
    """$POCKETML_CACHE, else the platform's user cache folder (~/.cache/pocketml on Linux)."""
    return Path(os.environ.get("POCKETML_CACHE") or platformdirs.user_cache_dir("pocketml"))
