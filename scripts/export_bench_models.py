"""Export the full-width models behind the speed targets of issue 3 into ``benchmarks/models/`` (git-ignored).

Requires torch==2.13.0 exactly, onnxscript and onnxruntime (torchvision is not needed: ResNet-18 and
MobileNetV2 are defined here, layer for layer as torchvision defines them). Weights are seeded; BatchNorm
runs in eval mode with randomized running statistics. Every model is exported by the dynamo exporter at
opset 18 with a dynamic batch dimension (so the same file serves batch 1, batch 8 and the dynamic batcher),
and checked against torch's own output through onnxruntime.

| file | model |
|---|---|
| ``encoder.onnx`` | BERT-style encoder (all-MiniLM-L6-v2 shape): 6 layers, 384 wide, 12 heads, FFN 1536, seq 128 |
| ``decoder.onnx`` | GPT-2-style decoder: 4 layers, 256 wide, 4 heads, FFN 1024, seq 64, GPT-2 vocabulary, tied head |
| ``resnet18.onnx`` | ResNet-18, 224x224, 1000 classes |
| ``mobilenetv2.onnx`` | MobileNetV2 (width 1.0), 224x224, 1000 classes |
| ``mlp.onnx`` | MLP 784-256-256-10 |

Usage::

    python scripts/export_bench_models.py [--out benchmarks/models] [--only resnet18,mlp]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn
from torch.nn import functional as F

REQUIRED_TORCH = "2.13.0"
OPSET = 18
SEED = 0
OUT = Path(__file__).resolve().parents[1] / "benchmarks" / "models"

# --------------------------------------------------------------------------------------------- transformers


class SelfAttention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None, keep: torch.Tensor | None) -> torch.Tensor:
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
    """BERT / all-MiniLM-L6-v2 shape: post-LayerNorm, padding mask, exact GELU, pooler."""

    def __init__(self, vocab: int = 30522, width: int = 384, heads: int = 12, layers: int = 6,
                 ffn: int = 1536, max_pos: int = 512) -> None:  # fmt: skip
        super().__init__()
        self.word = nn.Embedding(vocab, width)
        self.position = nn.Embedding(max_pos, width)
        self.token_type = nn.Embedding(2, width)
        self.ln = nn.LayerNorm(width, eps=1e-12)
        self.layers = nn.ModuleList(EncoderLayer(width, heads, ffn) for _ in range(layers))
        self.pooler = nn.Linear(width, width)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        t = input_ids.shape[1]
        pos = torch.arange(t, device=input_ids.device)
        x = self.ln(self.word(input_ids) + self.position(pos) + self.token_type(token_type_ids))
        keep = attention_mask[:, None, None, :].to(x.dtype)
        bias = (1.0 - keep) * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer(x, bias)
        return x, torch.tanh(self.pooler(x[:, 0]))


class DecoderBlock(nn.Module):
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
    """GPT-2 shape: pre-LayerNorm, causal mask, GELU (tanh form), LM head tied to the token embedding."""

    def __init__(self, vocab: int = 50257, width: int = 256, heads: int = 4, layers: int = 4,
                 max_pos: int = 1024) -> None:  # fmt: skip
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


# --------------------------------------------------------------------------------------------- CNNs


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.down is None else self.down(x)))


class ResNet18(nn.Module):
    """torchvision's resnet18: 7x7/2 stem, MaxPool 3x3/2, four stages of two BasicBlocks, GAP, FC 1000."""

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.pool = nn.MaxPool2d(3, 2, 1)
        stages: list[nn.Module] = []
        cin = 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            stages += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*stages)
        self.fc = nn.Linear(512, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = self.layers(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def conv_bn(cin: int, cout: int, k: int, stride: int, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                               nn.BatchNorm2d(cout)]  # fmt: skip
    if act:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
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


class MobileNetV2(nn.Module):
    """torchvision's mobilenet_v2 (width 1.0): 17 inverted residual blocks, 1280-wide head, FC 1000."""

    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1))  # fmt: skip

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn(3, 32, 3, 2)]
        cin = 32
        for t, c, n, s in self.SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(conv_bn(cin, 1280, 1, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)
        return self.classifier(x)


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 256)
        self.fc3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


# --------------------------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class Spec:
    name: str
    build: Callable[[], nn.Module]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    make_inputs: Callable[[np.random.Generator, int], dict[str, np.ndarray]]


def encoder_inputs(rng: np.random.Generator, batch: int, seq: int = 128) -> dict[str, np.ndarray]:
    mask = np.ones((batch, seq), dtype=np.int64)
    mask[:, seq - 16:] = 0  # a padded tail, as real batches of sentences have
    token_type = np.zeros((batch, seq), dtype=np.int64)
    token_type[:, seq // 2:] = 1
    return {"input_ids": rng.integers(0, 30522, (batch, seq), dtype=np.int64), "attention_mask": mask,
            "token_type_ids": token_type}  # fmt: skip


def image(rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
    return {"image": rng.standard_normal((batch, 3, 224, 224), dtype=np.float32)}


SPECS = (
    Spec("encoder", Encoder, ("input_ids", "attention_mask", "token_type_ids"),
         ("last_hidden_state", "pooler_output"), encoder_inputs),
    Spec("decoder", Decoder, ("input_ids",), ("logits",),
         lambda rng, b: {"input_ids": rng.integers(0, 50257, (b, 64), dtype=np.int64)}),
    Spec("resnet18", ResNet18, ("image",), ("logits",), image),
    Spec("mobilenetv2", MobileNetV2, ("image",), ("logits",), image),
    Spec("mlp", MLP, ("x",), ("logits",), lambda rng, b: {"x": rng.standard_normal((b, 784), dtype=np.float32)}),
)  # fmt: skip


def build(spec: Spec) -> nn.Module:
    torch.manual_seed(SEED + sum(map(ord, spec.name)))
    model = spec.build()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            assert module.running_mean is not None and module.running_var is not None
            module.running_mean.copy_(torch.randn(n) * 0.2)
            module.running_var.copy_(torch.rand(n) * 1.5 + 0.5)
            module.weight.data.copy_(torch.rand(n) + 0.5)
            module.bias.data.copy_(torch.randn(n) * 0.1)
    return model.eval()


def export(spec: Spec, out: Path) -> Path:
    import inspect

    model = build(spec)
    path = out / f"{spec.name}.onnx"
    example = spec.make_inputs(np.random.default_rng(SEED), 2)  # batch 2: torch.export specializes 1
    args = tuple(torch.from_numpy(example[n]) for n in spec.input_names)
    batch = torch.export.Dim("batch", min=1, max=1024)
    params = list(inspect.signature(model.forward).parameters)
    with torch.no_grad():
        torch.onnx.export(model, args, str(path), input_names=list(spec.input_names),  # type: ignore[arg-type]
                          output_names=list(spec.output_names), opset_version=OPSET, dynamo=True,
                          external_data=False, dynamic_shapes={p: {0: batch} for p in params})  # fmt: skip
    proto = onnx.load(str(path))
    for node in proto.graph.node:  # drop the exporter's stack traces and FX dumps
        del node.metadata_props[:]
        node.doc_string = ""
    onnx.save(proto, str(path))
    feeds = spec.make_inputs(np.random.default_rng(SEED + 1), 2)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(list(spec.output_names), feeds)
    with torch.no_grad():
        want = model(*(torch.from_numpy(feeds[n]) for n in spec.input_names))
    want = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w.numpy(), rtol=1e-3, atol=1e-3)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (benchmarks/models)")
    parser.add_argument("--only", default="", help="comma-separated names (default: all five)")
    parser.add_argument("--allow-other-torch", action="store_true", help="do not insist on torch 2.13.0")
    args = parser.parse_args(argv)
    if torch.__version__.split("+")[0] != REQUIRED_TORCH and not args.allow_other_torch:
        parser.error(f"torch=={REQUIRED_TORCH} is required, found {torch.__version__}")
    args.out.mkdir(parents=True, exist_ok=True)
    only = {s for s in args.only.split(",") if s}
    manifest = {}
    for spec in SPECS:
        if only and spec.name not in only:
            continue
        path = export(spec, args.out)
        nodes = len(onnx.load(str(path), load_external_data=False).graph.node)
        manifest[spec.name] = {"file": path.name, "nodes": nodes, "bytes": path.stat().st_size}
        print(f"ok  {path.name:18s} {nodes:4d} nodes  {path.stat().st_size / 2**20:6.1f} MiB", file=sys.stderr)
    manifest_path = args.out / "manifest.json"
    old = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest_path.write_text(json.dumps(old | manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
