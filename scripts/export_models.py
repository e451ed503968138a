"""Export the five small reference models to ONNX and record onnxruntime's outputs for them.

Requires torch==2.13.0 exactly (the ``bench`` extra: ``pip install "ronn[bench]"``) plus onnxscript and
onnxruntime. Other torch versions emit different graphs; the committed files record what 2.13.0 emits.

Five architectures (MLP, ResNet-style CNN, MobileNetV2-style CNN, GPT-2-style decoder, BERT-style
encoder), each exported with both exporters (``dynamo=True`` and ``dynamo=False``, the TorchScript one) and
with a static batch of 1 and a dynamic batch dimension: up to 20 ``.onnx`` files. Beside each file,
``<stem>.npz`` holds seeded inputs (batch 1 for static files, batch 2 for dynamic ones) and onnxruntime's
outputs with graph optimizations disabled, under the keys ``input:<name>`` and ``output:<name>``.
``manifest.json`` lists every file with its exporter, batch mode, opset, op histogram, inputs and outputs,
and every variant that failed to export and why. ``README.md`` there is generated from the manifest.

Usage::

    python scripts/export_models.py [--out tests/data] [--only mlp,bert]
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

# --------------------------------------------------------------------------------------------- models


class ResNetSmall(nn.Module):
    """ResNet-18 shape at width 8-16 on 32x32 inputs: stem, MaxPool, three BasicBlocks, GAP, Linear.

    The final BatchNorm + ReLU after the last residual add (as in pre-activation ResNets) follows an Add,
    not a Conv, so neither exporter can fold it: it keeps a BatchNormalization node in every export.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.blocks = nn.Sequential(BasicBlock(8, 8, 1), BasicBlock(8, 16, 2), BasicBlock(16, 16, 1))
        self.final_bn = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.final_bn(self.blocks(self.pool(self.stem(x)))))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


class MobileNetV2Small(nn.Module):
    """MobileNetV2 shape at width 8-32 on 32x32 inputs: depthwise convs, ReLU6 (Clip), inverted residuals."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(3, 16, 3, 2),
            InvertedResidual(16, 8, 1, 1),
            InvertedResidual(8, 16, 2, 4),
            InvertedResidual(16, 16, 1, 4),
            InvertedResidual(16, 24, 2, 4),
            InvertedResidual(24, 24, 1, 4),
            conv_bn(24, 64, 1, 1),
        )
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x)


VOCAB, WIDTH, HEADS, LAYERS, SEQ = 100, 64, 4, 2, 16


def mlp_small() -> nn.Module:
    """784-32-32-10 with ReLU (32 wide to keep the committed files small)."""
    return MLP(32)


def gpt2_small() -> nn.Module:
    """Pre-LayerNorm decoder: token + position embeddings, causal mask, GELU (tanh form), tied LM head."""
    return Decoder(VOCAB, WIDTH, HEADS, LAYERS, max_pos=SEQ)


def bert_small() -> nn.Module:
    """Post-LayerNorm encoder: word, position and token-type embeddings, padding mask, GELU (erf), pooler."""
    return Encoder(VOCAB, WIDTH, HEADS, LAYERS, ffn=4 * WIDTH, max_pos=SEQ)


# --------------------------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable[[], nn.Module]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    make_inputs: Callable[[np.random.Generator, int], dict[str, np.ndarray]]


def image_inputs(rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
    return {"image": rng.standard_normal((batch, 3, 32, 32), dtype=np.float32)}


def token_inputs(rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
    return {"input_ids": rng.integers(0, VOCAB, (batch, SEQ), dtype=np.int64)}


def bert_inputs(rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
    mask = np.ones((batch, SEQ), dtype=np.int64)
    for row in range(batch):  # pad a different tail length per row; keep position 0 ([CLS]) attended
        mask[row, SEQ - 3 - 2 * row :] = 0
    token_type = np.zeros((batch, SEQ), dtype=np.int64)
    token_type[:, SEQ // 2 :] = 1
    return {
        "input_ids": rng.integers(0, VOCAB, (batch, SEQ), dtype=np.int64),
        "attention_mask": mask,
        "token_type_ids": token_type,
    }


SPECS = (
    ModelSpec("mlp", mlp_small, ("x",), ("logits",),
              lambda rng, b: {"x": rng.standard_normal((b, 784), dtype=np.float32)}),
    ModelSpec("resnet", ResNetSmall, ("image",), ("logits",), image_inputs),
    ModelSpec("mobilenetv2", MobileNetV2Small, ("image",), ("logits",), image_inputs),
    ModelSpec("gpt2", gpt2_small, ("input_ids",), ("logits",), token_inputs),
    ModelSpec("bert", bert_small, ("input_ids", "attention_mask", "token_type_ids"),
              ("last_hidden_state", "pooler_output"), bert_inputs),
)  # fmt: skip


def build_model(spec: ModelSpec) -> nn.Module:
    """Seeded weights; BatchNorm running statistics randomized so that folding them is not a no-op."""
    seed = SEED + int(hashlib.sha256(spec.name.encode()).hexdigest()[:6], 16)
    torch.manual_seed(seed)
    return randomize_batchnorm(spec.build())


# --------------------------------------------------------------------------------------------- export


def export_variant(spec: ModelSpec, model: nn.Module, dynamo: bool, dynamic: bool, path: Path) -> None:
    rng = np.random.default_rng(SEED)
    example = spec.make_inputs(rng, 2 if dynamic else 1)  # batch 2: torch.export specializes a size of 1
    args = tuple(torch.from_numpy(example[n]) for n in spec.input_names)
    kwargs: dict[str, object] = {
        "input_names": list(spec.input_names),
        "output_names": list(spec.output_names),
        "opset_version": OPSET,
        "dynamo": dynamo,
    }
    if dynamo:
        kwargs["external_data"] = False
        if dynamic:
            batch = torch.export.Dim("batch", min=1, max=1024)
            kwargs["dynamic_shapes"] = {name: {0: batch} for name in _forward_arg_names(model, spec)}
    elif dynamic:
        kwargs["dynamic_axes"] = {n: {0: "batch"} for n in spec.input_names + spec.output_names}
    with torch.no_grad():
        torch.onnx.export(model, args, str(path), **kwargs)  # type: ignore[arg-type]
    strip_debug_metadata(path)


def _forward_arg_names(model: nn.Module, spec: ModelSpec) -> list[str]:
    import inspect

    params = list(inspect.signature(model.forward).parameters)
    assert len(params) == len(spec.input_names), (params, spec.input_names)
    return params


def reference_outputs(path: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds), strict=True))


def describe(path: Path) -> dict[str, object]:
    model = onnx.load(str(path))
    ops: collections.Counter[str] = collections.Counter()

    def walk(graph: onnx.GraphProto) -> None:
        for node in graph.node:
            ops[node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"] += 1
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)

    walk(model.graph)
    for fn in model.functions:  # dynamo may keep local functions; count their bodies too
        for node in fn.node:
            ops[node.op_type] += 1

    def value_info(v: onnx.ValueInfoProto) -> dict[str, object]:
        t = v.type.tensor_type
        dims = [d.dim_param or d.dim_value for d in t.shape.dim]
        return {
            "name": v.name,
            "dtype": onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name,
            "shape": dims,
        }

    opsets = {imp.domain or "ai.onnx": imp.version for imp in model.opset_import}
    return {
        "opset": opsets.get("ai.onnx"),
        "opset_imports": opsets,
        "ir_version": model.ir_version,
        "producer": f"{model.producer_name} {model.producer_version}",
        "inputs": [value_info(v) for v in model.graph.input],
        "outputs": [value_info(v) for v in model.graph.output],
        "initializers": len(model.graph.initializer),
        "nodes": sum(ops.values()),
        "op_histogram": dict(sorted(ops.items())),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("tests/data"), help="output folder (tests/data)")
    parser.add_argument("--only", default="", help="comma-separated model names (default: all five)")
    parser.add_argument("--allow-other-torch", action="store_true", help="do not insist on torch 2.13.0")
    args = parser.parse_args(argv)

    if torch.__version__.split("+")[0] != REQUIRED_TORCH and not args.allow_other_torch:
        parser.error(f"torch=={REQUIRED_TORCH} is required, found {torch.__version__}")
    args.out.mkdir(parents=True, exist_ok=True)
    only = {s for s in args.only.split(",") if s}
    manifest_path = args.out / "manifest.json"
    manifest: dict[str, Any] = {"files": {}, "skipped": {}}
    if only and manifest_path.exists():  # partial re-export keeps the other entries
        manifest = json.loads(manifest_path.read_text())

    files: dict[str, Any] = manifest["files"]
    skipped: dict[str, str] = manifest["skipped"]
    for spec in SPECS:
        if only and spec.name not in only:
            continue
        for exporter, dynamo in (("dynamo", True), ("torchscript", False)):
            for batch_mode, dynamic in (("static", False), ("dynamic", True)):
                stem = f"{spec.name}_{exporter}_{batch_mode}"
                path = args.out / f"{stem}.onnx"
                files.pop(path.name, None)
                skipped.pop(path.name, None)
                model = build_model(spec)  # fresh per variant: an export must not see another's state
                try:
                    export_variant(spec, model, dynamo, dynamic, path)
                    onnx.checker.check_model(str(path), full_check=True)
                except Exception as exc:  # record and skip, as the issue asks: no per-variant hacks
                    reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}"
                    skipped[path.name] = reason
                    print(f"SKIP {path.name}: {reason}", file=sys.stderr)
                    traceback.print_exc(limit=3)
                    path.unlink(missing_ok=True)
                    continue
                rng = np.random.default_rng(SEED + 1)
                feeds = spec.make_inputs(rng, 2 if dynamic else 1)
                outputs = reference_outputs(path, feeds)
                with torch.no_grad():  # the export itself must agree with torch, or the reference is wrong
                    expected = model(*(torch.from_numpy(feeds[n]) for n in spec.input_names))
                expected = expected if isinstance(expected, tuple) else (expected,)
                for name, want in zip(spec.output_names, expected, strict=True):
                    np.testing.assert_allclose(outputs[name], want.numpy(), rtol=1e-3, atol=1e-4)
                arrays = {f"input:{k}": v for k, v in feeds.items()}
                arrays |= {f"output:{k}": v for k, v in outputs.items()}
                np.savez_compressed(args.out / f"{stem}.npz", **arrays)  # type: ignore[arg-type]
                info = describe(path)
                files[path.name] = {
                    "model": spec.name,
                    "exporter": exporter,
                    "batch": batch_mode,
                    "reference": f"{stem}.npz",
                    "size_bytes": path.stat().st_size,
                    **info,
                }
                print(f"ok   {path.name:36s} opset {info['opset']}  {info['nodes']:4d} nodes  "
                      f"{path.stat().st_size / 1024:7.1f} KiB")  # fmt: skip

    manifest["torch"] = torch.__version__
    manifest["onnx"] = onnx.__version__
    manifest["onnxruntime"] = ort.__version__
    manifest["requested_opset"] = OPSET
    manifest["files"] = dict(sorted(files.items()))
    manifest["skipped"] = dict(sorted(skipped.items()))
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    (args.out / "README.md").write_text(readme(manifest))
    return 0


README_HEAD = """\
# Reference models

Generated by `python scripts/export_models.py` (do not edit; re-run it) with torch {torch},
onnx {onnx}, onnxruntime {onnxruntime}.

Five small architectures, each exported by both torch exporters (`dynamo`: `torch.onnx.export(...,
dynamo=True)`; `torchscript`: `dynamo=False`) with a static batch of 1 and a dynamic batch dimension, at
opset {requested_opset}. Weights are seeded (`torch.manual_seed`), BatchNorm runs in eval mode with
randomized running statistics, and all weights live inside the `.onnx` files. The dynamo exporter's
per-node debug metadata (stack traces, FX dumps) is stripped to keep the files small.

`<stem>.npz` holds seeded inputs (batch 1 for static files, 2 for dynamic ones) under `input:<name>` and
onnxruntime's outputs (CPU provider, graph optimizations disabled) under `output:<name>`. `manifest.json`
records per file: exporter, batch mode, opset, inputs, outputs and op histogram. Used by
`tests/engine/test_reference_models.py` and `benchmarks/bench_engine.py`.

Notes on what torch 2.13 emits here:

- Both exporters fold a BatchNorm that follows a Conv into the Conv (dynamo in its optimizer, TorchScript
  in its eval-mode peephole), so only the ResNet's final BatchNorm, which follows an Add, stays a
  BatchNormalization node.
- dynamo emits ReduceMean + Reshape for global pooling; TorchScript emits GlobalAveragePool + Flatten.
- TorchScript's dynamic-batch graphs compute shapes at run time (Shape, Gather, Unsqueeze, Concat, Range,
  Slice, Cast); dynamo's do not.
- At its default opset (20) dynamo emits one Gelu node instead of the Erf or Tanh + Pow forms here.

| file | KiB | opset | nodes | op types (count) |
|---|---|---|---|---|
"""


def readme(manifest: dict[str, Any]) -> str:
    """tests/data/README.md, generated so that it always matches the files."""
    files: dict[str, dict[str, Any]] = manifest["files"]
    skipped: dict[str, str] = manifest["skipped"]
    union = sorted({op for entry in files.values() for op in entry["op_histogram"]})
    lines = [README_HEAD.format(**manifest).rstrip("\n")]
    for name, entry in files.items():
        ops = ", ".join(f"{op} {n}" for op, n in entry["op_histogram"].items())
        kib = entry["size_bytes"] / 1024
        lines.append(f"| `{name}` | {kib:.0f} | {entry['opset']} | {entry['nodes']} | {ops} |")
    lines += ["", f"Union of op types over all files ({len(union)}): " + ", ".join(union) + "."]
    if skipped:
        lines += ["", "Variants that failed to export (skipped):", ""]
        lines += [f"- `{name}`: {reason}" for name, reason in skipped.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
