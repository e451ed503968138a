"""The CUDA provider: the common op set of :mod:`engine.providers.gpu_ops` on a CUDA device through cupy.

Written on machines without a GPU, so its ops are also tested with numpy standing in for cupy and its transfers
with a stand-in device; its tests pass on a real one too (an H200 and an H100, cupy-cuda13x 14.2:
docs/providers.md). It is dropped from ``get_available_providers()`` unless cupy imports, a device exists and
a tiny kernel runs (checked once).

Options: ``device_id`` (default 0) and ``float16`` (default False: float32 values are stored and computed in
float16 on the device; Softmax and LayerNormalization accumulate in float32; results come back as the
model's declared dtype).

    sess = InferenceSession("model.onnx", providers=[("CUDAExecutionProvider", {"float16": True}),
                                                     "CPUExecutionProvider"])
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine import ir
from engine.errors import UnsupportedOperatorError
from engine.ops.registry import KernelSpec
from engine.providers import gpu_ops
from engine.providers.base import register_provider, spec_from_function

try:
    import cupy
except ImportError:  # the optional extra: pip install "ronn[gpu]" (CUDA 12) or "ronn[gpu-cuda13]"
    cupy = None

INSTALL = 'pip install "ronn[gpu]" for CUDA 12, "ronn[gpu-cuda13]" for a CUDA 13 driver'
_DTYPES = frozenset(np.dtype(t) for t in (np.float32, np.float16, np.int64, np.int32, np.bool_))
_FLOATS = frozenset({np.dtype(np.float32), np.dtype(np.float16)})
_FLOAT16_MAX = float(np.finfo(np.float16).max)  # 65504


class ArrayProvider:
    """A provider for any numpy-like array module ``xp``; :class:`GPUProvider` binds it to cupy.

    ``float16`` stores float32 values as float16 on the device.
    """

    name = "ArrayExecutionProvider"
    device = "array"

    def __init__(self, xp: Any, *, float16: bool = False) -> None:
        self.xp = xp
        self.float16 = bool(float16)

    def supports(self, node: ir.Node, opset: int, dtypes: Sequence[np.dtype | None]) -> bool:
        entry = _entry(node)
        if entry is None or opset < entry[1] or len(node.outputs) != 1:
            return False
        if node.attrs.get("activation", "") not in gpu_ops.FUSED_ACTIVATIONS:
            return False
        host = entry[2]
        data = [d for i, d in enumerate(dtypes) if i not in host and node.inputs[i]]
        if any(d is None or d not in _DTYPES for d in data):
            return False
        return node.op_type not in gpu_ops.FLOAT_ONLY or (bool(data) and data[0] in _FLOATS)

    def host_inputs(self, node: ir.Node) -> frozenset[int]:
        entry = _entry(node)
        return entry[2] if entry else frozenset()

    def compile_node(self, node: ir.Node, graph: ir.Graph) -> KernelSpec:
        entry = _entry(node)
        if entry is None:
            raise UnsupportedOperatorError(node.op_type, node.domain, graph.opset(node.domain), node.name)
        return spec_from_function(node.op_type, node.domain, functools.partial(entry[0], self.xp))

    def allocate(self, shape: tuple[int, ...], dtype: np.dtype) -> Any:
        return self.xp.empty(shape, self._device_dtype(np.dtype(dtype)))

    def to_device(self, array: np.ndarray) -> Any:
        array = np.asarray(array)
        dtype = self._device_dtype(array.dtype)
        if dtype == np.float16 and array.dtype != np.float16:
            # float32 values past float16's range (a mask's -3.4e38 fill) would become infinities, and 0 * -inf
            # is NaN: saturate them instead, as float16 exports do
            array = np.clip(array, -_FLOAT16_MAX, _FLOAT16_MAX)
        return self.xp.asarray(array.astype(dtype, copy=False))

    def to_host(self, array: Any, dtype: np.dtype | None = None) -> np.ndarray:
        host = self._asnumpy(array)
        if dtype is not None and host.dtype != dtype:
            host = host.astype(dtype)
        return host

    def _device_dtype(self, dtype: np.dtype) -> np.dtype:
        return np.dtype(np.float16) if self.float16 and dtype == np.float32 else dtype

    def _asnumpy(self, array: Any) -> np.ndarray:
        return np.asarray(array)


def _entry(node: ir.Node) -> tuple[gpu_ops.Op, int, frozenset[int]] | None:
    if node.domain in ("", "ai.onnx"):
        return gpu_ops.OPS.get(node.op_type)
    if node.domain == "ai.ronn":
        return gpu_ops.RONN_OPS.get(node.op_type)
    return None


@functools.cache
def _unusable() -> str | None:
    """Why cupy cannot run kernels here (None when it can). Checked once per process."""
    if cupy is None:
        return f"cupy is not installed ({INSTALL})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001 - any CUDA failure means "no device"
        return f"no CUDA device is usable: {type(exc).__name__}: {exc}"
    if count < 1:
        return "no CUDA device found"
    try:
        value = float((cupy.arange(4, dtype=cupy.float32) * 2).sum())
    except Exception as exc:  # noqa: BLE001
        return f"a test kernel failed on the CUDA device: {type(exc).__name__}: {exc}"
    if value != 12.0:
        return f"a test kernel computed {value} instead of 12.0 on the CUDA device"
    return None


@register_provider
class GPUProvider(ArrayProvider):
    """The common op set on a CUDA device via cupy (see the module docstring)."""

    name = "CUDAExecutionProvider"
    device = "cuda"

    def __init__(self, *, device_id: int = 0, float16: bool = False) -> None:
        if cupy is None:
            raise ImportError(f"CUDAExecutionProvider needs cupy: {INSTALL}")
        if not isinstance(device_id, int) or device_id < 0:
            raise ValueError(f"device_id must be an int >= 0, got {device_id!r}")
        super().__init__(cupy, float16=float16)
        self.device_id = device_id
        self._device = cupy.cuda.Device(device_id)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return _unusable()

    def compile_node(self, node: ir.Node, graph: ir.Graph) -> KernelSpec:
        spec = super().compile_node(node, graph)
        if self.device_id == 0:
            return spec
        inner, device = spec.fn, self._device

        @functools.wraps(inner)
        def on_device(*args: Any, **kwargs: Any) -> Any:
            with device:
                return inner(*args, **kwargs)

        return spec_from_function(node.op_type, node.domain, on_device)

    def to_device(self, array: np.ndarray) -> Any:
        with self._device:
            return super().to_device(array)

    def _asnumpy(self, array: Any) -> np.ndarray:
        return cupy.asnumpy(array)
