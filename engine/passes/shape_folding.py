"""shape_folding (O1): evaluate the shape arithmetic exporters emit (``Shape -> Gather -> Unsqueeze -> Concat
-> Reshape``) from the static shapes shape inference recorded.

* ``Shape(x)`` (and ``Size(x)``) of a value whose dimensions are all known becomes a constant.
* When only some dimensions are known, a ``Gather``/``Slice`` that picks only known dimensions out of
  ``Shape(x)`` becomes a constant (the picking is done by the node's own kernel on the dimension positions).
* A ``Reshape`` whose target shape is a ``Concat`` of pieces gets a constant target instead, when every
  piece is a constant, or the input's own dimension at that position (becomes ``0``, "copy", when
  ``allowzero`` is 0), or the single remaining unknown piece (becomes ``-1``). The shape chain then dies.

Constant folding finishes what is left (``Unsqueeze``/``Concat``/``Cast`` of constants).
"""

from __future__ import annotations

import numpy as np

from engine import ir
from engine.passes import _rewrite as rw
from engine.passes.constant_folding import run_kernel

NAME = "shape_folding"


def _shape_dims(graph: ir.Graph, node: ir.Node) -> list[ir.Dim] | None:
    """The dimensions a Shape node returns (its start/end applied), or None when the rank is unknown."""
    shape = rw.shape_of(graph, node.inputs[0])
    if shape is None:
        return None
    start = int(node.attrs.get("start", 0))
    end = node.attrs.get("end")
    return list(shape[start : None if end is None else int(end)])


def _fold_shape_node(graph: ir.Graph, node: ir.Node) -> bool:
    if node.op_type == "Size":
        shape = rw.static_shape(graph, node.inputs[0])
        if shape is None:
            return False
        graph.initializers[node.outputs[0]] = np.array(int(np.prod(shape)), dtype=np.int64)
        return True
    dims = _shape_dims(graph, node)
    if dims is None or not all(isinstance(d, int) for d in dims):
        return False
    graph.initializers[node.outputs[0]] = np.array(dims, dtype=np.int64)
    return True


def _fold_pick(ix: rw.Index, dims: list[ir.Dim], reader: ir.Node) -> bool:
    """Fold a Gather/Slice of a partially known shape when it picks only known dimensions."""
    graph = ix.graph
    rest = [ix.const(name) for name in reader.inputs[1:]]
    if any(value is None and name for value, name in zip(rest, reader.inputs[1:], strict=True)):
        return False
    if reader.op_type == "Gather" and int(reader.attrs.get("axis", 0)) != 0:
        return False
    positions = np.arange(len(dims), dtype=np.int64)
    result = run_kernel(graph, reader, [positions, *rest])
    if result is None:
        return False
    picked = [dims[int(p)] for p in result[0].reshape(-1)]
    if not all(isinstance(d, int) for d in picked):
        return False
    graph.initializers[reader.outputs[0]] = np.array(picked, dtype=np.int64).reshape(result[0].shape)
    return True


def _dim_source(ix: rw.Index, piece: str) -> tuple[str, int] | None:
    """For a piece ``Unsqueeze(Gather(Shape(s), i))`` (Casts allowed): (s, i)."""
    node = ix.producer_of(piece, "Unsqueeze")
    if node is None:
        return None
    inner = node.inputs[0]
    while (cast := ix.producer_of(inner, "Cast")) is not None:
        inner = cast.inputs[0]
    gather = ix.producer_of(inner, "Gather")
    if gather is None or int(gather.attrs.get("axis", 0)) != 0:
        return None
    index = ix.const(gather.inputs[1])
    shape_node = ix.producer_of(gather.inputs[0], "Shape")
    if index is None or index.size != 1 or shape_node is None or shape_node.attrs.get("start", 0):
        return None
    return shape_node.inputs[0], int(index.reshape(()))


def _same_dim(graph: ir.Graph, a: str, i: int, b: str, k: int) -> bool:
    """Whether dimension ``i`` of value ``a`` is provably dimension ``k`` of value ``b``."""
    if a == b:
        rank = rw.rank_of(graph, a)
        return i == k if i >= 0 else rank is not None and i + rank == k
    sa, sb = rw.shape_of(graph, a), rw.shape_of(graph, b)
    if sa is None or sb is None or not -len(sa) <= i < len(sa) or k >= len(sb):
        return False
    return isinstance(sa[i], str) and sa[i] == sb[k]


def _constant_reshape_target(ix: rw.Index, node: ir.Node) -> np.ndarray | None:
    graph = ix.graph
    concat = ix.producer_of(node.inputs[1], "Concat")
    data_shape = rw.shape_of(graph, node.inputs[0])
    if concat is None or data_shape is None:
        return None
    allowzero = int(node.attrs.get("allowzero", 0))
    target: list[int | None] = []
    for piece in concat.inputs:
        value = ix.const(piece)
        if value is not None:
            target.extend(int(d) for d in value.reshape(-1))
            continue
        if rw.static_shape(graph, piece) != (1,):
            return None
        source = _dim_source(ix, piece)
        k = len(target)
        if (
            source is not None
            and not allowzero
            and k < len(data_shape)
            and _same_dim(graph, source[0], source[1], node.inputs[0], k)
        ):
            target.append(0)
        else:
            target.append(None)
    unknown = target.count(None)
    if unknown > 1 or (unknown == 1 and (-1 in target or (allowzero and 0 in target))):
        return None
    return np.array([-1 if d is None else d for d in target], dtype=np.int64)


def run(graph: ir.Graph) -> bool:
    ix = rw.Index(graph)
    consumers = graph.consumers()
    folded: set[int] = set()
    for node in graph.nodes:
        if node.op_type not in ("Shape", "Size") or node.domain not in ("", "ai.onnx") or not node.inputs:
            continue
        if _fold_shape_node(graph, node):
            folded.add(id(node))
            continue
        dims = _shape_dims(graph, node) if node.op_type == "Shape" else None
        if dims is None:
            continue
        for reader in consumers.get(node.outputs[0], []):
            if reader.op_type in ("Gather", "Slice") and reader.inputs[0] == node.outputs[0]:
                if id(reader) not in folded and _fold_pick(ix, dims, reader):
                    folded.add(id(reader))
    if folded:
        # let constant folding finish the chains first: Reshape targets are judged next round
        graph.nodes = [n for n in graph.nodes if id(n) not in folded]
        return True
    changed = False
    for node in graph.nodes:
        if node.op_type == "Reshape" and node.domain in ("", "ai.onnx") and len(node.inputs) == 2:
            target = _constant_reshape_target(ix, node)
            if target is not None:
                node.inputs = [node.inputs[0], rw.add_initializer(graph, f"{node.outputs[0]}_shape", target)]
                changed = True
    return changed
