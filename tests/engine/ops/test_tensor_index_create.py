"""Family C, gather, scatter, creation and other tensor operators: our engine vs onnxruntime on single-node
models."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto
from ops_helpers import SETTINGS, i64, shapes, single_node_model
from ops_helpers import rand_small as rand
from ops_helpers import run_both_exact as run_both

from engine.session import InferenceSession

# --- gathers and scatters -------------------------------------------------------------------------

idx_dtypes = st.sampled_from([np.int32, np.int64])


@SETTINGS
@given(shape=shapes, data=st.data())
def test_gather_negative_indices(shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    dim = shape[axis]
    idx_shape = data.draw(st.lists(st.integers(1, 3), max_size=2))
    rng = np.random.default_rng(len(idx_shape))
    idx = rng.integers(-dim, dim, idx_shape).astype(data.draw(idx_dtypes))
    run_both("Gather", [rand(shape, np.float16), idx], axis=axis)


@SETTINGS
@given(shape=shapes, data=st.data())
def test_gather_elements(shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    dim = shape[axis]
    idx_shape = tuple(data.draw(st.integers(1, s)) for s in shape)
    a = axis % len(shape)
    idx_shape = idx_shape[:a] + (data.draw(st.integers(1, 4)),) + idx_shape[a + 1 :]
    idx = np.random.default_rng(1).integers(-dim, dim, idx_shape).astype(data.draw(idx_dtypes))
    run_both("GatherElements", [rand(shape, np.int16), idx], axis=axis)


@SETTINGS
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple), data=st.data())
def test_gather_nd_batch_dims(shape, data):
    b = data.draw(st.integers(0, len(shape) - 1))
    k = data.draw(st.integers(1, len(shape) - b))
    middle = data.draw(st.lists(st.integers(1, 3), max_size=2))
    rng = np.random.default_rng(k)
    idx = np.stack([rng.integers(-shape[b + j], shape[b + j], (*shape[:b], *middle)) for j in range(k)], -1)
    run_both("GatherND", [rand(shape), idx.astype(np.int64)], batch_dims=b)


@SETTINGS
@given(shape=shapes, data=st.data())
def test_scatter_elements_reductions(shape, data):
    reduction = data.draw(st.sampled_from(["none", "add", "mul", "max", "min"]))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    dim = shape[axis % len(shape)]
    rng = np.random.default_rng(dim)
    if reduction == "none":  # distinct targets along the axis, or the result depends on write order
        count = data.draw(st.integers(1, dim))
        idx_shape = list(shape)
        idx_shape[axis] = count
        perm = rng.permutation(dim)[:count] - dim * rng.integers(0, 2, count)  # some negative
        idx = np.broadcast_to(perm.reshape([-1 if i == axis % len(shape) else 1 for i in range(len(shape))]),
                              idx_shape).copy()
    else:
        idx_shape = list(shape)
        idx_shape[axis] = data.draw(st.integers(1, 4))
        idx = rng.integers(-dim, dim, idx_shape)
    x = rand(shape, np.float32)
    upd = rand(idx.shape, np.float32, seed=3)
    run_both("ScatterElements", [x, idx.astype(data.draw(idx_dtypes)), upd], axis=axis, reduction=reduction)


@SETTINGS
@given(shape=shapes, data=st.data())
def test_scatter_nd_reductions(shape, data):
    reduction = data.draw(st.sampled_from(["none", "add", "mul", "max", "min"]))
    k = data.draw(st.integers(1, len(shape)))
    rng = np.random.default_rng(k)
    total = int(np.prod(shape[:k]))
    count = data.draw(st.integers(1, total if reduction == "none" else 6))
    if reduction == "none":
        flat = rng.permutation(total)[:count]
    else:
        flat = rng.integers(0, total, count)
    idx = np.stack(np.unravel_index(flat, shape[:k]), -1).astype(np.int64)
    upd = rand((count, *shape[k:]), np.int32, seed=2)
    run_both("ScatterND", [rand(shape, np.int32), idx, upd], reduction=reduction)


# --- creation and misc ----------------------------------------------------------------------------


@SETTINGS
@given(shape=st.lists(st.integers(0, 4), max_size=4).map(tuple), start=st.integers(-6, 6),
       end=st.integers(-6, 6))
def test_shape_size(shape, start, end):
    x = np.zeros(shape, np.float32)
    run_both("Shape", [x], opset=15, start=start, end=end)
    run_both("Shape", [x], opset=15)
    run_both("Size", [x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.int32, np.int64])
@pytest.mark.parametrize("args", [(0, 10, 3), (10, 0, -3), (1, 1, 1), (5, 2, 1), (-2, 7, 2)])
def test_range(dtype, args):
    start, limit, delta = (np.array(v, dtype) for v in args)
    run_both("Range", [start, limit, delta])


def test_range_fractional_delta():
    run_both("Range", [np.array(0.5, np.float32), np.array(3.1, np.float32), np.array(0.3, np.float32)])


@pytest.mark.parametrize("value", [None, np.array([3], np.int32), np.array([2.5], np.float64)])
def test_constant_of_shape(value):
    attrs = {} if value is None else {"value": onnx.numpy_helper.from_array(value)}
    run_both("ConstantOfShape", [i64([2, 3])], **attrs)
    run_both("ConstantOfShape", [i64([])], **attrs)


@pytest.mark.parametrize(
    "attrs",
    [{"value_float": 1.5}, {"value_floats": [1.0, 2.0]}, {"value_int": 7}, {"value_ints": [1, -2]},
     {"value": onnx.numpy_helper.from_array(np.arange(6, dtype=np.uint16).reshape(2, 3))}],
)
def test_constant(attrs):
    run_both("Constant", [], **attrs)


@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=2, max_size=4).map(tuple), k=st.integers(-6, 6),
       upper=st.integers(0, 1), dtype=st.sampled_from([np.float32, np.int64, np.bool_]))
def test_trilu(shape, k, upper, dtype):
    run_both("Trilu", [rand(shape, dtype), i64(k)], upper=upper)


@SETTINGS
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), data=st.data())
def test_one_hot(shape, data):
    depth = data.draw(st.integers(1, 5))
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    # onnxruntime implements few type combinations: int64 indices and depth with float values is one
    idx = np.random.default_rng(depth).integers(-depth - 1, depth + 1, shape).astype(np.int64)
    values = np.array([-1.0, 2.0], np.float32)
    run_both("OneHot", [idx, np.array(depth, np.int64), values], axis=axis)


@SETTINGS
@given(shape=st.lists(st.integers(0, 4), max_size=3).map(tuple),
       dtype=st.sampled_from([np.float32, np.bool_]))
def test_nonzero(shape, dtype):
    x = rand(shape, dtype)
    if dtype == np.float32:
        x[x < 0] = 0
    run_both("NonZero", [x])


@SETTINGS
@given(shape=shapes, data=st.data())
def test_compress(shape, data):
    use_axis = data.draw(st.booleans())
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    length = shape[axis] if use_axis else int(np.prod(shape))
    cond = np.array(data.draw(st.lists(st.booleans(), min_size=1, max_size=length)), bool)
    attrs = {"axis": axis} if use_axis else {}
    run_both("Compress", [rand(shape), cond], **attrs)


@SETTINGS
@given(t=st.integers(1, 5), b=st.integers(1, 4), extra=st.lists(st.integers(1, 3), max_size=2),
       batch_first=st.booleans(), data=st.data())
def test_reverse_sequence(t, b, extra, batch_first, data):
    lens = i64(data.draw(st.lists(st.integers(1, t), min_size=b, max_size=b)))
    shape = (b, t, *extra) if batch_first else (t, b, *extra)
    attrs = {"batch_axis": 0, "time_axis": 1} if batch_first else {"batch_axis": 1, "time_axis": 0}
    run_both("ReverseSequence", [rand(shape), lens], **attrs)


@pytest.mark.parametrize("k", [-3, -1, 0, 2, 5])
@pytest.mark.parametrize("dtype", [None, TensorProto.INT32, TensorProto.DOUBLE])
def test_eye_like(k, dtype):
    attrs = {"k": k} if dtype is None else {"k": k, "dtype": dtype}
    run_both("EyeLike", [rand((3, 4))], **attrs)


@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple), data=st.data())
def test_unique(shape, data):
    x = np.random.default_rng(sum(shape)).integers(0, 3, shape).astype(np.float32)
    sorted_ = data.draw(st.integers(0, 1))
    if data.draw(st.booleans()):
        run_both("Unique", [x], n_outputs=4, sorted=sorted_)
    elif sorted_:  # onnxruntime only supports sorted output along an axis
        axis = data.draw(st.integers(-len(shape), len(shape) - 1))
        run_both("Unique", [x], n_outputs=4, sorted=1, axis=axis)


# --- error paths ----------------------------------------------------------------------------------


def test_gather_out_of_range_index_fails():
    from engine.errors import ExecutionError

    model = single_node_model("Gather", [rand((3,)), i64([3])])
    with pytest.raises(ExecutionError):
        InferenceSession(model, check_model=False).run(None, {"in0": rand((3,)), "in1": i64([3])})
