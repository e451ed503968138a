"""The learnable head of a model and its gradients in numpy.

What learns is the chain of dense layers at the end of an ONNX graph (all of them for an MLP): ``Gemm``, or
``MatMul`` followed by an ``Add`` of a bias initializer, each but the last followed by ``Relu`` or ``Gelu``.
:func:`find_dense_head` reads that chain from an :class:`engine.ir.Graph`; the value that feeds its first
layer is the output of the frozen feature extractor (or a graph input, for an MLP).

    >>> from engine.loader import load_model
    >>> head = find_dense_head(load_model("ronn/data/digits_mlp.onnx"))   # doctest: +SKIP
    >>> head.parameter_names                                               # doctest: +SKIP
    ('w1', 'b1', 'w2', 'b2')

Parameters are kept in the graph's own layout (a ``Gemm`` with ``transB = 1`` stores its weight [N, K]), so
the arrays go back into the sessions unchanged with ``InferenceSession.update_weights``. The functions are
dtype-generic: the learner runs them in float32, the tests in float64 against finite differences.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine import ir
from engine.ops._elementwise import erf

from .errors import HeadNotFoundError

Params = dict[str, np.ndarray]
ACTIVATIONS = ("relu", "gelu", "gelu_tanh")
_SQRT_2_PI = math.sqrt(2.0 / math.pi)


@dataclass(frozen=True)
class DenseLayer:
    """One dense layer: ``z = alpha * x @ W' + beta * b`` (``W' = W.T`` when ``trans_b``), then ``activation``."""

    node: str
    weight: str
    bias: str | None
    trans_b: bool
    alpha: float
    beta: float
    activation: str | None  # one of ACTIVATIONS or None
    input: str
    output: str  # the value after the activation


@dataclass(frozen=True)
class DenseHead:
    """The trailing dense layers of a graph, first to last; ``feature`` feeds the first, ``logits`` is the last's
    output (the model may apply a Softmax after it)."""

    layers: tuple[DenseLayer, ...]
    feature: str
    logits: str

    @property
    def parameter_names(self) -> tuple[str, ...]:
        names: list[str] = []
        for layer in self.layers:
            names.append(layer.weight)
            if layer.bias is not None:
                names.append(layer.bias)
        return tuple(names)

    def parameters(self, graph: ir.Graph, dtype: np.dtype | type | None = None) -> Params:
        """Copies of the head's initializers (in ``dtype`` if given)."""
        return {name: np.array(graph.initializers[name], dtype=dtype, copy=True) for name in self.parameter_names}


def find_dense_head(graph: ir.Graph) -> DenseHead:
    """The chain of dense layers that ends the graph (an ONNX graph, or a session's optimized one, where
    ``ai.ronn`` FusedGemm/FusedMatMul nodes carry their activation).

    Raises:
        HeadNotFoundError: no ``Gemm``/``MatMul`` with an initializer weight, or the last one feeds anything
            but a bias ``Add``, ``Softmax``/``LogSoftmax``/``Identity`` or a graph output.
    """
    producers, consumers = graph.producers(), graph.consumers()
    last = next((n for n in reversed(graph.nodes) if _dense(n, graph, consumers) is not None), None)
    if last is None:
        raise HeadNotFoundError(f"graph {graph.name!r} has no Gemm or MatMul with a 2-D initializer weight")
    layer = _dense(last, graph, consumers)
    assert layer is not None
    if layer.activation is not None:
        raise HeadNotFoundError(f"{last.describe()} ends the model with an activation; expected logits")
    for reader in consumers.get(layer.output, []):
        if reader.op_type not in ("Softmax", "LogSoftmax", "Identity"):
            raise HeadNotFoundError(
                f"{last.describe()} is not the end of the model: its output feeds {reader.describe()}"
            )
    layers = [layer]
    while True:
        previous = _layer_ending_at(layers[0].input, graph, producers, consumers)
        if previous is None:
            break
        layers.insert(0, previous)
    return DenseHead(tuple(layers), layers[0].input, layers[-1].output)


_FUSED_ACTIVATIONS = {"Relu": "relu", "Gelu": "gelu", "GeluTanh": "gelu_tanh"}


def _layer_ending_at(value: str, graph: ir.Graph, producers: dict[str, ir.Node],
                     consumers: dict[str, list[ir.Node]]) -> DenseLayer | None:
    """The hidden layer (dense + activation) whose activated output is ``value``, read by one node only."""
    node = producers.get(value)
    if node is None or len(consumers.get(value, [])) != 1:
        return None
    if node.op_type in ("FusedGemm", "FusedMatMul"):
        return _dense(node, graph, consumers)
    if node.op_type == "Relu" and node.domain in ("", "ai.onnx"):
        activation = "relu"
    elif node.op_type == "Gelu":
        activation = "gelu_tanh" if node.attrs.get("approximate", "none") == "tanh" else "gelu"
    else:
        return None
    dense_node = producers.get(node.inputs[0])
    if dense_node is not None and dense_node.op_type == "Add":  # MatMul + Add: find the MatMul
        dense_node = next((producers[i] for i in dense_node.inputs if i in producers
                           and producers[i].op_type == "MatMul"), None)
    layer = None if dense_node is None else _dense(dense_node, graph, consumers)
    if layer is None or layer.activation is not None or layer.output != node.inputs[0]:
        return None
    if len(consumers.get(layer.output, [])) != 1:
        return None
    return DenseLayer(layer.node, layer.weight, layer.bias, layer.trans_b, layer.alpha, layer.beta, activation,
                      layer.input, value)


def _dense(node: ir.Node, graph: ir.Graph, consumers: dict[str, list[ir.Node]]) -> DenseLayer | None:
    """The layer ``node`` computes, or None if it is not a learnable one. Its output is taken after a fused
    activation (FusedGemm/FusedMatMul) or a bias ``Add`` (MatMul)."""
    init = graph.initializers
    op = node.op_type
    fused = node.domain == "ai.ronn" and op in ("FusedGemm", "FusedMatMul")
    if not fused and node.domain not in ("", "ai.onnx") or len(node.inputs) < 2:
        return None
    weight = init.get(node.inputs[1])
    if weight is None or weight.ndim != 2 or weight.dtype.kind != "f" or node.inputs[0] in init:
        return None
    name = node.name or node.outputs[0]
    activation = None
    if fused:
        activation = _FUSED_ACTIVATIONS.get(node.attrs.get("activation", ""))
        if node.attrs.get("activation", "") and activation is None:
            return None
        op = op.removeprefix("Fused")
    if op == "Gemm":
        if node.attrs.get("transA", 0):
            return None
        bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
        if bias is not None and bias not in init:
            return None
        return DenseLayer(name, node.inputs[1], bias, bool(node.attrs.get("transB", 0)),
                          float(node.attrs.get("alpha", 1.0)), float(node.attrs.get("beta", 1.0)),
                          activation, node.inputs[0], node.outputs[0])
    if op == "MatMul":
        output, bias = node.outputs[0], None
        readers = consumers.get(output, [])
        if not fused and len(readers) == 1 and readers[0].op_type == "Add":
            add = readers[0]
            other = add.inputs[1] if add.inputs[0] == output else add.inputs[0]
            b = init.get(other)
            if b is not None and b.size == weight.shape[1] and b.shape[-1] == weight.shape[1]:
                output, bias = add.outputs[0], other
        return DenseLayer(name, node.inputs[1], bias, False, 1.0, 1.0, activation, node.inputs[0], output)
    return None


# --- forward and backward ---------------------------------------------------------------------------------------

Cache = list[tuple[np.ndarray, np.ndarray]]  # per layer: (its input, its pre-activation)


def activate(kind: str | None, z: np.ndarray) -> np.ndarray:
    if kind is None:
        return z
    if kind == "relu":
        return np.maximum(z, 0)
    if kind == "gelu":
        return 0.5 * z * (1 + erf(z * z.dtype.type(math.sqrt(0.5))))
    if kind == "gelu_tanh":
        return 0.5 * z * (1 + np.tanh(_SQRT_2_PI * (z + 0.044715 * z**3)))
    raise ValueError(f"unknown activation {kind!r}; known: {ACTIVATIONS}")


def activation_grad(kind: str | None, z: np.ndarray) -> np.ndarray:
    """d activation / dz, elementwise."""
    if kind is None:
        return np.ones_like(z)
    if kind == "relu":
        return (z > 0).astype(z.dtype)
    if kind == "gelu":  # Phi(z) + z phi(z)
        cdf = 0.5 * (1 + erf(z * z.dtype.type(math.sqrt(0.5))))
        return cdf + z * np.exp(-0.5 * z * z) / z.dtype.type(math.sqrt(2 * math.pi))
    if kind == "gelu_tanh":
        t = np.tanh(_SQRT_2_PI * (z + 0.044715 * z**3))
        return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * _SQRT_2_PI * (1 + 3 * 0.044715 * z * z)
    raise ValueError(f"unknown activation {kind!r}; known: {ACTIVATIONS}")


def forward(
    head: DenseHead, params: Params, x: np.ndarray, *, quantize: Callable[[np.ndarray], np.ndarray] | None = None
) -> tuple[np.ndarray, Cache]:
    """Logits [batch, classes] for features ``x`` [batch, K], and what :func:`backward` needs.

    ``quantize``, if given, is applied to every layer's input (fake quantization for quantization-aware
    training; :func:`backward` then passes the gradient straight through it).
    """
    cache: Cache = []
    h = x
    for layer in head.layers:
        if quantize is not None:
            h = quantize(h)
        w = params[layer.weight]
        z = h @ (w.T if layer.trans_b else w)
        if layer.alpha != 1.0:
            z = z * layer.alpha
        if layer.bias is not None:
            b = params[layer.bias]
            z = z + (b if layer.beta == 1.0 else layer.beta * b)
        cache.append((h, z))
        h = activate(layer.activation, z)
    return h, cache


def backward(head: DenseHead, params: Params, cache: Cache, dlogits: np.ndarray) -> Params:
    """Gradients of the loss for every head parameter, given ``dloss / dlogits``."""
    grads: Params = {}
    g = dlogits
    for i in range(len(head.layers) - 1, -1, -1):
        layer, (h, z) = head.layers[i], cache[i]
        if layer.activation is not None:
            g = g * activation_grad(layer.activation, z)
        w = params[layer.weight]
        gw = g.T @ h if layer.trans_b else h.T @ g
        grads[layer.weight] = gw * layer.alpha if layer.alpha != 1.0 else gw
        if layer.bias is not None:
            grads[layer.bias] = _reduce_to(g * layer.beta if layer.beta != 1.0 else g, params[layer.bias].shape)
        if i:
            g = g @ w if layer.trans_b else g @ w.T
            if layer.alpha != 1.0:
                g = g * layer.alpha
    return grads


def squared_gradient_sums(head: DenseHead, params: Params, cache: Cache, dlogits: np.ndarray) -> Params:
    """``sum_i g_i**2`` over the batch of the *per-sample* gradients, where row ``i`` of ``dlogits`` is sample
    ``i``'s ``dloss_i / dlogits_i``: the empirical Fisher diagonal times the batch size.

    A dense layer's per-sample weight gradient is the outer product ``h_i g_i``, so the sum of its squares is
    ``(h**2).T @ g**2``: no per-sample loop.
    """
    sums: Params = {}
    g = dlogits
    for i in range(len(head.layers) - 1, -1, -1):
        layer, (h, z) = head.layers[i], cache[i]
        if layer.activation is not None:
            g = g * activation_grad(layer.activation, z)
        a2 = layer.alpha * layer.alpha
        gw = (g * g).T @ (h * h) if layer.trans_b else (h * h).T @ (g * g)
        sums[layer.weight] = gw * a2 if a2 != 1.0 else gw
        if layer.bias is not None:
            shape = params[layer.bias].shape
            if int(np.prod(shape)) == 1:  # a scalar bias: its per-sample gradient is a row sum
                sums[layer.bias] = np.full(shape, float(((g.sum(axis=1) * layer.beta) ** 2).sum()), g.dtype)
            else:
                sums[layer.bias] = _reduce_to(g * g * layer.beta**2, shape)
        if i:
            w = params[layer.weight]
            g = g @ w if layer.trans_b else g @ w.T
            if layer.alpha != 1.0:
                g = g * layer.alpha
    return sums


def _reduce_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a broadcast gradient [batch, N] back to a bias of ``shape`` ([N], [1, N] or a scalar)."""
    if int(np.prod(shape)) == 1:
        return np.full(shape, g.sum(), g.dtype)
    return g.sum(axis=0).reshape(shape)


# --- the loss -------------------------------------------------------------------------------------------------


def softmax(logits: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Row softmax; classes where ``mask`` (bool [classes] or [batch, classes]) is False get probability 0."""
    z = logits if mask is None else np.where(mask, logits, -np.inf)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_cross_entropy(
    logits: np.ndarray,
    labels: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    per_sample: bool = False,
) -> tuple[float, np.ndarray]:
    """Mean (or weighted mean) cross-entropy of integer ``labels`` and its gradient with respect to ``logits``.

    ``mask`` restricts the softmax to some classes (task-incremental learning: one head per task).
    With ``per_sample`` the gradient rows are each sample's own ``dloss_i / dlogits_i`` (not divided by the
    batch size), as :func:`squared_gradient_sums` wants.
    """
    n = logits.shape[0]
    p = softmax(logits, mask)
    rows = np.arange(n)
    losses = -np.log(np.maximum(p[rows, labels], np.finfo(p.dtype).tiny))
    grad = p.copy()
    grad[rows, labels] -= 1
    if per_sample:
        return float(losses.mean()), grad
    weights = np.full(n, 1.0 / n, logits.dtype) if sample_weight is None else (
        sample_weight / sample_weight.sum()).astype(logits.dtype)
    return float((losses * weights).sum()), grad * weights[:, None]


def soft_cross_entropy(logits: np.ndarray, targets: np.ndarray, mask: np.ndarray | None = None) -> tuple[
        float, np.ndarray]:
    """Mean cross-entropy against soft targets (probability rows), e.g. a teacher's, and its logit gradient."""
    p = softmax(logits, mask)
    loss = -(targets * np.log(np.maximum(p, np.finfo(p.dtype).tiny))).sum(axis=1).mean()
    return float(loss), (p - targets) / logits.shape[0]
