"""Export the full-width models behind the speed targets of issue 3 into ``benchmarks/models/`` (git-ignored).

Requires torch==2.13.0 exactly, onnxscript and onnxruntime (torchvision is not needed: ResNet-18 and
MobileNetV2 are defined here, from the blocks in ``torch_models.py``, layer for layer as torchvision defines
them). Weights are seeded; BatchNorm runs in eval mode with randomized running statistics. Every model is
exported by the dynamo exporter at opset 18 with a dynamic batch dimension (so the same file serves batch 1,
batch 8 and the dynamic batcher), and checked against torch's own output through onnxruntime.

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
from torch_models import (
    MLP,
    BasicBlock,
    Decoder,
    Encoder,
    InvertedResidual,
    conv_bn,
    randomize_batchnorm,
    strip_debug_metadata,
)

REQUIRED_TORCH = "2.13.0"
OPSET = 18
SEED = 0
OUT = Path(__file__).resolve().parents[1] / "benchmarks" / "models"

# --------------------------------------------------------------------------------------------- models


def encoder() -> nn.Module:
    """BERT / all-MiniLM-L6-v2 shape: post-LayerNorm, padding mask, exact GELU, pooler."""
    return Encoder(vocab=30522, width=384, heads=12, layers=6, ffn=1536, max_pos=512)


def decoder() -> nn.Module:
    """GPT-2 shape: pre-LayerNorm, causal mask, GELU (tanh form), LM head tied to the token embedding."""
    return Decoder(vocab=50257, width=256, heads=4, layers=4, max_pos=1024)


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


def mlp() -> nn.Module:
    """MLP 784-256-256-10."""
    return MLP(256)


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
    Spec("encoder", encoder, ("input_ids", "attention_mask", "token_type_ids"),
         ("last_hidden_state", "pooler_output"), encoder_inputs),
    Spec("decoder", decoder, ("input_ids",), ("logits",),
         lambda rng, b: {"input_ids": rng.integers(0, 50257, (b, 64), dtype=np.int64)}),
    Spec("resnet18", ResNet18, ("image",), ("logits",), image),
    Spec("mobilenetv2", MobileNetV2, ("image",), ("logits",), image),
    Spec("mlp", mlp, ("x",), ("logits",), lambda rng, b: {"x": rng.standard_normal((b, 784), dtype=np.float32)}),
)  # fmt: skip


def build(spec: Spec) -> nn.Module:
    torch.manual_seed(SEED + sum(map(ord, spec.name)))
    return randomize_batchnorm(spec.build())


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
    strip_debug_metadata(path)  # drop the exporter's stack traces and FX dumps
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
