#!/usr/bin/env python
"""Train System 1's fast model for ``ronn demo``: the digits MLP fine-tuned for ternary weights (QAT).

Post-training ternarization of the bundled float model loses about ten points of accuracy on the digits and
leaves System 1 unsure of itself (docs/agent.md, FACTS). Quantization-aware training fixes that: starting
from ``ronn/data/digits_mlp.onnx``, the forward pass uses exactly the arithmetic of
:func:`engine.quantize.ternarize` (absmean ternary weights per output column, int8 absmax activations per
row) and the gradient flows straight through to the latent float weights. The script writes those latent
weights as ``ronn/data/digits_mlp_qat.onnx``; System 1 runs ``ternarize(digits_mlp_qat.onnx)``, which
reproduces the trained forward pass. Same train/test split and seed as ``scripts/make_demo_model.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
from sklearn.datasets import load_digits

from engine.kernels.ternary import quantize_weights

DATA = Path(__file__).resolve().parent.parent / "ronn" / "data"


def ternary(w: np.ndarray) -> np.ndarray:
    """``w`` [K, N] as the engine will run it: absmean ternary codes per output column times their scale."""
    codes, scale = quantize_weights(w.T, 2)
    return (codes.astype(np.float32) * scale[:, None]).T


def int8(x: np.ndarray) -> np.ndarray:
    amax = np.abs(x).max(axis=1, keepdims=True)
    safe = np.where(amax > 0, amax, np.float32(1))
    return (np.clip(np.rint(x * (np.float32(127) / safe)), -127, 127) * (safe / np.float32(127))).astype(
        np.float32
    )


def forward(params: list[np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w1, b1, w2, b2 = params
    h = np.maximum(int8(x) @ ternary(w1) + b1, 0)
    return h, int8(h) @ ternary(w2) + b2, x


def train(params: list[np.ndarray], x: np.ndarray, y: np.ndarray, epochs: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step = 0
    for epoch in range(epochs):
        lr = 1e-3 * 0.5 * (1 + np.cos(np.pi * epoch / epochs))
        order = rng.permutation(len(x))
        for start in range(0, len(x), 32):
            idx = order[start : start + 32]
            xb, yb = x[idx], y[idx]
            h, logits, _ = forward(params, xb)
            p = np.exp(logits - logits.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            p[np.arange(len(yb)), yb] -= 1
            g_logits = p / len(yb)
            # straight-through: the quantized weights' gradient updates the latent float weights
            g_h = (g_logits @ ternary(params[2]).T) * (h > 0)
            grads = [int8(xb).T @ g_h, g_h.sum(0), int8(h).T @ g_logits, g_logits.sum(0)]
            step += 1
            for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
                m[i] = 0.9 * m[i] + 0.1 * grad
                v[i] = 0.999 * v[i] + 0.001 * grad * grad
                param -= (lr * (m[i] / (1 - 0.9**step)) / (np.sqrt(v[i] / (1 - 0.999**step)) + 1e-8)).astype(
                    np.float32
                )


def main(epochs: int = 60) -> None:
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(1).permutation(len(x))  # the split of scripts/make_demo_model.py
    test, train_idx = order[:360], order[360:]
    model = onnx.load(DATA / "digits_mlp.onnx")
    inits = {t.name: numpy_helper.to_array(t).copy() for t in model.graph.initializer}
    params = [inits[n].astype(np.float32) for n in ("w1", "b1", "w2", "b2")]
    before = float((forward(params, x[test])[1].argmax(1) == y[test]).mean())
    train(params, x[train_idx], y[train_idx], epochs)
    after = float((forward(params, x[test])[1].argmax(1) == y[test]).mean())
    named = dict(zip(("w1", "b1", "w2", "b2"), params, strict=True))
    for tensor in model.graph.initializer:
        tensor.CopyFrom(
            numpy_helper.from_array(named[tensor.name], tensor.name)
        )
    model.graph.name = "digits_mlp_qat"
    model.doc_string = (
        "64-64-10 MLP fine-tuned for ternary weights (QAT); run it as engine.quantize.ternarize(this model)"
    )
    onnx.checker.check_model(model)
    onnx.save(model, DATA / "digits_mlp_qat.onnx")
    print(
        f"ternary held-out accuracy: post-training {before:.3f}, after {epochs} QAT epochs {after:.3f}; "
        f"wrote {DATA / 'digits_mlp_qat.onnx'}"
    )


if __name__ == "__main__":
    main()
