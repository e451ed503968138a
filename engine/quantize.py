"""Post-training BitNet quantization: ``ternarize(model)`` rewrites dense layers into packed ternary (or
binary) ops.

    >>> from engine.quantize import ternarize
    >>> from engine.session import InferenceSession
    >>> graph = ternarize("model.onnx")                                   # doctest: +SKIP
    >>> sess = InferenceSession(graph, providers=["BitNetExecutionProvider", "CPUExecutionProvider"])  #
    doctest: +SKIP

What is rewritten (everything else is left as it is):

* ``MatMul(X, W)`` with ``W`` a 2-D initializer [K, N];
* ``Gemm(A, B, C)`` with ``B`` an initializer, ``transA = 0`` and ``C`` absent or an initializer that
  broadcasts to [N] (``alpha`` folds into the scale, ``beta * C`` becomes the bias);
* ``Conv`` with a [M, C, 1, 1] initializer weight, ``group = 1``, no padding, dilation 1 (any stride).

Each becomes a node in the internal domain ``ai.ronn.bitnet`` (opset 1)::

    TernaryMatMul(X, W_packed uint8 [N, ceil(K/P)], W_scale float32 [N], bias float32 [N]?) -> Y [..., N]
        attributes: k (K), bits (2 = ternary {-1, 0, +1}, 1 = binary {-1, +1})
    TernaryConv(X [B, C, H, W], W_packed, W_scale, bias?) -> Y [B, M, H', W']
        attributes: k (C), bits, strides

with weights quantized per output channel by absmean (BitNet b1.58) and activations quantized to int8 per row
(absmax) when the node runs; :mod:`engine.kernels.ternary` defines the arithmetic and the packing.

The result is an :class:`engine.ir.Graph`, not an ONNX ModelProto: the session takes it directly, and a
ModelProto holding ``ai.ronn.bitnet`` nodes would be a file no other runtime can run. The BitNet provider
runs these ops with the numba kernels; the CPU provider runs the same arithmetic with the numpy reference
(registered by :mod:`engine.providers.bitnet`), so a quantized graph runs, slower, without the BitNet
provider.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine import ir
from engine.kernels.ternary import pack, quantize_weights

DOMAIN = "ai.ronn.bitnet"
MODES = {"ternary": 2, "binary": 1}


@dataclass(frozen=True)
class QuantizedLayer:
    """What :func:`ternarize` did to one node."""

    node: str
    op_type: str
    shape: tuple[int, int]        # (N outputs, K inputs)
    float_bytes: int
    packed_bytes: int


def ternarize(
    model_or_session: Any,
    *,
    mode: str = "ternary",
    exclude: Iterable[str] = (),
    min_weights: int = 0,
    report: list[QuantizedLayer] | None = None,
) -> ir.Graph:
    """Quantize the dense layers of a model to packed ternary or binary weights.

    Args:
        model_or_session: a path, bytes, ``onnx.ModelProto``, :class:`~engine.ir.Graph` (not modified) or an
            ``InferenceSession`` (its optimized graph is used).
        mode: ``"ternary"`` ({-1, 0, +1}, 2 bits per weight) or ``"binary"`` ({-1, +1}, 1 bit).
        exclude: names of nodes (or of their first output) to keep in float32, e.g. the classifier layer.
        min_weights: leave layers with fewer weights than this in float32.
        report: if given, one :class:`QuantizedLayer` is appended per rewritten node.

    Returns:
        A new graph whose quantized nodes are in the ``ai.ronn.bitnet`` domain.

    Raises:
        ValueError: an unknown ``mode``.
        ModelError: the model cannot be loaded.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}")
    bits = MODES[mode]
    graph = _graph_of(model_or_session)
    skip = set(exclude)
    out = ir.Graph(
        nodes=[], inputs=list(graph.inputs), outputs=list(graph.outputs),
        initializers=dict(graph.initializers), opsets={**graph.opsets, DOMAIN: 1}, name=graph.name,
        value_info=dict(graph.value_info), outer_scope=graph.outer_scope, metadata=dict(graph.metadata),
    )
    rewrite = {"MatMul": _matmul_weights, "Gemm": _gemm_weights, "Conv": _conv_weights}
    for node in graph.nodes:
        found = None
        wanted = node.domain in ("", "ai.onnx") and node.op_type in rewrite
        if wanted and not skip & {node.name, *node.outputs}:
            found = rewrite[node.op_type](node, graph)
        if found is None or found[0].size < max(min_weights, 1):
            out.nodes.append(copy.copy(node))
            continue
        w_rows, bias = found
        codes, scale = quantize_weights(w_rows, bits)
        scale = scale * np.float32(_alpha(node))
        base = node.name or node.outputs[0]
        packed_name, scale_name = _unique(out, f"{base}.w_packed"), _unique(out, f"{base}.w_scale")
        out.initializers[packed_name] = pack(codes, bits)
        out.initializers[scale_name] = scale.astype(np.float32)
        inputs = [node.inputs[0], packed_name, scale_name]
        if bias is not None:
            bias_name = _unique(out, f"{base}.bias")
            out.initializers[bias_name] = bias
            inputs.append(bias_name)
        attrs: dict[str, Any] = {"k": int(w_rows.shape[1]), "bits": bits}
        op = "TernaryMatMul"
        if node.op_type == "Conv":
            op = "TernaryConv"
            attrs["strides"] = list(node.attrs.get("strides", [1, 1]))
        out.nodes.append(ir.Node(op, inputs, list(node.outputs), attrs, name=node.name, domain=DOMAIN))
        if report is not None:
            # type: ignore[arg-type]
            report.append(QuantizedLayer(node.name or base, node.op_type, tuple(w_rows.shape),
                                         int(w_rows.size * 4), int(out.initializers[packed_name].nbytes)))
    _drop_unused_initializers(out)
    return out


def _graph_of(source: Any) -> ir.Graph:
    if isinstance(source, ir.Graph):
        return source
    graph = getattr(source, "graph", None)
    if isinstance(graph, ir.Graph):  # an InferenceSession
        return graph
    from engine.loader import load_model

    return load_model(source)


def _alpha(node: ir.Node) -> float:
    return float(node.attrs.get("alpha", 1.0)) if node.op_type == "Gemm" else 1.0


def _const(graph: ir.Graph, name: str) -> np.ndarray | None:
    array = graph.initializers.get(name)
    if array is None or array.dtype != np.float32:
        return None
    return array


def _matmul_weights(node: ir.Node, graph: ir.Graph) -> tuple[np.ndarray, np.ndarray | None] | None:
    w = _const(graph, node.inputs[1])
    if w is None or w.ndim != 2 or node.inputs[0] in graph.initializers:
        return None
    return np.ascontiguousarray(w.T), None


def _gemm_weights(node: ir.Node, graph: ir.Graph) -> tuple[np.ndarray, np.ndarray | None] | None:
    b = _const(graph, node.inputs[1])
    if b is None or b.ndim != 2 or node.attrs.get("transA", 0):
        return None
    w_rows = b if node.attrs.get("transB", 0) else b.T
    bias = None
    if len(node.inputs) > 2 and node.inputs[2]:
        c = _const(graph, node.inputs[2])
        n = w_rows.shape[0]
        if c is None or c.size not in (1, n) or (c.ndim == 2 and c.shape[0] != 1) or c.ndim > 2:
            return None
        beta = np.float32(node.attrs.get("beta", 1.0))
        bias = (np.broadcast_to(c.reshape(-1), (n,)) * beta).astype(np.float32)
    return np.ascontiguousarray(w_rows), bias


def _conv_weights(node: ir.Node, graph: ir.Graph) -> tuple[np.ndarray, np.ndarray | None] | None:
    w = _const(graph, node.inputs[1])
    if w is None or w.ndim != 4 or w.shape[2:] != (1, 1):
        return None
    a = node.attrs
    dilated = any(d != 1 for d in a.get("dilations", [1, 1]))
    if a.get("group", 1) != 1 or any(a.get("pads", [0] * 4)) or dilated:
        return None
    if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        return None
    bias = None
    if len(node.inputs) > 2 and node.inputs[2]:
        bias = _const(graph, node.inputs[2])
        if bias is None:
            return None
    return np.ascontiguousarray(w.reshape(w.shape[0], w.shape[1])), bias


def _unique(graph: ir.Graph, name: str) -> str:
    candidate, i = name, 1
    while candidate in graph.initializers:
        candidate, i = f"{name}.{i}", i + 1
    return candidate


def _names_read(graph: ir.Graph) -> set[str]:
    used = set(graph.output_names) | set(graph.input_names)
    for node in graph.nodes:
        used.update(node.inputs)
        for value in node.attrs.values():
            for sub in value if isinstance(value, list) else [value]:
                if isinstance(sub, ir.Graph):
                    used |= _names_read(sub)
    return used


def _drop_unused_initializers(graph: ir.Graph) -> None:
    used = _names_read(graph)
    for name in [n for n in graph.initializers if n not in used]:
        del graph.initializers[name]
