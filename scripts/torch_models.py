"""Torch model definitions shared by ``export_models.py`` (small reference models) and
``export_bench_models.py`` (full-width benchmark models).

Both scripts run as ``python scripts/<name>.py``, so Python puts this folder on ``sys.path`` and they import
this file as the sibling module ``torch_models``. The building blocks here (and the order in which they
create their parameters, which fixes the seeded weights) must not change without re-exporting the
committed files in ``tests/data``.
"""

from __future__ import annotations

import math
from pathlib import Path

import onnx
import torch
from torch import nn
from torch.nn import functional as F

# --------------------------------------------------------------------------------------------- MLP


class MLP(nn.Module):
    """784-hidden-hidden-10 with ReLU (MNIST-shaped)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


# --------------------------------------------------------------------------------------------- CNN blocks


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3x3 Conv + BatchNorm, a 1x1 projection where the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.down(x))


def conv_bn(cin: int, cout: int, k: int, stride: int, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expand (unless ``expand`` is 1), 3x3 depthwise, 1x1 linear projection."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(conv_bn(cin, hidden, 1, 1))
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden), conv_bn(hidden, cout, 1, 1, act=False)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


# --------------------------------------------------------------------------------------------- transformers


class SelfAttention(nn.Module):
    """Multi-head self-attention written out by hand, as GPT-2 and BERT implementations do."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None, keep: torch.Tensor | None) -> torch.Tensor:
        """``bias`` is added to the scores (BERT's padding mask); where ``keep`` is False they are replaced
        by the float minimum (GPT-2's causal mask, as Hugging Face's GPT-2 does it)."""
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(c // self.heads))
        if bias is not None:
            scores = scores + bias
        if keep is not None:
            scores = torch.where(keep, scores, torch.full([], torch.finfo(scores.dtype).min))
        y = F.softmax(scores, dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class EncoderLayer(nn.Module):
    """Post-LayerNorm BERT layer: attention, Add + LayerNorm, exact-GELU MLP, Add + LayerNorm."""

    def __init__(self, width: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.attn = SelfAttention(width, heads)
        self.ln1 = nn.LayerNorm(width, eps=1e-12)
        self.mlp = nn.Sequential(nn.Linear(width, ffn), nn.GELU(), nn.Linear(ffn, width))
        self.ln2 = nn.LayerNorm(width, eps=1e-12)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = self.ln1(x + self.attn(x, bias, None))
        return self.ln2(x + self.mlp(x))


class Encoder(nn.Module):
    """BERT shape: post-LayerNorm, word, position and token-type embeddings, padding mask, GELU (erf),
    pooler."""

    def __init__(self, vocab: int, width: int, heads: int, layers: int, ffn: int, max_pos: int) -> None:
        super().__init__()
        self.word = nn.Embedding(vocab, width)
        self.position = nn.Embedding(max_pos, width)
        self.token_type = nn.Embedding(2, width)
        self.ln = nn.LayerNorm(width, eps=1e-12)
        self.layers = nn.ModuleList(EncoderLayer(width, heads, ffn) for _ in range(layers))
        self.pooler = nn.Linear(width, width)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        t = input_ids.shape[1]
        pos = torch.arange(t, device=input_ids.device)
        x = self.ln(self.word(input_ids) + self.position(pos) + self.token_type(token_type_ids))
        # (batch, 1, 1, seq): 0 where attended, the float32 minimum where padded (as Hugging Face does).
        keep = attention_mask[:, None, None, :].to(x.dtype)
        bias = (1.0 - keep) * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer(x, bias)
        return x, torch.tanh(self.pooler(x[:, 0]))


class DecoderBlock(nn.Module):
    """Pre-LayerNorm GPT-2 block: LayerNorm, causal attention, Add; LayerNorm, tanh-GELU MLP, Add."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = SelfAttention(width, heads)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU("tanh"), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor, causal: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), None, causal)
        return x + self.mlp(self.ln2(x))


class Decoder(nn.Module):
    """GPT-2 shape: pre-LayerNorm, token + position embeddings, causal mask, GELU (tanh form), LM head tied
    to the token embedding."""

    def __init__(self, vocab: int, width: int, heads: int, layers: int, max_pos: int) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab, width)
        self.wpe = nn.Embedding(max_pos, width)
        self.blocks = nn.ModuleList(DecoderBlock(width, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(width)
        self.register_buffer("causal", torch.tril(torch.ones(max_pos, max_pos, dtype=torch.bool)),
                             persistent=False)  # fmt: skip

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        t = input_ids.shape[1]
        pos = torch.arange(t, device=input_ids.device)
        x = self.wte(input_ids) + self.wpe(pos)
        causal = self.get_buffer("causal")[:t, :t]
        for block in self.blocks:
            x = block(x, causal)
        return self.ln_f(x) @ self.wte.weight.t()


# --------------------------------------------------------------------------------------------- export helpers


def randomize_batchnorm(model: nn.Module) -> nn.Module:
    """Randomize every BatchNorm2d's affine parameters and running statistics (from torch's seeded
    generator), so that folding them is not a no-op; returns ``model`` in eval mode."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            assert module.running_mean is not None and module.running_var is not None
            module.running_mean.copy_(torch.randn(n) * 0.2)
            module.running_var.copy_(torch.rand(n) * 1.5 + 0.5)
            module.weight.data.copy_(torch.rand(n) + 0.5)
            module.bias.data.copy_(torch.randn(n) * 0.1)
    return model.eval()


# The dynamo exporter annotates every node with metadata_props: Python stack traces (with this machine's
# paths), FX node dumps, module names. They are about a third of small files and mean nothing to a
# runtime, so they go (onnx.checker and onnxruntime ignore them; so does our loader).
def strip_debug_metadata(path: Path) -> None:
    model = onnx.load(str(path))
    for node in model.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    onnx.save(model, str(path))
