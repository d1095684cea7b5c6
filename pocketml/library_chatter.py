"""Keep the libraries' import-time chatter out of pocketml's default output.

Importing torchao (which transformers, ExecuTorch and litert-torch all do) logs one "Failed to
load .../torchao/_C_mxfp8...so: Could not load this library" line per CUDA kernel library it
finds on a CPU machine, and registers enums with torch's pytree, which logs a deprecation
warning for each. Neither is about the user's model, and both arrive before pocketml's first
line, where they read like a failure. `--debug` shows them (main() does not call hush()).
"""

from __future__ import annotations

import logging

# The loggers that write it: torchao/__init__.py's own (not its submodules'), and
# torch/utils/_pytree.py's. A filter on a logger sees only the records logged on it.
IMPORT_LOGGERS = ("torchao", "torch.utils._pytree")


def errors_only(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR


def hush() -> None:
    """Drop these loggers' warnings; errors still pass. Set before the libraries are imported
    (torch's own logging set-up replaces levels, not filters)."""
    for name in IMPORT_LOGGERS:
        logger = logging.getLogger(name)
        if errors_only not in logger.filters:
            logger.addFilter(errors_only)
