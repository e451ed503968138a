"""The BitNet provider: packed ternary/binary layers (``ai.ronn.bitnet`` ops from
:func:`engine.quantize.ternarize`).

It takes only the ``ai.ronn.bitnet`` nodes and runs them with the numba kernels of
:mod:`engine.kernels.ternary`; every other node falls through to the next provider (normally CPU). Its arrays
are host numpy arrays, so its boundaries with CPU cost nothing.

This module also registers the numpy reference kernels of the same ops in :mod:`engine.ops.registry`, so
that a quantized graph still runs (the same arithmetic, bit for bit, only slower) on the CPU provider alone.
They live here rather than in ``engine/ops`` because the ops are RONN's internal format, not ONNX operators.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from engine import ir
from engine.errors import UnsupportedOperatorError
from engine.kernels import ternary
from engine.ops.registry import KernelSpec, register
from engine.providers.base import HOST, register_provider, spec_from_function
from engine.quantize import DOMAIN

MatmulFn = Callable[..., np.ndarray]


def _linear(matmul: MatmulFn, x: np.ndarray, w_packed: np.ndarray, w_scale: np.ndarray,
            bias: np.ndarray | None, k: int, bits: int) -> np.ndarray:
    if x.dtype != np.float32:
        raise ValueError(f"TernaryMatMul takes float32 activations, got {x.dtype}")
    if x.shape[-1] != k:
        raise ValueError(f"the last dimension of X is {x.shape[-1]}, the packed weights expect {k}")
    y = matmul(x.reshape(-1, k), w_packed, w_scale, k, bits, bias)
    return y.reshape(*x.shape[:-1], w_packed.shape[0])


def _conv1x1(matmul: MatmulFn, x: np.ndarray, w_packed: np.ndarray, w_scale: np.ndarray,
             bias: np.ndarray | None, k: int, bits: int, strides: Sequence[int]) -> np.ndarray:
    if x.ndim != 4:
        raise ValueError(f"TernaryConv takes NCHW input, got rank {x.ndim}")
    sh, sw = (list(strides) + [1, 1])[:2]
    x = x[:, :, ::sh, ::sw]
    b, c, h, w = x.shape
    rows = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(-1, c)
    y = _linear(matmul, rows, w_packed, w_scale, bias, k, bits)
    return np.ascontiguousarray(y.reshape(b, h, w, -1).transpose(0, 3, 1, 2))


# --- numpy reference kernels, registered for every provider that reads the registry (CPU)
# ---------------------

@register("TernaryMatMul", since=1, domain=DOMAIN)
def ternary_matmul_reference(x: np.ndarray, w_packed: np.ndarray, w_scale: np.ndarray,
                             bias: np.ndarray | None = None, *, k: int, bits: int = 2) -> tuple[np.ndarray]:
    return (_linear(ternary.reference_matmul, x, w_packed, w_scale, bias, k, bits),)


@register("TernaryConv", since=1, domain=DOMAIN)
def ternary_conv_reference(x: np.ndarray, w_packed: np.ndarray, w_scale: np.ndarray,
                           bias: np.ndarray | None = None, *, k: int, bits: int = 2,
                           strides: Sequence[int] = (1, 1)) -> tuple[np.ndarray]:
    return (_conv1x1(ternary.reference_matmul, x, w_packed, w_scale, bias, k, bits, strides),)


@register_provider
class BitNetProvider:
    """Runs ``ai.ronn.bitnet`` nodes with packed numba kernels.

    Options: ``parallel`` (None: numba threads for layers of 2**20 weights and more; True/False:
    always/never).
    """

    name = "BitNetExecutionProvider"
    device = HOST
    ops = frozenset({"TernaryMatMul", "TernaryConv"})

    def __init__(self, *, parallel: bool | None = None) -> None:
        if parallel not in (None, True, False):
            raise ValueError(f"parallel must be None, True or False, got {parallel!r}")
        self.parallel = parallel

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return None  # numba is a core dependency; compile errors would surface when a node compiles

    def supports(self, node: ir.Node, opset: int, dtypes: Sequence[np.dtype | None]) -> bool:
        return (node.domain == DOMAIN and node.op_type in self.ops
                and (not dtypes or dtypes[0] is None or dtypes[0] == np.float32))

    def host_inputs(self, node: ir.Node) -> frozenset[int]:
        return frozenset()

    def compile_node(self, node: ir.Node, graph: ir.Graph) -> KernelSpec:
        parallel = self.parallel

        def fast(x: np.ndarray, packed: np.ndarray, scale: np.ndarray, k: int, bits: int,
                 bias: np.ndarray | None) -> np.ndarray:
            return ternary.matmul(x, packed, scale, k, bits, bias, parallel=parallel)

        if node.domain != DOMAIN or node.op_type not in self.ops:
            raise UnsupportedOperatorError(node.op_type, node.domain, graph.opset(node.domain), node.name)
        if node.op_type == "TernaryMatMul":
            def kernel(x: np.ndarray, w_packed: np.ndarray, w_scale: np.ndarray,
                       bias: np.ndarray | None = None, *, k: int, bits: int = 2) -> tuple[np.ndarray]:
                return (_linear(fast, x, w_packed, w_scale, bias, k, bits),)
        else:
            def kernel(x: np.ndarray, w_packed: np.ndarray, w_scale: np.ndarray,  # type: ignore[misc]
                       bias: np.ndarray | None = None, *, k: int, bits: int = 2,
                       strides: Sequence[int] = (1, 1)) -> tuple[np.ndarray]:
                return (_conv1x1(fast, x, w_packed, w_scale, bias, k, bits, strides),)
        return spec_from_function(node.op_type, DOMAIN, kernel)

    def allocate(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        return np.empty(shape, dtype)

    def to_device(self, array: np.ndarray) -> np.ndarray:
        return array

    def to_host(self, array: Any, dtype: np.dtype | None = None) -> np.ndarray:
        return array
