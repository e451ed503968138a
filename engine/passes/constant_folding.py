"""constant_folding (O1): run nodes whose inputs are all constant once, at load time, and keep the results as
initializers.

The node's own registered kernel computes the value, so folding can never disagree with running. Not folded:
nodes with subgraphs, nondeterministic operators, nodes whose kernel fails (the session reports the error when
it runs them), non-tensor results, and results over :data:`MAX_FOLDED_ELEMENTS` elements that are larger than
the constants they are computed from (so ``ConstantOfShape([100000, 100000])`` is never materialized).
``Constant`` nodes become initializers as well, which later passes and the plan handle more cheaply.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine import ir
from engine.ops.registry import lookup
from engine.passes import _rewrite as rw

NAME = "constant_folding"

# A folded result may exceed the size of its constant inputs only up to this many elements.
MAX_FOLDED_ELEMENTS = 1 << 20

# Operators whose output can be far larger than their inputs: estimated before they are run.
_EXPANDING = frozenset(
    {
        "ConstantOfShape",
        "Expand",
        "Tile",
        "Range",
        "Resize",
        "Upsample",
        "Pad",
        "OneHot",
        "EyeLike",
        "Einsum",
        "MatMul",
        "Gemm",
    }
)


def run_kernel(graph: ir.Graph, node: ir.Node, args: list[np.ndarray | None]) -> list[np.ndarray] | None:
    """Call ``node``'s registered kernel the way the plan does; None when it cannot be called or fails."""
    try:
        spec = lookup(node.op_type, node.domain, graph.opset(node.domain), node.name)
    except Exception:
        return None
    if not spec.accepts_any_attribute and not set(node.attrs) <= spec.attributes:
        return None
    kwargs: dict[str, Any] = dict(node.attrs)
    if spec.wants_num_outputs:
        kwargs["_num_outputs"] = len(node.outputs)
    while args and args[-1] is None and node.inputs and node.inputs[len(args) - 1] == "":
        args = args[:-1]
    try:
        with np.errstate(all="ignore"):
            results = spec.fn(*args, **kwargs)
    except Exception:
        return None
    if len(results) < len(node.outputs) or not all(
        isinstance(r, np.ndarray) for r, o in zip(results, node.outputs, strict=False) if o
    ):
        return None
    return list(results[: len(node.outputs)])


def _estimated_size(graph: ir.Graph, node: ir.Node, args: list[np.ndarray | None]) -> int | None:
    """Elements the node would produce, when it can be told without running it (None: unknown)."""
    total = 0
    for out in node.outputs:
        shape = rw.static_shape(graph, out) if out else ()
        if shape is None:
            break
        total += math.prod(shape)
    else:
        return total
    if node.op_type == "ConstantOfShape" and args and args[0] is not None:
        return math.prod(int(d) for d in args[0].reshape(-1))
    if node.op_type == "Expand" and len(args) == 2 and args[0] is not None and args[1] is not None:
        try:
            return math.prod(np.broadcast_shapes(args[0].shape, tuple(int(d) for d in args[1].reshape(-1))))
        except ValueError:
            return None
    if node.op_type == "Range" and len(args) == 3 and all(a is not None and a.size == 1 for a in args):
        start, limit, delta = (float(a.reshape(())) for a in args)  # type: ignore[union-attr]
        return max(math.ceil((limit - start) / delta), 0) if delta else None
    if node.op_type == "Tile" and len(args) == 2 and args[0] is not None and args[1] is not None:
        return int(args[0].size) * math.prod(int(d) for d in args[1].reshape(-1))
    return None


def run(graph: ir.Graph) -> bool:
    changed = False
    kept: list[ir.Node] = []
    for node in graph.nodes:
        if (
            node.op_type in rw.NONDETERMINISTIC
            or rw.has_subgraph(node)
            or not node.outputs
            or any(name and name not in graph.initializers for name in node.inputs)
        ):
            kept.append(node)
            continue
        args = [graph.initializers[name] if name else None for name in node.inputs]
        input_size = sum(int(a.size) for a in args if a is not None)
        if node.op_type in _EXPANDING:
            estimate = _estimated_size(graph, node, args)
            if estimate is None or estimate > max(MAX_FOLDED_ELEMENTS, input_size):
                kept.append(node)
                continue
        results = run_kernel(graph, node, args)
        if results is None or sum(int(r.size) for r in results) > max(MAX_FOLDED_ELEMENTS, input_size):
            kept.append(node)
            continue
        for out, value in zip(node.outputs, results, strict=True):
            if out:
                # a fresh, contiguous copy: kernels may return views of (read-only) weights
                graph.initializers[out] = np.array(value, copy=True, order="C")
        changed = True
    graph.nodes = kept
    return changed
