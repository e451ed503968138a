"""Helpers shared by the operator tests in this folder: build a single-node ONNX model, run it in
onnxruntime (or onnx's reference evaluator), and compare with RONN, either through a whole
``InferenceSession`` (``run_both``) or by calling the registered kernel directly (``check_kernel``,
``check_elementwise``).

Imported as ``from ops_helpers import ...`` (pytest puts this folder on ``sys.path``; no ``__init__.py``).
"""

from __future__ import annotations

import functools

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from engine.ops.registry import lookup
from engine.session import InferenceSession

ort = pytest.importorskip("onnxruntime")

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST = settings(max_examples=25, deadline=None)

shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)


def i64(values):
    return np.asarray(values, dtype=np.int64)


def rand(shape, dtype=np.float32, seed=0, lo=-50, hi=50):
    """Seeded standard-normal floats, random booleans, or integers in ``[lo, hi]`` (clipped to the type)."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return np.asarray(rng.standard_normal(shape), dtype=dtype)
    if np.dtype(dtype).kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    info = np.iinfo(dtype)
    return np.asarray(rng.integers(max(lo, info.min), min(hi, info.max) + 1, shape), dtype=dtype)


def randn(rng, shape, dtype=np.float32, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def rand_uniform(rng, shape, dtype, low=-5.0, high=5.0):
    """Booleans, integers in ``[low, high]`` (clipped to the type) or floats uniform in ``[low, high)``."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return np.asarray(rng.random(shape) < 0.5)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = max(int(low), info.min), min(int(high), info.max)
        return np.asarray(rng.integers(lo, hi, size=shape, endpoint=True), dtype=dtype)
    return np.asarray(rng.uniform(low, high, size=shape), dtype=dtype)


# ------------------------------------------------------------------------------ through an InferenceSession

_NP_TO_ONNX = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float64): TensorProto.DOUBLE,
    np.dtype(np.float16): TensorProto.FLOAT16,
    np.dtype(np.int8): TensorProto.INT8,
    np.dtype(np.int16): TensorProto.INT16,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.uint8): TensorProto.UINT8,
    np.dtype(np.uint16): TensorProto.UINT16,
    np.dtype(np.uint32): TensorProto.UINT32,
    np.dtype(np.uint64): TensorProto.UINT64,
    np.dtype(np.bool_): TensorProto.BOOL,
}


def single_node_model(op, inputs, n_outputs=1, opset=18, **attrs):
    """A model with one ``op`` node; ``inputs`` is a list of arrays (None for an omitted optional input)."""
    names, graph_inputs = [], []
    for i, arr in enumerate(inputs):
        if arr is None:
            names.append("")
            continue
        names.append(f"in{i}")
        graph_inputs.append(helper.make_tensor_value_info(f"in{i}", _NP_TO_ONNX[arr.dtype], arr.shape))
    outs = [f"out{i}" for i in range(n_outputs)]
    node = helper.make_node(op, names, outs, **attrs)
    graph_outputs = [helper.make_empty_tensor_value_info(o) for o in outs]
    graph = helper.make_graph([node], "g", graph_inputs, graph_outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def run_both(op, inputs, n_outputs=1, opset=18, rtol=1e-4, atol=1e-6, **attrs):
    """Run the node in onnxruntime and in our engine; assert equal dtypes and shapes and close values."""
    model = single_node_model(op, inputs, n_outputs, opset, **attrs)
    feeds = {f"in{i}": a for i, a in enumerate(inputs) if a is not None}
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = sess.run(None, feeds)
    got = InferenceSession(model, check_model=False).run(None, feeds)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == e.dtype, (g.dtype, e.dtype)
        assert g.shape == e.shape, (g.shape, e.shape)
        if e.dtype.kind == "f":
            np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(g, e)
    return got


# Tensor (shape, indexing, creation) ops move values without arithmetic: floats must agree exactly, and
# their random integers are small and non-negative.
run_both_exact = functools.partial(run_both, rtol=1e-6, atol=0)
rand_small = functools.partial(rand, lo=0, hi=49)


# ------------------------------------------------------------------------------ calling the kernel directly


def _onnx_type(dtype):
    return TensorProto.STRING if dtype.kind == "O" else helper.np_dtype_to_tensor_dtype(dtype)


def kernel_model(op, inputs, attrs, opset, n_out=1, drop_trailing=False):
    """A single-node model with inputs ``i<k>`` (``""`` for None, dropped at the end if ``drop_trailing``)
    and untyped outputs ``y<k>``, and its feeds."""
    names = [f"i{k}" if x is not None else "" for k, x in enumerate(inputs)]
    if drop_trailing:
        while names and names[-1] == "":
            names.pop()
    outs = [f"y{k}" for k in range(n_out)]
    node = helper.make_node(op, names, outs, **attrs)
    graph_inputs = [
        helper.make_tensor_value_info(n, _onnx_type(x.dtype), x.shape)
        for n, x in zip(names, inputs, strict=False)
        if n
    ]
    graph_outputs = [helper.make_value_info(o, onnx.TypeProto()) for o in outs]
    graph = helper.make_graph([node], "g", graph_inputs, graph_outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10
    feeds = {n: x for n, x in zip(names, inputs, strict=False) if n}
    return model, feeds


def oracle_outputs(op, inputs, attrs, opset, n_out=1, use_ort=True, drop_trailing=False):
    """The node's outputs from onnxruntime, or from onnx's reference evaluator where ``use_ort`` is False."""
    model, feeds = kernel_model(op, list(inputs), attrs, opset, n_out, drop_trailing)
    if use_ort:
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return sess.run(None, feeds)
    return ReferenceEvaluator(model).run(None, feeds)


def run_kernel(op, inputs, attrs, opset, n_out=1):
    """Call the registered RONN kernel directly (trailing omitted inputs dropped); returns what it returns."""
    spec = lookup(op, "", opset)
    inputs = list(inputs)
    while inputs and inputs[-1] is None:
        inputs.pop()
    kw = dict(attrs)
    if spec.wants_num_outputs:
        kw["_num_outputs"] = n_out
    return spec.fn(*inputs, **kw)


def kernel_outputs(op, inputs, attrs, opset, n_out=1):
    """The first ``n_out`` outputs of the registered RONN kernel, which must return a tuple."""
    res = run_kernel(op, inputs, attrs, opset, n_out)
    assert isinstance(res, tuple)
    return list(res[:n_out])


def check_kernel(op, inputs, attrs, opset, n_out=1, rtol=1e-4, atol=1e-5, use_ort=True, drop_trailing=False):
    """Compare the kernel with onnxruntime (or onnx's reference evaluator where ``use_ort`` is False): every
    output must agree in dtype, shape and value."""
    attrs = attrs or {}
    expected = oracle_outputs(op, inputs, attrs, opset, n_out, use_ort, drop_trailing)
    got = kernel_outputs(op, inputs, attrs, opset, n_out)
    for e, g in zip(expected, got, strict=True):
        assert isinstance(g, np.ndarray)
        assert g.dtype == e.dtype, (g.dtype, e.dtype)
        assert g.shape == e.shape, (g.shape, e.shape)
        if e.dtype.kind == "f":
            np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(g, e)


def check_elementwise(op, inputs, attrs=None, opset=18, rtol=1e-5, atol=1e-6):
    """Compare a one-output kernel with onnxruntime (skipped where onnxruntime has no kernel for the types);
    float16 gets wider tolerances, NaNs must match."""
    attrs = attrs or {}
    model, feeds = kernel_model(op, list(inputs), attrs, opset)
    try:
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime has no kernel for this type combination
        if "NOT_IMPLEMENTED" in str(exc) or "Could not find an implementation" in str(exc):
            pytest.skip(f"onnxruntime has no {op} kernel for these types")
        raise
    expected = sess.run(None, feeds)[0]
    (got, *_) = run_kernel(op, inputs, attrs, opset)
    assert isinstance(got, np.ndarray), f"{op} returned {type(got).__name__}, not an ndarray"
    assert got.dtype == expected.dtype, f"{op}: dtype {got.dtype} != onnxruntime's {expected.dtype}"
    assert got.shape == expected.shape, f"{op}: shape {got.shape} != onnxruntime's {expected.shape}"
    if got.dtype == np.float16:
        rtol, atol = max(rtol, 2e-3), max(atol, 1e-3)
    if got.dtype.kind == "f":
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True, err_msg=op)
    else:
        np.testing.assert_array_equal(got.astype(expected.dtype), expected, err_msg=op)
