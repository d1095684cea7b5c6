"""A format that refuses a user's model says so in the user's terms, on one line: the line of
the user's own code it cannot take and the reason in plain words (complex tensors; shapes that
depend on the data, such as a PackedSequence), never a converter's inner operation or a
message cut mid-sentence."""

from __future__ import annotations

import textwrap

import torch

from pocketml.export.api import export_module
from pocketml.export.convert.failure_terms import whole_sentences

REFUSED_NETS = textwrap.dedent('''
    import torch
    from torch import nn


    class Spectrogram(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(33, 2)

        def forward(self, wave):
            spec = torch.stft(wave, n_fft=64, hop_length=16, window=torch.hann_window(64), return_complex=True)
            return self.head(spec.abs().mean(-1))


    class Packed(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(4, 8, batch_first=True)
            self.head = nn.Linear(8, 1)

        def forward(self, x, lengths):
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            _, h = self.rnn(packed)
            return self.head(h[-1])
''')


def line_of(code: str) -> int:
    return next(i for i, line in enumerate(REFUSED_NETS.splitlines(), 1) if code in line)


def refusals(module, examples, formats, tmp_path) -> dict[str, str]:
    log: list[str] = []
    results = export_module(module, examples, tmp_path / "out", formats=formats, log=log.append)
    assert not any(r.ok for r in results)
    return {r.format: r.error for r in results}


def test_complex_tensors_named_at_the_users_stft(write_user_module, tmp_path):
    nets = write_user_module("refused_nets", REFUSED_NETS)
    errors = refusals(nets.Spectrogram().eval(), (torch.randn(2, 256),),
                      ("tflite", "executorch"), tmp_path)
    for error in errors.values():
        assert "\n" not in error
        assert f"refused_nets.py:{line_of('torch.stft')} `spec = torch.stft(" in error, error
        assert "complex tensors are not supported by TFLite or ExecuTorch" in error
        assert "permute" not in error and "mismatched dtypes" not in error


def test_packed_sequence_named_at_the_users_line(write_user_module, tmp_path):
    nets = write_user_module("refused_nets", REFUSED_NETS)
    examples = (torch.randn(2, 5, 4), torch.tensor([5, 3]))
    errors = refusals(nets.Packed().eval(), examples, ("onnx", "executorch"), tmp_path)
    for error in errors.values():
        assert "\n" not in error
        where = f"refused_nets.py:{line_of('self.rnn(packed)')} `_, h = self.rnn(packed)` in forward()"
        assert where in error, error
        assert "pass padded tensors and a mask" in error
        assert "FakeTensor" not in error


def test_messages_end_at_a_sentence():
    text = ("Could not guard on data-dependent expression u0 < 4. This may occur when\n"
            "the model reads a size from a tensor.\n\nFor more information, see the docs.")
    assert whole_sentences(text, limit=60) == "Could not guard on data-dependent expression u0 < 4."
    assert whole_sentences(text) == ("Could not guard on data-dependent expression u0 < 4. This "
                                     "may occur when the model reads a size from a tensor.")
    assert whole_sentences("mismatched dtypes:\n  aten.abs") == "mismatched dtypes: aten.abs"
