"""memory_planning (O3): a liveness analysis that assigns every intermediate value to a buffer, values whose
lifetimes do not overlap sharing one, and records it as ``graph.metadata["memory_plan"]``.

It does not rewrite the graph. The plan is what a kernel that writes into a preallocated buffer needs
(``out=`` arguments); today's kernels allocate their results, so the session uses only the lifetimes (it
already frees each value after its last reader). docs/passes.md says what the kernels need to use the rest.

* Lifetime of a value: from the node that produces it to its last reader (graph outputs: to the end).
  Operators that may return a view of their input (Reshape, Transpose, Identity, Slice, Split, ...) alias
  it: the input's buffer lives as long as the last reader of any view of it.
* Buffers are assigned greedily in execution order, reusing the smallest free buffer of the same dtype that
  is large enough. Sizes come from static shapes; a value with symbolic dimensions reuses only a buffer of
  exactly the same symbolic shape.
* ``in_place`` lists elementwise nodes whose output could overwrite an input that dies at that node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine import ir
from engine.passes import _rewrite as rw

NAME = "memory_planning"

# Operators whose kernels may return a view of (some of) their first input.
_VIEWS = frozenset(
    {
        "Identity",
        "Reshape",
        "Flatten",
        "Squeeze",
        "Unsqueeze",
        "Transpose",
        "Dropout",
        "Slice",
        "Split",
        "Expand",
    }
)
# Elementwise operators whose result has the shape and dtype of an input of the same shape.
_ELEMENTWISE = frozenset(
    {
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Relu",
        "Sigmoid",
        "Tanh",
        "Erf",
        "Sqrt",
        "Exp",
        "Neg",
        "Abs",
        "Clip",
        "LeakyRelu",
        "HardSwish",
        "HardSigmoid",
        "Gelu",
        "Pow",
        "Softmax",
    }
)


@dataclass(frozen=True)
class Buffer:
    dtype: str
    shape: tuple[ir.Dim, ...]  # the shape of the largest value it holds
    nbytes: int | None  # None: symbolic shape


@dataclass(frozen=True)
class MemoryPlan:
    buffers: tuple[Buffer, ...]
    assignment: dict[str, int]  # value -> index into buffers (aliases map to their base's buffer)
    lifetimes: dict[str, tuple[int, int]]  # value -> (producing step, last reading step)
    in_place: tuple[tuple[str, str, str], ...]  # (node, input, output) pairs that could share storage
    planned_bytes: int  # static bytes with sharing (sum of the buffers)
    unshared_bytes: int  # static bytes if every value had its own buffer


def _nbytes(value: ir.Value | None) -> int | None:
    if value is None or value.dtype is None or value.shape is None:
        return None
    if not all(isinstance(d, int) for d in value.shape):
        return None
    return math.prod(value.shape) * value.dtype.itemsize  # type: ignore[arg-type]


def plan_memory(graph: ir.Graph) -> MemoryPlan:
    end = len(graph.nodes)
    outside = set(graph.input_names) | set(graph.initializers)  # never in a planned buffer
    base: dict[str, str] = {}
    born: dict[str, int] = {}
    last: dict[str, int] = {}
    for step, node in enumerate(graph.nodes):
        reads = [n for n in node.inputs if n]
        for sub in rw.subgraphs(node):
            reads += sorted(rw.free_names(sub))
        for name in reads:
            root = base.get(name, name)
            last[root] = max(last.get(root, step), step)
        for i, out in enumerate(node.outputs):
            if not out:
                continue
            born[out] = step
            last.setdefault(out, step)
            source = node.inputs[0] if node.inputs else ""
            is_view = node.op_type == "Split" or (node.op_type in _VIEWS and i == 0)
            if is_view and (source in born or source in outside):
                base[out] = base.get(source, source)
    for name in graph.output_names:
        last[base.get(name, name)] = end

    buffers: list[Buffer] = []
    assignment: dict[str, int] = {}
    free: list[int] = []
    releases: dict[int, list[str]] = {}
    for name in born:
        if name in base:
            continue
        releases.setdefault(last[name], []).append(name)
    unshared = 0
    for step, node in enumerate(graph.nodes):
        for out in node.outputs:
            if not out or out in base:
                continue
            value = rw.value_of(graph, out)
            size = _nbytes(value)
            unshared += size or 0
            dtype = str(value.dtype) if value is not None and value.dtype is not None else "?"
            shape = value.shape if value is not None and value.shape is not None else ()
            choice = _pick(buffers, free, dtype, shape, size)
            if choice is None:
                buffers.append(Buffer(dtype, tuple(shape), size))
                choice = len(buffers) - 1
            else:
                free.remove(choice)
                old = buffers[choice]
                if size is not None and old.nbytes is not None and size > old.nbytes:
                    buffers[choice] = Buffer(dtype, tuple(shape), size)
            assignment[out] = choice
        for name in releases.get(step, []):
            if name in assignment:
                free.append(assignment[name])
    for alias, root in base.items():
        if root in assignment:
            assignment[alias] = assignment[root]
    return MemoryPlan(
        buffers=tuple(buffers),
        assignment=assignment,
        lifetimes={n: (born[n], last[base.get(n, n)]) for n in born},
        in_place=_in_place(graph, base, last),
        planned_bytes=sum(b.nbytes or 0 for b in buffers),
        unshared_bytes=unshared,
    )


def _pick(
    buffers: list[Buffer], free: list[int], dtype: str, shape: tuple[ir.Dim, ...], size: int | None
) -> int | None:
    """The free buffer to reuse: same dtype; smallest that fits (static) or the same shape (symbolic)."""
    best: int | None = None
    for index in free:
        buf = buffers[index]
        if buf.dtype != dtype:
            continue
        if size is None or buf.nbytes is None:
            if size is None and buf.nbytes is None and buf.shape == tuple(shape):
                return index
            continue
        if best is None or abs(buf.nbytes - size) < abs(buffers[best].nbytes - size):  # type: ignore[operator]
            best = index
    return best


def _in_place(
    graph: ir.Graph, base: dict[str, str], last: dict[str, int]
) -> tuple[tuple[str, str, str], ...]:
    found = []
    produced = {o for n in graph.nodes for o in n.outputs}
    for step, node in enumerate(graph.nodes):
        if node.op_type not in _ELEMENTWISE or not node.outputs or not node.outputs[0]:
            continue
        out_shape = rw.shape_of(graph, node.outputs[0])
        for name in node.inputs:
            if (
                name in produced
                and name not in base
                and last.get(name) == step
                and rw.shape_of(graph, name) == out_shape
                and out_shape is not None
                and rw.dtype_of(graph, name) == rw.dtype_of(graph, node.outputs[0])
            ):
                found.append((node.name or node.outputs[0], name, node.outputs[0]))
                break
    return tuple(found)


def run(graph: ir.Graph) -> bool:
    graph.metadata["memory_plan"] = plan_memory(graph)
    return False  # analysis only: the graph is unchanged
