"""Keeping System 1 up with what System 2 learned.

System 1 is the ternary twin of the model (:func:`engine.quantize.ternarize`: absmean ternary weights per
output channel, int8 absmax activations per row). After a sleep:

* :func:`system1_graph` refreshes it by ternarizing the new weights (post-training quantization);
* :func:`distill` goes further: quantization-aware training of a ternary student against the System 2
  teacher's probabilities on replayed inputs. The forward pass uses the ternary weights and int8 activations
  the engine will run; the gradient passes straight through the rounding to latent float weights (the
  straight-through estimator, Bengio et al. 2013), which are what gets ternarized in the end.

    >>> student, report = distill(head, teacher_weights, replayed_x)       # doctest: +SKIP
    >>> report.agreement_before, report.agreement_after                    # doctest: +SKIP
    (0.87, 0.97)
    >>> graph1 = system1_graph(graph, student)                             # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from engine import ir
from engine.kernels.ternary import quantize_weights

from .gradients import DenseHead, Params, backward, forward, soft_cross_entropy, softmax


@dataclass(frozen=True)
class DistillReport:
    """Share of inputs where System 1 and System 2 agree (top class), before and after distillation."""

    agreement_before: float
    agreement_after: float
    steps: int
    loss: float  # mean distillation loss over the last epoch
    samples: int


def ternary_weights(head: DenseHead, params: Params) -> Params:
    """The weights the ternary engine runs, as floats: each output channel's row becomes ``g · t`` with
    ``t`` in {−1, 0, +1} and ``g`` its mean absolute value; biases are kept."""
    out = dict(params)
    for layer in head.layers:
        w = np.asarray(params[layer.weight], np.float32)
        rows = w if layer.trans_b else w.T
        codes, scale = quantize_weights(rows, 2)
        q = codes.astype(np.float32) * scale[:, None]
        out[layer.weight] = q if layer.trans_b else np.ascontiguousarray(q.T)
    return out


def fake_int8(x: np.ndarray) -> np.ndarray:
    """Per-row absmax int8 quantization and back (what the ternary kernels do to activations)."""
    amax = np.abs(x).max(axis=1, keepdims=True)
    scale = np.where(amax > 0, amax / np.float32(127), np.float32(1)).astype(x.dtype)
    return np.clip(np.rint(x / scale), -127, 127) * scale


def ternary_logits(head: DenseHead, latent: Params, x: np.ndarray) -> np.ndarray:
    """System 1's logits for a ternarized copy of ``latent``, as the engine computes them (up to rounding)."""
    return forward(head, ternary_weights(head, latent), np.asarray(x, np.float32), quantize=fake_int8)[0]


def agreement(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Share of rows whose top class is the same in logits ``a`` and ``b``."""
    if mask is not None:
        a, b = np.where(mask, a, -np.inf), np.where(mask, b, -np.inf)
    return float((a.argmax(axis=1) == b.argmax(axis=1)).mean()) if len(a) else float("nan")


def distill(
    head: DenseHead,
    teacher: Params,
    inputs: np.ndarray,
    *,
    student: Params | None = None,
    epochs: int = 30,
    lr: float = 0.02,
    momentum: float = 0.9,
    batch_size: int = 64,
    temperature: float = 1.0,
    seed: int = 0,
) -> tuple[Params, DistillReport]:
    """Quantization-aware distillation of the teacher (System 2's weights) into a ternary student.

    Args:
        head: the dense head both share.
        teacher: System 2's weights (float).
        inputs: replayed feature vectors [n, K] (no labels needed: the teacher's probabilities are the target).
        student: latent float weights to start from (default: a copy of the teacher's).
        temperature: softens the teacher's and the student's softmax alike (Hinton et al. 2015).

    Returns:
        The student's latent float weights (ternarize them, e.g. with :func:`system1_graph`) and a report of
        top-class agreement with the teacher on ``inputs`` before and after.
    """
    x = np.asarray(inputs, np.float32)
    latent = {n: np.array(v, np.float32) for n, v in (student or teacher).items()}
    t = np.float32(temperature)
    teacher_logits = forward(head, teacher, x)[0]
    targets = softmax(teacher_logits / t)
    before = agreement(ternary_logits(head, latent, x), teacher_logits)
    rng = np.random.default_rng(seed)
    velocity = {n: np.zeros_like(v) for n, v in latent.items()}
    steps, last = 0, float("nan")
    for _ in range(epochs):
        losses = []
        for idx in np.array_split(rng.permutation(len(x)), max(1, -(-len(x) // batch_size))):
            quantized = ternary_weights(head, latent)
            logits, cache = forward(head, quantized, x[idx], quantize=fake_int8)
            loss, dlogits = soft_cross_entropy(logits / t, targets[idx])
            grads = backward(head, quantized, cache, dlogits / t)  # straight through the rounding
            for name, g in grads.items():
                v = velocity[name]
                v *= np.float32(momentum)
                v += g.astype(np.float32)
                latent[name] -= np.float32(lr) * v
            losses.append(loss)
            steps += 1
        last = float(np.mean(losses))
    after = agreement(ternary_logits(head, latent, x), teacher_logits)
    return latent, DistillReport(before, after, steps, last, len(x))


def system1_graph(graph: ir.Graph, weights: Params) -> ir.Graph:
    """The ternary System 1 graph for ``graph`` with ``weights`` (float, by initializer name) put in first."""
    from engine.quantize import ternarize

    initializers = dict(graph.initializers)
    for name, value in weights.items():
        initializers[name] = np.asarray(value, graph.initializers[name].dtype)
    return ternarize(dataclasses.replace(graph, initializers=initializers))
