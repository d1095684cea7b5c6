"""The libraries' import-time chatter stays out of a user-model export's console: torchao's
"Failed to load ... Could not load this library" lines and torch's pytree deprecation warnings,
which a user module importing transformers (or torchao itself) sets off. --debug shows them."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

CHATTY_MODULE = textwrap.dedent('''
    import torch
    import torchao  # what transformers, ExecuTorch and litert-torch import

    def build():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(4, 2)).eval()
''')
CHATTER = ("Could not load this library", "_pytree")


@pytest.mark.parametrize("debug", [False, True])
def test_import_chatter_only_under_debug(tmp_path, debug):
    (tmp_path / "chatty.py").write_text(CHATTY_MODULE)
    argv = [sys.executable, "-m", "pocketml.cli", *(["--debug"] if debug else []), "export",
            "--model", "chatty:build", "--input-shape", "1,4", "--formats", "onnx",
            "--out", str(tmp_path / "out")]
    run = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "parity: PASSED" in run.stdout
    for text in CHATTER:
        assert (text in run.stderr) == debug, run.stderr
    if not debug:
        assert run.stderr == ""
