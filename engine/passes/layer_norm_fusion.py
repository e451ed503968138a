"""layer_norm_fusion (O2): the decomposed layer normalization becomes one LayerNormalization node.

Pattern (``x`` normalized over its last k axes, ``d`` read by both branches)::

    m = ReduceMean(x, trailing axes)     d = Sub(x, m)
    v = ReduceMean(Pow(d, 2) | Mul(d, d), same axes)
    y = Div(d, Sqrt(Add(v, eps)))   [* gamma]   [+ beta]

gamma and beta must be constants no wider than the normalized axes. The result is the standard operator
(opset 17+) or ``ai.ronn::LayerNormalization`` for older models; it computes its statistics in float32.
"""

from __future__ import annotations

import numpy as np

from engine import ir
from engine.passes import _rewrite as rw

NAME = "layer_norm_fusion"


def _axes(ix: rw.Index, node: ir.Node) -> list[int] | None:
    if int(node.attrs.get("keepdims", 1)) != 1:
        return None
    if "axes" in node.attrs:
        return [int(a) for a in node.attrs["axes"]]
    value = ix.const(node.inputs[1]) if len(node.inputs) > 1 and node.inputs[1] else None
    return None if value is None else [int(a) for a in value.reshape(-1)]


def _first_axis(ix: rw.Index, axes: list[int], x: str) -> int | None:
    """The negative first normalized axis when ``axes`` are the trailing axes of ``x``, else None."""
    rank = rw.rank_of(ix.graph, x)
    if any(a >= 0 for a in axes):
        if rank is None:
            return None
        axes = [a - rank if a >= 0 else a for a in axes]
    k = len(axes)
    return -k if k and sorted(axes) == list(range(-k, 0)) else None


def _param(ix: rw.Index, node: ir.Node, value: str, k: int) -> str | None:
    """The constant operand of ``node`` (the other being ``value``) if it spans at most the last k axes."""
    others = [n for n in node.inputs if n != value]
    if len(node.inputs) != 2 or len(others) != 1:
        return None
    const = ix.const(others[0])
    return others[0] if const is not None and const.ndim <= k else None


def _match(ix: rw.Index, div: ir.Node) -> tuple[str, int, float, list[ir.Node]] | None:
    d, sd = div.inputs
    sqrt = rw.private_producer(ix, sd, "Sqrt")
    add = rw.private_producer(ix, sqrt.inputs[0], "Add") if sqrt else None
    split = ix.split_const(add) if add else None
    var = rw.private_producer(ix, split[0], "ReduceMean") if split else None
    square = rw.private_producer(ix, var.inputs[0], ("Pow", "Mul")) if var else None
    sub = ix.producer_of(d, "Sub")
    # square is only looked up once var, split, add and sqrt were found; the extra checks narrow the types
    if square is None or var is None or split is None or add is None or sqrt is None or sub is None:
        return None
    if square.op_type == "Pow":
        if square.inputs[0] != d or not rw.close(ix.scalar(square.inputs[1]), 2.0):
            return None
        readers = 2
    elif square.inputs != [d, d]:
        return None
    else:
        readers = 3
    x, mean_out = sub.inputs
    mean = rw.private_producer(ix, mean_out, "ReduceMean")
    if mean is None or mean.inputs[0] != x or not ix.private(d, readers):
        return None
    axes, var_axes = _axes(ix, mean), _axes(ix, var)
    if axes is None or var_axes is None:
        return None
    axis = _first_axis(ix, axes, x)
    if axis is None or axis != _first_axis(ix, var_axes, d):
        return None
    return x, axis, split[1], [sub, mean, square, var, add, sqrt]


def _only_reader(graph: ir.Graph, ix: rw.Index, name: str, op_type: str) -> ir.Node | None:
    if not ix.private(name):
        return None
    reader = next((n for n in graph.nodes if name in n.inputs), None)
    return (
        reader
        if reader is not None and reader.op_type == op_type and reader.domain in ("", "ai.onnx")
        else None
    )


def run(graph: ir.Graph) -> bool:
    ix = rw.Index(graph)
    changed = False
    for div in list(graph.nodes):
        if (
            div.op_type != "Div"
            or div.domain not in ("", "ai.onnx")
            or not rw.is_float(graph, div.outputs[0])
        ):
            continue
        found = _match(ix, div)
        if found is None:
            continue
        x, axis, eps, pattern = found
        last, scale, bias = div, None, None
        mul = _only_reader(graph, ix, div.outputs[0], "Mul")
        if mul is not None and (scale := _param(ix, mul, div.outputs[0], -axis)) is not None:
            pattern.append(last)
            last = mul
        add = _only_reader(graph, ix, last.outputs[0], "Add")
        if add is not None and (bias := _param(ix, add, last.outputs[0], -axis)) is not None:
            pattern.append(last)
            last = add
        if scale is None:
            norm_shape = rw.shape_of(graph, x)
            dims = norm_shape[axis:] if norm_shape is not None else ()
            known = [d for d in dims if isinstance(d, int)]
            shape = tuple(known) if len(known) == len(dims) else (1,)
            dtype = rw.dtype_of(graph, div.outputs[0])
            scale = rw.add_initializer(graph, f"{last.outputs[0]}_scale", np.ones(shape, dtype))
        standard = graph.opset("") >= 17
        if not standard:
            rw.use_ronn_domain(graph)
        inputs = [x, scale] + ([bias] if bias else [])
        node = ir.Node(
            "LayerNormalization",
            inputs,
            [last.outputs[0]],
            {"axis": axis, "epsilon": eps},
            rw.node_name(div, "layer_norm"),
            "" if standard else rw.RONN_DOMAIN,
        )
        rw.replace(graph, last, node, dead=[*pattern, div], ix=ix)
        changed = True
    return changed
