"""Keep the converters' and runtimes' own chatter out of pocketml's report."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings


@contextlib.contextmanager
def quiet():
    """Silence Python's streams, warnings and logging, and also file descriptors 1 and 2,
    where TensorFlow's and LiteRT's C++ code writes its start-up logs ("oneDNN custom
    operations are on", "Created TensorFlow Lite XNNPACK delegate"). Failures still surface
    as exceptions, which pocketml reports."""
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logging.disable(logging.WARNING)
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        logging.disable(logging.NOTSET)
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
