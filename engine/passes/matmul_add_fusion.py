"""matmul_add_fusion (O2): ``MatMul(A, B) + bias`` becomes one node.

* ``Gemm(A, B, bias)`` when A and B are 2-D and the bias broadcasts to the (M, N) result (Gemm's C is
  broadcast one way only: (N,), (1, N), (M, 1), (M, N) or a scalar).
* ``ai.ronn::FusedMatMul(A, B, bias)`` when A is N-D (the usual ``[batch, seq, hidden] @ W`` of transformers)
  and B is 2-D, with a bias that varies only along the last axis. The kernel multiplies as one 2-D product
  and adds the bias in place.

Only floating-point values whose ranks shape inference recorded are fused; the MatMul result must be read by
the Add alone.
"""

from __future__ import annotations

from engine import ir
from engine.passes import _rewrite as rw

NAME = "matmul_add_fusion"


def _dim_fits(bias_dim: ir.Dim, out_dim: ir.Dim) -> bool:
    return bias_dim == 1 or (bias_dim is not None and bias_dim == out_dim)


def _fuse(ix: rw.Index, add: ir.Node) -> bool:
    graph = ix.graph
    for mm_out, bias in (add.inputs, reversed(add.inputs)):
        matmul = rw.private_producer(ix, mm_out, "MatMul")
        if matmul is None or bias == mm_out:
            continue
        a, b = matmul.inputs
        a_rank, b_rank = rw.rank_of(graph, a), rw.rank_of(graph, b)
        out_shape, bias_shape = rw.shape_of(graph, mm_out), rw.shape_of(graph, bias)
        if a_rank is None or b_rank != 2 or out_shape is None or bias_shape is None or a_rank < 2:
            continue
        if not (rw.is_float(graph, a) and rw.is_float(graph, bias)) or len(bias_shape) > len(out_shape):
            continue
        trailing = list(zip(reversed(bias_shape), reversed(out_shape), strict=False))
        if not all(_dim_fits(bd, od) for bd, od in trailing):
            continue
        if a_rank == 2:
            node = ir.Node("Gemm", [a, b, bias], [add.outputs[0]], {}, rw.node_name(matmul, "gemm"))
        elif all(bd == 1 for bd, _ in trailing[1:]):
            rw.use_ronn_domain(graph)
            node = ir.Node(
                "FusedMatMul",
                [a, b, bias],
                [add.outputs[0]],
                {},
                rw.node_name(matmul, "bias"),
                rw.RONN_DOMAIN,
            )
        else:
            continue
        rw.replace(graph, add, node, dead=[matmul], ix=ix)
        return True
    return False


def run(graph: ir.Graph) -> bool:
    ix = rw.Index(graph)
    changed = False
    for add in list(graph.nodes):
        if add.op_type == "Add" and add.domain in ("", "ai.onnx") and len(add.inputs) == 2:
            changed |= _fuse(ix, add)
    return changed
