#!/usr/bin/env python
"""Train the small digits classifier bundled for ``ronn demo`` and write it as ONNX.

Needs scikit-learn (for ``load_digits``, which ships inside the package). Trains a 64-64-10 ReLU MLP with plain
numpy (Adam, cross-entropy) in a few seconds, then writes ``ronn/data/digits_mlp.onnx`` and 32 held-out test
images with labels in ``ronn/data/digits_samples.npz``. Re-running it with the same seed reproduces the files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits

OUT = Path(__file__).resolve().parent.parent / "ronn" / "data"


def train(x: np.ndarray, y: np.ndarray, hidden: int = 64, epochs: int = 60, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, np.sqrt(2 / x.shape[1]), (x.shape[1], hidden)).astype(np.float32)
    b1 = np.zeros(hidden, np.float32)
    w2 = rng.normal(0, np.sqrt(2 / hidden), (hidden, 10)).astype(np.float32)
    b2 = np.zeros(10, np.float32)
    params = [w1, b1, w2, b2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), 32):
            idx = order[start:start + 32]
            xb, yb = x[idx], y[idx]
            h = np.maximum(xb @ w1 + b1, 0)
            logits = h @ w2 + b2
            p = np.exp(logits - logits.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            p[np.arange(len(yb)), yb] -= 1
            g_logits = p / len(yb)
            g_h = (g_logits @ w2.T) * (h > 0)
            grads = [xb.T @ g_h, g_h.sum(0), h.T @ g_logits, g_logits.sum(0)]
            step += 1
            for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
                m[i] = 0.9 * m[i] + 0.1 * grad
                v[i] = 0.999 * v[i] + 0.001 * grad * grad
                m_hat = m[i] / (1 - 0.9**step)
                v_hat = v[i] / (1 - 0.999**step)
                param -= (1e-3 * m_hat / (np.sqrt(v_hat) + 1e-8)).astype(np.float32)
    return params


def to_onnx(params: list[np.ndarray]) -> onnx.ModelProto:
    w1, b1, w2, b2 = params
    nodes = [
        helper.make_node("Gemm", ["pixels", "w1", "b1"], ["h_pre"], name="dense1"),
        helper.make_node("Relu", ["h_pre"], ["features"], name="relu1"),
        helper.make_node("Gemm", ["features", "w2", "b2"], ["logits"], name="dense2"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "digits_mlp",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 64])],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 10]),
        ],
        [numpy_helper.from_array(a, n) for a, n in zip(params, ["w1", "b1", "w2", "b2"], strict=True)],
    )
    # IR 8 (what opset 17 needs), not the onnx package's newest: onnxruntime reads the file from 1.14 on
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="ronn-demo", ir_version=8
    )
    model.doc_string = "64-64-10 MLP trained on scikit-learn's digits (pixels scaled to [0, 1])"
    onnx.checker.check_model(model)
    return model


def main() -> None:
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(1).permutation(len(x))
    test, train_idx = order[:360], order[360:]
    params = train(x[train_idx], y[train_idx])
    h = np.maximum(x[test] @ params[0] + params[1], 0)
    accuracy = float(((h @ params[2] + params[3]).argmax(1) == y[test]).mean())
    OUT.mkdir(parents=True, exist_ok=True)
    onnx.save(to_onnx(params), OUT / "digits_mlp.onnx")
    np.savez_compressed(OUT / "digits_samples.npz", pixels=x[test[:32]], labels=y[test[:32]])
    print(f"held-out accuracy {accuracy:.3f}; wrote {OUT / 'digits_mlp.onnx'}")


if __name__ == "__main__":
    main()
