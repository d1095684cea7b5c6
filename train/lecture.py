"""The lecture's worked examples as PyTorch modules holding exactly the lecture's weights.

tests/train/test_lecture_golden.py runs each one in PyTorch, ONNX Runtime and LiteRT and compares
with the numbers the lecture computed by hand.
"""

from __future__ import annotations

import torch
from torch import nn


def set_weights(layer: nn.Module, **values) -> nn.Module:
    """Overwrite a layer's parameters with the lecture's numbers (given as nested lists)."""
    with torch.no_grad():
        for name, value in values.items():
            getattr(layer, name).copy_(torch.tensor(value, dtype=torch.float32))
    return layer


class Neuron(nn.Module):
    """One neuron: sigmoid(w . x + b) with w = (0.5, 0.6), b = 0.1."""

    def __init__(self):
        super().__init__()
        self.linear = set_weights(nn.Linear(2, 1), weight=[[0.5, 0.6]], bias=[0.1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(x))


class Perceptron(nn.Module):
    """Rosenblatt's perceptron: step(w . x + b) with w = (2, 3), b = -4; step(z) = 1 if z >= 0."""

    def __init__(self):
        super().__init__()
        self.linear = set_weights(nn.Linear(2, 1), weight=[[2.0, 3.0]], bias=[-4.0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.linear(x) >= 0).to(torch.float32)


class Activations(nn.Module):
    """The four activations side by side: [N, 3] -> [N, 4, 3] as (sigmoid, ReLU, tanh, softmax)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.sigmoid(x), torch.relu(x), torch.tanh(x),
                            torch.softmax(x, dim=-1)], dim=1)


class StudyHoursANN(nn.Module):
    """Hours studied -> P(pass): 1 input, 2 ReLU hidden units, 1 sigmoid output."""

    def __init__(self):
        super().__init__()
        self.hidden = set_weights(nn.Linear(1, 2), weight=[[0.5], [-0.6]], bias=[0.2, -0.1])
        self.output = set_weights(nn.Linear(2, 1), weight=[[1.0, -1.0]], bias=[0.3])

    def forward(self, hours: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.output(torch.relu(self.hidden(hours))))


class LectureRNN(nn.Module):
    """h_t = tanh(W x_t + U h_(t-1) + b), y_t = V h_t + c with W = 0.5 (input weight),
    U = 0.8 (recurrent weight), b = 0.1, V = 1, c = 0.1, h_0 = 0. [N, T, 1] -> y [N, T, 1]."""

    def __init__(self):
        super().__init__()
        self.rnn = set_weights(nn.RNN(1, 1, batch_first=True), weight_ih_l0=[[0.5]],
                               weight_hh_l0=[[0.8]], bias_ih_l0=[0.1], bias_hh_l0=[0.0])
        self.head = set_weights(nn.Linear(1, 1), weight=[[1.0]], bias=[0.1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, _ = self.rnn(x)  # h_0 defaults to zeros
        return self.head(states)


# The lecture's LSTM weights, gate by gate: (weight on x_t, weight on h_(t-1)), bias.
LSTM_GATES = {
    "forget": ((0.5, -0.3), 0.1),
    "input": ((0.7, 0.2), -0.2),
    "candidate": ((0.8, -0.1), 0.0),
    "output": ((0.6, 0.4), 0.05),
}
PYTORCH_GATE_ORDER = ("input", "forget", "candidate", "output")  # nn.LSTM's row blocks i, f, g, o


class LectureLSTM(nn.Module):
    """One LSTM cell with the lecture's weights: x [N, T, 1] -> (h_T, C_T) as [N, 2].

    The lecture's arithmetic multiplies each gate's second weight by 1, e.g. the forget gate
    sigmoid(0.5*3 - 0.3 + 0.1). We read that as the standard gate W . [x_t, h_(t-1)] + b with
    the lecture's starting state h_0 = 1 (and C_0 = 0): the weights stay where the lecture
    put them, on the input and on the previous hidden state, instead of being folded into a bias.
    """

    def __init__(self):
        super().__init__()
        gates = [LSTM_GATES[name] for name in PYTORCH_GATE_ORDER]
        self.lstm = set_weights(nn.LSTM(1, 1, batch_first=True),
                                weight_ih_l0=[[w[0]] for w, _ in gates],
                                weight_hh_l0=[[w[1]] for w, _ in gates],
                                bias_ih_l0=[b for _, b in gates], bias_hh_l0=[0.0] * 4)
        self.register_buffer("h0", torch.ones(1, 1, 1))
        self.register_buffer("c0", torch.zeros(1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        _, (h, c) = self.lstm(x, (self.h0.expand(1, batch, 1).contiguous(),
                                  self.c0.expand(1, batch, 1).contiguous()))
        return torch.cat([h[-1], c[-1]], dim=-1)
