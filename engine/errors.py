"""Errors raised by the RONN engine.

Every error a user can cause is a subclass of :class:`RonnError`, and its message says what to fix::

    RonnError                      base of everything RONN raises on purpose
    ├── ModelError                 the model file or graph is unusable (truncated, garbage, unsafe
    │   │                          external data, a node that breaks its operator's rules)
    │   └── UnsupportedOperatorError   an operator (op, domain, opset, node) the engine has no kernel for
    ├── InvalidInputError          a feed is wrong: unknown or missing name, wrong dtype, a shape that
    │                              contradicts a declared static dimension, bad values
    ├── ExecutionError             a kernel failed while running a node (names the node and op)
    ├── ProviderError              an execution provider that cannot run here was asked for
    └── ResourceLimitError         a configured limit (memory, time budget, capacity) would be exceeded

``RonnError`` and ``InvalidInputError`` live in the leaf package ``ronn_errors`` (shared with ``memory_store``)
and are re-exported here. ``InvalidInputError`` and ``ModelError`` also derive from ``ValueError``, so code
written for onnxruntime's broad ``except ValueError`` keeps working.
"""

from __future__ import annotations

from ronn_errors import InvalidInputError, RonnError


class ModelError(RonnError, ValueError):
    """The model cannot be loaded or compiled: say which file, node or attribute is wrong."""


class UnsupportedOperatorError(ModelError):
    """No kernel is registered for an operator at the model's opset."""

    def __init__(self, op_type: str, domain: str, opset: int, node_name: str = "", detail: str = "") -> None:
        self.op_type = op_type
        self.domain = domain or "ai.onnx"
        self.opset = opset
        self.node_name = node_name
        where = f" (node {node_name!r})" if node_name else ""
        extra = f": {detail}" if detail else ""
        super().__init__(
            f"operator {self.domain}::{op_type} at opset {opset} is not supported{where}{extra}"
        )


class ExecutionError(RonnError, RuntimeError):
    """A kernel failed while executing a node."""


class ProviderError(RonnError, RuntimeError):
    """An execution provider was requested that cannot run on this machine."""


class ResourceLimitError(RonnError, RuntimeError):
    """A configured resource limit would be exceeded."""


__all__ = [
    "ExecutionError",
    "InvalidInputError",
    "ModelError",
    "ProviderError",
    "ResourceLimitError",
    "RonnError",
    "UnsupportedOperatorError",
]
