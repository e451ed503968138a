"""Provider selection, fallback, entry points, and transfers at device boundaries (with a stand-in device)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from engine.errors import ProviderError
from engine.options import GraphOptimizationLevel, SessionOptions
from engine.providers import base
from engine.session import InferenceSession, get_available_providers

NO_FUSION = SessionOptions()
NO_FUSION.graph_optimization_level = GraphOptimizationLevel.ORT_DISABLE_ALL  # keep the partition predictable


def mixed_model() -> bytes:
    """Gemm -> Relu -> Reshape (shape on host) -> TopK (CPU only) -> Softmax; two outputs, one off the
    device."""
    nodes = [
        helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Reshape", ["r", "shape"], ["flat"]),
        helper.make_node("TopK", ["flat", "k"], ["top", "idx"]),
        helper.make_node("Softmax", ["top"], ["p"], axis=-1),
    ]
    rng = np.random.default_rng(3)
    graph = helper.make_graph(
        nodes, "mixed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, 4]),
         helper.make_tensor_value_info("r", TensorProto.FLOAT, [2, 6])],
        [numpy_helper.from_array(rng.standard_normal((6, 8)).astype(np.float32), "w"),
         numpy_helper.from_array(rng.standard_normal(6).astype(np.float32), "b"),
         numpy_helper.from_array(np.array([1, 12], np.int64), "shape"),
         numpy_helper.from_array(np.array([4], np.int64), "k")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


X = np.random.default_rng(4).standard_normal((2, 8)).astype(np.float32)


def test_available_providers_and_unknown_names() -> None:
    available = get_available_providers()
    assert available[:2] == ["CPUExecutionProvider", "BitNetExecutionProvider"]
    usable = base.unavailable_reason("CUDAExecutionProvider") is None
    assert ("CUDAExecutionProvider" in available) == usable
    with pytest.raises(ProviderError, match="unknown execution provider 'NopeExecutionProvider'"):
        InferenceSession(mixed_model(), providers=["NopeExecutionProvider"])
    with pytest.raises(ProviderError, match="no option"):
        InferenceSession(mixed_model(), providers=[("BitNetExecutionProvider", {"threads": 3})])
    with pytest.raises(ProviderError, match="name or"):
        InferenceSession(mixed_model(), providers=[("CPUExecutionProvider", "x", 1)])


@pytest.mark.skipif(base.unavailable_reason("CUDAExecutionProvider") is None,
                    reason="a CUDA device is usable here")
def test_unusable_provider_raises_unless_a_fallback_is_listed() -> None:
    reason = base.unavailable_reason("CUDAExecutionProvider")
    assert reason
    with pytest.raises(ProviderError, match="CUDAExecutionProvider: ") as info:
        InferenceSession(mixed_model(), providers=["CUDAExecutionProvider"])
    assert reason in str(info.value)
    with pytest.warns(RuntimeWarning, match="not available here, skipped: CUDAExecutionProvider: "):  # as ORT
        sess = InferenceSession(mixed_model(), providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert sess.get_providers() == ["CPUExecutionProvider"]


def test_fake_device_partition_and_transfers(fake_device: Any) -> None:
    assert fake_device.name in get_available_providers()
    expected = InferenceSession(mixed_model()).run(None, {"x": X})
    sess = InferenceSession(mixed_model(), NO_FUSION, providers=[fake_device.name, "CPUExecutionProvider"])
    assert sess.get_providers() == [fake_device.name, "CPUExecutionProvider"]
    placed = [(a.op_type, a.provider) for a in sess.node_providers()]
    dev, cpu = fake_device.name, "CPUExecutionProvider"
    assert placed == [
        ("MemcpyFromHost", dev), ("Gemm", dev), ("Relu", dev), ("Reshape", dev),
        ("MemcpyToHost", dev), ("TopK", cpu), ("MemcpyFromHost", dev), ("Softmax", dev),
        ("MemcpyToHost", dev), ("MemcpyToHost", dev),
    ]
    # Weights went to the device once, at build time: w and b (shape and k stayed on the host).
    assert fake_device.transfers.count("to_device") == 2
    got = sess.run(None, {"x": X})
    for a, b in zip(got, expected, strict=True):
        assert type(a) is np.ndarray
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)

    new_w = np.ones((6, 8), np.float32)
    sess.update_weights({"w": new_w})
    reference = InferenceSession(mixed_model())
    reference.update_weights({"w": new_w})
    np.testing.assert_allclose(sess.run(["r"], {"x": X})[0], reference.run(["r"], {"x": X})[0], rtol=1e-6)


def test_fake_device_float16(fake_device: Any) -> None:
    expected = InferenceSession(mixed_model()).run(None, {"x": X})
    sess = InferenceSession(mixed_model(),
                            providers=[(fake_device.name, {"float16": True}), "CPUExecutionProvider"])
    assert sess.get_provider_options()[fake_device.name] == {"float16": "True"}
    for a, b in zip(sess.run(None, {"x": X}), expected, strict=True):
        assert a.dtype == np.float32  # back to the declared type
        np.testing.assert_allclose(a, b, rtol=2e-2, atol=2e-2)


def test_entry_point_providers(monkeypatch: pytest.MonkeyPatch, fake_device: Any) -> None:
    class EP:
        def __init__(self, name: str, obj: Any) -> None:
            self.name, self.value, self._obj = name, f"plugin:{name}", obj

        def load(self) -> Any:
            if isinstance(self._obj, Exception):
                raise self._obj
            return self._obj

    class PluginProvider(fake_device):  # type: ignore[misc, valid-type]
        name = "PluginExecutionProvider"

    def entry_points(group: str) -> list[EP]:
        assert group == "ronn.providers"
        return [EP("PluginExecutionProvider", PluginProvider),
                EP("BrokenExecutionProvider", ImportError("no"))]

    monkeypatch.setattr(base.metadata, "entry_points", entry_points)
    monkeypatch.setattr(base, "_PLUGINS", None)
    monkeypatch.setattr(base, "_PLUGIN_ERRORS", {})
    assert "PluginExecutionProvider" in get_available_providers()
    assert "BrokenExecutionProvider" not in get_available_providers()
    assert "failed to load" in (base.unavailable_reason("BrokenExecutionProvider") or "")
    sess = InferenceSession(mixed_model(), providers=["PluginExecutionProvider", "CPUExecutionProvider"])
    assert "PluginExecutionProvider" in {a.provider for a in sess.node_providers()}
    with pytest.raises(ProviderError, match="failed to load"):
        InferenceSession(mixed_model(), providers=["BrokenExecutionProvider"])
