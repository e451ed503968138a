"""identity_elimination (O1): remove nodes that hand their input on unchanged.

Removed: Identity; Dropout at inference (no ``training_mode``, or a constant false one, and its mask unread);
Cast to the type the input already has; Reshape/Expand to the shape the input already has (judged from static
dims, ``0`` entries and a lone ``-1``); Transpose by the identity permutation; single-input Concat, Sum, Max,
Min and Mean.

Readers of the removed node's output read its input instead. When that output is a graph output, its name must
stay, so the *input* is renamed to it (possible when a node produces the input and it is not itself a graph
output); otherwise the node is kept.
"""

from __future__ import annotations

from engine import ir
from engine.ops._elementwise import ONNX_TO_NUMPY
from engine.passes import _rewrite as rw

NAME = "identity_elimination"

_SINGLE_INPUT_IDENTITY = frozenset({"Concat", "Sum", "Max", "Min", "Mean"})


def _same_shape(ix: rw.Index, node: ir.Node) -> bool:
    """Reshape/Expand whose result provably has the input's shape."""
    graph = ix.graph
    shape = ix.const(node.inputs[1]) if len(node.inputs) > 1 else None
    src = rw.shape_of(graph, node.inputs[0])
    if shape is None or src is None or shape.ndim != 1 or shape.size != len(src):
        return False
    dims = [int(d) for d in shape]
    if node.op_type == "Expand":
        return all(d == 1 or (isinstance(s, int) and d == s) for d, s in zip(dims, src, strict=True))
    allowzero = int(node.attrs.get("allowzero", 0))
    unknown = 0
    for d, s in zip(dims, src, strict=True):
        if d == 0 and not allowzero:
            continue
        if d == -1:
            unknown += 1
        elif not (isinstance(s, int) and s == d):
            return False
    if unknown and 0 in [s for s in src if isinstance(s, int)]:
        return False  # -1 is ambiguous with zero-size dimensions
    return unknown <= 1


def _passes_through(ix: rw.Index, node: ir.Node) -> bool:
    op = node.op_type
    graph = ix.graph
    if node.domain not in ("", "ai.onnx") or not node.inputs or not node.inputs[0]:
        return False
    if op == "Identity":
        return True
    if op == "Dropout":
        mask = node.outputs[1] if len(node.outputs) > 1 else ""
        if mask and ix.uses.get(mask, 0):
            return False
        training = node.inputs[2] if len(node.inputs) > 2 else ""
        if not training:
            return True
        value = ix.const(training)
        return value is not None and not bool(value.reshape(-1)[0])
    if op == "Cast":
        src = rw.dtype_of(graph, node.inputs[0])
        to = node.attrs.get("to")
        dst = ONNX_TO_NUMPY.get(to) if isinstance(to, int) else None
        return src is not None and dst is not None and src == dst and src.kind != "O"
    if op in ("Reshape", "Expand"):
        return _same_shape(ix, node)
    if op == "Transpose":
        perm = node.attrs.get("perm")
        return perm is not None and list(perm) == list(range(len(perm)))
    if op in _SINGLE_INPUT_IDENTITY:
        return len(node.inputs) == 1
    return False


def run(graph: ir.Graph) -> bool:
    ix = rw.Index(graph)
    removed: set[int] = set()
    for node in graph.nodes:
        if not _passes_through(ix, node) or not node.outputs or not node.outputs[0]:
            continue
        src, dst = node.inputs[0], node.outputs[0]
        if dst not in ix.outputs:
            rw.rename(graph, dst, src)
        elif src in ix.producer and src not in ix.outputs:
            producer = ix.producer.pop(src)
            producer.outputs = [dst if o == src else o for o in producer.outputs]
            rw.rename(graph, src, dst)  # this node then reads dst; it is dropped below
            ix.producer[dst] = producer
        else:
            continue
        removed.add(id(node))
    graph.nodes = [n for n in graph.nodes if id(n) not in removed]
    return bool(removed)
