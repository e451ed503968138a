"""Loading: paths, bytes, protos, garbage, and external data that must stay inside the model's folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from engine.errors import ModelError, UnsupportedOperatorError
from engine.loader import load_model
from engine.session import InferenceSession


def add_model(weight: np.ndarray | None = None) -> onnx.ModelProto:
    w = np.arange(4, dtype=np.float32) if weight is None else weight
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"], name="add")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        [numpy_helper.from_array(w, "w")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_path_bytes_and_proto_give_the_same_graph(tmp_path: Path) -> None:
    model = add_model()
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    for source in (path, str(path), path.read_bytes(), model):
        graph = load_model(source)
        assert [n.op_type for n in graph.nodes] == ["Add"]
        np.testing.assert_array_equal(graph.initializers["w"], np.arange(4, dtype=np.float32))
        assert graph.inputs[0].shape == (4,) and graph.inputs[0].dtype == np.float32


@pytest.mark.parametrize("data", [b"", b"\x00\x01garbage\xff" * 10, b"not an onnx model at all"])
def test_garbage_is_a_model_error(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ModelError):
        load_model(data)
    path = tmp_path / "bad.onnx"
    path.write_bytes(data)
    with pytest.raises(ModelError):
        InferenceSession(path)


def test_truncated_file_is_a_model_error(tmp_path: Path) -> None:
    blob = add_model(np.arange(5000, dtype=np.float32)).SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ModelError):
        InferenceSession(path)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nope.onnx")


def test_unsupported_operator_names_op_domain_opset_and_node() -> None:
    graph = helper.make_graph(
        [helper.make_node("FancyOp", ["x"], ["y"], name="my_node", domain="com.example")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)]
    )
    with pytest.raises(UnsupportedOperatorError) as info:
        InferenceSession(model.SerializeToString())
    message = str(info.value)
    assert "FancyOp" in message and "com.example" in message and "my_node" in message and "opset 1" in message


def _external_model(tmp_path: Path, location: str) -> Path:
    """A model whose weight ``w`` lives in external file ``location`` (relative to the model's folder)."""
    model = add_model()
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in {"location": location, "offset": "0", "length": "16"}.items():
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    path = folder / "m.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def test_external_data_inside_the_folder_loads(tmp_path: Path) -> None:
    path = _external_model(tmp_path, "weights.bin")
    (path.parent / "weights.bin").write_bytes(np.array([10, 20, 30, 40], np.float32).tobytes())
    (y,) = InferenceSession(path).run(None, {"x": np.ones(4, np.float32)})
    np.testing.assert_array_equal(y, [11, 21, 31, 41])


def test_external_data_absolute_path_is_rejected(tmp_path: Path) -> None:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\x00" * 16)
    path = _external_model(tmp_path, str(secret))
    with pytest.raises(ModelError, match="absolute"):
        load_model(path)


def test_external_data_dotdot_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "secret.bin").write_bytes(b"\x00" * 16)
    path = _external_model(tmp_path, "../secret.bin")
    with pytest.raises(ModelError, match=r"'\.\.'"):
        load_model(path)


def test_external_data_link_leading_outside_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "secret.bin").write_bytes(b"\x00" * 16)
    path = _external_model(tmp_path, "weights.bin")
    os.symlink(tmp_path / "secret.bin", path.parent / "weights.bin")
    with pytest.raises(ModelError, match="outside"):
        load_model(path)


def test_external_data_truncated_or_missing(tmp_path: Path) -> None:
    path = _external_model(tmp_path, "weights.bin")
    with pytest.raises(ModelError, match="not found"):
        load_model(path)
    (path.parent / "weights.bin").write_bytes(b"\x00" * 8)
    with pytest.raises(ModelError, match="truncated"):
        load_model(path)


def test_external_data_from_bytes_is_refused(tmp_path: Path) -> None:
    path = _external_model(tmp_path, "weights.bin")
    with pytest.raises(ModelError, match="file path"):
        load_model(path.read_bytes())
