"""Load an ONNX model (file path, bytes or ModelProto) into the engine's :class:`~engine.ir.Graph`.

Loading is defensive: the file is parsed without following external data, every external-data reference is
checked to stay inside the model's folder (no absolute paths, no ``..``, no links leading outside) before it is
read, then ``onnx.checker`` and shape inference run. Every failure is a :class:`~engine.errors.ModelError` that
names the file, node or tensor at fault.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import external_data_helper, helper, numpy_helper

from engine import ir
from engine.errors import ModelError

ModelSource: TypeAlias = str | os.PathLike[str] | bytes | bytearray | memoryview | onnx.ModelProto


def load_model(source: ModelSource, *, check: bool = True, infer_shapes: bool = True) -> ir.Graph:
    """Load ``source`` and convert it to an :class:`ir.Graph`.

    Args:
        source: a path to an ``.onnx`` file, the serialized bytes of one, or an ``onnx.ModelProto``.
        check: run ``onnx.checker`` (recommended; the ONNX conformance backend turns it off for speed).
        infer_shapes: run ONNX shape inference to learn the types of intermediate values.

    Raises:
        ModelError: the file is missing, truncated or not an ONNX model, its external data points outside its
            folder, or the checker rejects it.
    """
    model = load_proto(source)
    if check:
        check_model(model)
    if infer_shapes:
        try:
            model = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=False)
        except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as exc:
            raise ModelError(f"shape inference failed: {exc}") from exc
        except ValueError:
            pass  # models over 2 GB cannot be inferred in memory; the engine does not need the result
    return graph_from_proto(model)


def load_proto(source: ModelSource) -> onnx.ModelProto:
    """Parse ``source`` into a ModelProto with its external data loaded safely."""
    if isinstance(source, onnx.ModelProto):
        model = onnx.ModelProto()
        model.CopyFrom(source)
        base_dir: Path | None = None
        label = "<ModelProto>"
    elif isinstance(source, bytes | bytearray | memoryview):
        model = _parse_bytes(bytes(source), "<bytes>")
        base_dir = None
        label = "<bytes>"
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        label = str(path)
        if not path.exists():
            raise ModelError(f"model file {label!r} does not exist")
        if path.is_dir():
            raise ModelError(f"model path {label!r} is a folder, not an .onnx file")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ModelError(f"cannot read model file {label!r}: {exc}") from exc
        model = _parse_bytes(data, label)
        base_dir = path.resolve().parent
    else:
        raise ModelError(
            f"expected a path, bytes or onnx.ModelProto, got {type(source).__name__}"
        )
    if not model.HasField("graph"):
        raise ModelError(f"{label} holds no graph: it is not an ONNX model (or it is truncated)")
    _load_external_data(model, base_dir, label)
    return model


def _parse_bytes(data: bytes, label: str) -> onnx.ModelProto:
    if not data:
        raise ModelError(f"{label} is empty: not an ONNX model")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ModelError(f"{label} is not a valid ONNX model (truncated or corrupt protobuf): {exc}") from exc
    return model


def check_model(model: onnx.ModelProto) -> None:
    """Run ``onnx.checker`` and translate its verdict into a ModelError."""
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ModelError(f"the ONNX checker rejected the model: {exc}") from exc
    except ValueError as exc:  # e.g. protobuf over 2 GB
        raise ModelError(f"the ONNX checker could not validate the model: {exc}") from exc


def _all_tensors(graph: onnx.GraphProto) -> list[onnx.TensorProto]:
    """Every initializer and tensor attribute in ``graph`` and its subgraphs."""
    tensors = list(graph.initializer)
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                tensors.append(attr.t)
            tensors.extend(attr.tensors)
            if attr.HasField("g"):
                tensors.extend(_all_tensors(attr.g))
            for g in attr.graphs:
                tensors.extend(_all_tensors(g))
    return tensors


def _load_external_data(model: onnx.ModelProto, base_dir: Path | None, label: str) -> None:
    for tensor in _all_tensors(model.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        info = {entry.key: entry.value for entry in tensor.external_data}
        location = info.get("location", "")
        if base_dir is None:
            raise ModelError(
                f"tensor {tensor.name!r} keeps its data in external file {location!r}, but the model was given "
                "as bytes: load it from its file path so the data can be found beside it"
            )
        target = _safe_external_path(base_dir, location, tensor.name)
        size = target.stat().st_size
        offset = int(info.get("offset", 0) or 0)
        length = int(info["length"]) if info.get("length") else size - offset
        if offset < 0 or length < 0 or offset + length > size:
            raise ModelError(
                f"tensor {tensor.name!r}: external data {location!r} is {size} bytes, but the model asks for "
                f"bytes {offset}..{offset + length} (truncated data file?)"
            )
        try:
            external_data_helper.load_external_data_for_tensor(tensor, str(base_dir))
        except OSError as exc:
            raise ModelError(f"tensor {tensor.name!r}: cannot read external data {location!r}: {exc}") from exc
        tensor.data_location = onnx.TensorProto.DEFAULT
        del tensor.external_data[:]


def _safe_external_path(base_dir: Path, location: str, tensor_name: str) -> Path:
    """Resolve ``location`` inside ``base_dir``, refusing anything that could leave it."""
    if not location:
        raise ModelError(f"tensor {tensor_name!r} is marked external but names no file")
    pure = Path(location)
    if pure.is_absolute() or location.startswith(("/", "\\")) or (len(location) > 1 and location[1] == ":"):
        raise ModelError(
            f"tensor {tensor_name!r}: external data path {location!r} is absolute; only files inside the "
            f"model's folder {str(base_dir)!r} are allowed"
        )
    if ".." in pure.parts or ".." in location.replace("\\", "/").split("/"):
        raise ModelError(
            f"tensor {tensor_name!r}: external data path {location!r} contains '..'; only files inside the "
            f"model's folder {str(base_dir)!r} are allowed"
        )
    candidate = base_dir / pure
    resolved = candidate.resolve()
    if not resolved.is_relative_to(base_dir):
        raise ModelError(
            f"tensor {tensor_name!r}: external data path {location!r} leads outside the model's folder "
            f"(through a link to {str(resolved)!r})"
        )
    if not resolved.is_file():
        raise ModelError(f"tensor {tensor_name!r}: external data file {location!r} not found in {str(base_dir)!r}")
    return resolved


# --- ModelProto -> ir.Graph ------------------------------------------------------------------------------------


def numpy_dtype(elem_type: int) -> np.dtype | None:
    """The numpy dtype of an ONNX element type (None for UNDEFINED)."""
    if elem_type == onnx.TensorProto.UNDEFINED:
        return None
    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))
    except (KeyError, TypeError, ValueError):
        return None


def value_from_proto(info: onnx.ValueInfoProto) -> ir.Value:
    if not info.type.HasField("tensor_type"):
        return ir.Value(info.name, None, None)
    tensor_type = info.type.tensor_type
    shape: tuple[ir.Dim, ...] | None = None
    if tensor_type.HasField("shape"):
        dims: list[ir.Dim] = []
        for d in tensor_type.shape.dim:
            if d.HasField("dim_value"):
                dims.append(int(d.dim_value))
            elif d.HasField("dim_param"):
                dims.append(d.dim_param)
            else:
                dims.append(None)
        shape = tuple(dims)
    return ir.Value(info.name, numpy_dtype(tensor_type.elem_type), shape)


def _tensor_to_array(tensor: onnx.TensorProto) -> np.ndarray:
    try:
        return numpy_helper.to_array(tensor)
    except Exception as exc:  # numpy_helper raises assorted errors on malformed tensors
        raise ModelError(f"tensor {tensor.name!r} cannot be decoded: {exc}") from exc


def _attribute_value(attr: onnx.AttributeProto, opsets: dict[str, int], outer: tuple[str, ...]) -> Any:
    kind = attr.type
    A = onnx.AttributeProto
    if kind == A.FLOAT:
        return float(attr.f)
    if kind == A.INT:
        return int(attr.i)
    if kind == A.STRING:
        return attr.s.decode("utf-8", errors="replace")
    if kind == A.TENSOR:
        return _tensor_to_array(attr.t)
    if kind == A.GRAPH:
        return _graph(attr.g, opsets, outer)
    if kind == A.FLOATS:
        return [float(v) for v in attr.floats]
    if kind == A.INTS:
        return [int(v) for v in attr.ints]
    if kind == A.STRINGS:
        return [s.decode("utf-8", errors="replace") for s in attr.strings]
    if kind == A.TENSORS:
        return [_tensor_to_array(t) for t in attr.tensors]
    if kind == A.GRAPHS:
        return [_graph(g, opsets, outer) for g in attr.graphs]
    if kind == A.SPARSE_TENSOR:
        from onnx import numpy_helper as nh

        return nh.to_array(attr.sparse_tensor.values), attr.sparse_tensor  # kernels that accept it unpack this
    return helper.get_attribute_value(attr)


def _graph(graph: onnx.GraphProto, opsets: dict[str, int], outer: tuple[str, ...] = ()) -> ir.Graph:
    initializers = {t.name: _tensor_to_array(t) for t in graph.initializer}
    scope = outer + tuple(v.name for v in graph.input) + tuple(initializers)
    nodes = []
    for index, n in enumerate(graph.node):
        inner_scope = scope + tuple(o for m in graph.node[:index] for o in m.output)
        attrs = {a.name: _attribute_value(a, opsets, inner_scope) for a in n.attribute}
        nodes.append(ir.Node(n.op_type, list(n.input), list(n.output), attrs, n.name, n.domain))
    inputs = [value_from_proto(v) for v in graph.input if v.name not in initializers]
    value_info = {v.name: value_from_proto(v) for v in graph.value_info}
    return ir.Graph(
        nodes=nodes,
        inputs=inputs,
        outputs=[value_from_proto(v) for v in graph.output],
        initializers=initializers,
        opsets=dict(opsets),
        name=graph.name or "graph",
        value_info=value_info,
        outer_scope=outer,
    )


def graph_from_proto(model: onnx.ModelProto) -> ir.Graph:
    """Convert a (checked) ModelProto into an ir.Graph."""
    opsets = {("" if o.domain == "ai.onnx" else o.domain): int(o.version) for o in model.opset_import}
    if "" not in opsets:
        opsets[""] = 1 if not model.opset_import else opsets.get("", 1)
    if model.functions:
        names = ", ".join(sorted({f.name for f in model.functions}))
        # Local functions are inlined so their nodes run on our kernels.
        try:
            from onnx import inliner

            model = inliner.inline_local_functions(model)
        except Exception as exc:
            raise ModelError(f"cannot inline the model's local functions ({names}): {exc}") from exc
    graph = _graph(model.graph, opsets)
    graph.metadata = {
        "producer_name": model.producer_name,
        "producer_version": model.producer_version,
        "domain": model.domain,
        "model_version": int(model.model_version),
        "ir_version": int(model.ir_version),
        "doc_string": model.doc_string,
        "custom_metadata_map": {p.key: p.value for p in model.metadata_props},
    }
    return graph
