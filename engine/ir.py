"""The engine's own model representation.

A :class:`Graph` holds :class:`Node` objects in topological order, initializers as numpy arrays, and graph
inputs/outputs as :class:`Value` (name, numpy dtype, possibly symbolic shape). The loader builds it from an ONNX
``ModelProto``; graph passes map Graph -> Graph; the session compiles it into a flat execution plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# A dimension is a known size (int), a symbolic name (str) or unknown (None).
Dim = int | str | None


@dataclass(frozen=True)
class Value:
    """A named tensor at a graph boundary: its element type and (possibly symbolic) shape.

    ``dtype`` is None for non-tensor values (sequences, optionals), which the engine does not declare.
    ``shape`` is None when even the rank is unknown.
    """

    name: str
    dtype: np.dtype | None
    shape: tuple[Dim, ...] | None


@dataclass
class Node:
    """One operator application. Empty strings in ``inputs``/``outputs`` mark omitted optional slots.

    ``attrs`` holds attributes already converted to Python: int, float, str, numpy array (tensors), lists of
    those, or :class:`Graph` for subgraph attributes.
    """

    op_type: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    domain: str = ""

    def copy(self) -> Node:
        """A copy whose lists and attributes (subgraphs too) a pass may rewrite without touching this node."""
        attrs = {key: _copy_attr(value) for key, value in self.attrs.items()}
        return Node(self.op_type, list(self.inputs), list(self.outputs), attrs, self.name, self.domain)

    def describe(self) -> str:
        """A short human description used in error messages, e.g. ``node 'conv1' (Conv)``."""
        label = self.name or (self.outputs[0] if self.outputs else "?")
        domain = f"{self.domain}::" if self.domain else ""
        return f"node {label!r} ({domain}{self.op_type})"


@dataclass
class Graph:
    """A model graph: nodes in topological order plus its boundary values and constant initializers."""

    nodes: list[Node]
    inputs: list[Value]
    outputs: list[Value]
    initializers: dict[str, np.ndarray] = field(default_factory=dict)
    opsets: dict[str, int] = field(default_factory=lambda: {"": 13})
    name: str = "graph"
    # Types known for intermediate values (from shape inference); used by passes and error messages.
    value_info: dict[str, Value] = field(default_factory=dict)
    # Names of values visible from an enclosing graph (for subgraphs of If/Loop/Scan).
    outer_scope: tuple[str, ...] = ()
    # Model-level facts kept for inspection: producer, ir_version, doc string, custom metadata.
    metadata: dict[str, Any] = field(default_factory=dict)

    def copy(self) -> Graph:
        """A structural copy that graph passes may rewrite without touching this graph: new nodes, lists and
        dicts (subgraphs copied too); the initializer arrays themselves are shared (passes replace an
        initializer, they never write into one)."""
        return Graph(
            nodes=[node.copy() for node in self.nodes],
            inputs=list(self.inputs),
            outputs=list(self.outputs),
            initializers=dict(self.initializers),
            opsets=dict(self.opsets),
            name=self.name,
            value_info=dict(self.value_info),
            outer_scope=self.outer_scope,
            metadata=dict(self.metadata),
        )

    def opset(self, domain: str = "") -> int:
        """The opset version imported for ``domain`` ("" and "ai.onnx" are the default domain)."""
        if domain in ("", "ai.onnx"):
            return self.opsets.get("", self.opsets.get("ai.onnx", 0))
        return self.opsets.get(domain, 0)

    @property
    def input_names(self) -> list[str]:
        return [v.name for v in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [v.name for v in self.outputs]

    def producers(self) -> dict[str, Node]:
        """Map each value name to the node that produces it."""
        return {out: node for node in self.nodes for out in node.outputs if out}

    def consumers(self) -> dict[str, list[Node]]:
        """Map each value name to the nodes that read it (in order, duplicates kept once per node)."""
        result: dict[str, list[Node]] = {}
        for node in self.nodes:
            for name in dict.fromkeys(node.inputs):
                if name:
                    result.setdefault(name, []).append(node)
        return result

    def parameter_count(self) -> int:
        return int(sum(int(a.size) for a in self.initializers.values()))

    def op_histogram(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.nodes:
            key = f"{node.domain}::{node.op_type}" if node.domain else node.op_type
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _copy_attr(value: Any) -> Any:
    if isinstance(value, Graph):
        return value.copy()
    if isinstance(value, list):
        return [_copy_attr(v) for v in value]
    return value
