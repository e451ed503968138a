"""A stand-in device for provider tests: the GPU provider's code path with numpy as the array module."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest

from engine.providers import base
from engine.providers.gpu import ArrayProvider


class DeviceArray(np.ndarray):
    """Marks arrays that live on the stand-in device."""


class FakeDeviceProvider(ArrayProvider):
    """The GPU provider's code path with numpy as the array module; kernels refuse host arrays."""

    name = "FakeDeviceExecutionProvider"
    device = "fake"
    transfers: list[str] = []

    def __init__(self, *, float16: bool = False) -> None:
        super().__init__(np, float16=float16)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return None

    def compile_node(self, node: Any, graph: Any) -> Any:
        spec = super().compile_node(node, graph)
        host = self.host_inputs(node)

        def kernel(*inputs: Any, **attrs: Any) -> tuple[Any, ...]:
            for i, a in enumerate(inputs):
                if a is not None and i not in host:
                    assert isinstance(a, DeviceArray), f"{node.op_type} input {i} is a host array"
                if i in host:
                    assert not isinstance(a, DeviceArray)
            plain = [None if a is None else np.asarray(a) for a in inputs]
            return tuple(np.asarray(r).view(DeviceArray) for r in spec.fn(*plain, **attrs))

        return base.spec_from_function(node.op_type, node.domain, _with_signature(kernel, spec.fn))

    def to_device(self, array: np.ndarray) -> Any:
        assert not isinstance(array, DeviceArray)
        FakeDeviceProvider.transfers.append("to_device")
        return super().to_device(array).copy().view(DeviceArray)

    def to_host(self, array: Any, dtype: Any = None) -> np.ndarray:
        assert isinstance(array, DeviceArray)
        FakeDeviceProvider.transfers.append("to_host")
        return super().to_host(np.asarray(array), dtype)


def _with_signature(fn: Any, like: Any) -> Any:
    fn.__signature__ = inspect.signature(like)
    return fn


@pytest.fixture
def fake_device(monkeypatch: pytest.MonkeyPatch) -> type[FakeDeviceProvider]:
    monkeypatch.setitem(base._BUILTIN, FakeDeviceProvider.name, FakeDeviceProvider)
    FakeDeviceProvider.transfers = []
    return FakeDeviceProvider


