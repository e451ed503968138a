"""The CPU provider: every kernel registered in :mod:`engine.ops.registry`, on host numpy arrays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine import ir
from engine.errors import UnsupportedOperatorError
from engine.ops.registry import KernelSpec, lookup
from engine.providers.base import HOST, register_provider


@register_provider
class CPUProvider:
    name = "CPUExecutionProvider"
    device = HOST

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return None

    def supports(self, node: ir.Node, opset: int, dtypes: Sequence[np.dtype | None]) -> bool:
        try:
            lookup(node.op_type, node.domain, opset, node.name)
        except UnsupportedOperatorError:
            return False
        return True

    def host_inputs(self, node: ir.Node) -> frozenset[int]:
        return frozenset()

    def compile_node(self, node: ir.Node, graph: ir.Graph) -> KernelSpec:
        return lookup(node.op_type, node.domain, graph.opset(node.domain), node.name)

    def allocate(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        return np.empty(shape, dtype)

    def to_device(self, array: np.ndarray) -> np.ndarray:
        return array

    def to_host(self, array: Any, dtype: np.dtype | None = None) -> np.ndarray:
        return array
