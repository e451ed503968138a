"""Family C (tensor shape, indexing, creation operators): our engine vs onnxruntime on single-node models."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

from engine.session import InferenceSession

ort = pytest.importorskip("onnxruntime")

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min

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
    graph = helper.make_graph(
        [node], "g", graph_inputs, [helper.make_empty_tensor_value_info(o) for o in outs]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def run_both(op, inputs, n_outputs=1, opset=18, **attrs):
    """Run the node in onnxruntime and in our engine; assert equal dtypes, shapes and values."""
    model = single_node_model(op, inputs, n_outputs, opset, **attrs)
    feeds = {f"in{i}": a for i, a in enumerate(inputs) if a is not None}
    expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, feeds
    )
    got = InferenceSession(model, check_model=False).run(None, feeds)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == e.dtype, (g.dtype, e.dtype)
        assert g.shape == e.shape, (g.shape, e.shape)
        if e.dtype.kind == "f":
            np.testing.assert_allclose(g, e, rtol=1e-6, atol=0)
        else:
            np.testing.assert_array_equal(g, e)
    return got


def i64(values):
    return np.asarray(values, dtype=np.int64)


shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)


def rand(shape, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if np.dtype(dtype).kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    return rng.integers(0, 50, shape).astype(dtype)


# --- shape manipulation ---------------------------------------------------------------------------


@SETTINGS
@given(shape=shapes, data=st.data())
def test_reshape_zero_and_minus_one(shape, data):
    x = rand(shape)
    target = list(shape)
    for i in range(len(target)):
        if data.draw(st.booleans()):
            target[i] = 0  # copy this dim from the input
    target[data.draw(st.integers(0, len(target) - 1))] = -1
    run_both("Reshape", [x, i64(target)], opset=14)


def test_reshape_allowzero_keeps_zero_dim():
    got = run_both("Reshape", [np.zeros((0, 3), np.float32), i64([3, 0])], opset=14, allowzero=1)
    assert got[0].shape == (3, 0)


@SETTINGS
@given(shape=shapes, data=st.data())
def test_transpose(shape, data):
    perm = data.draw(st.permutations(range(len(shape))))
    dtype = data.draw(st.sampled_from([np.float32, np.int8, np.bool_, np.float16]))
    run_both("Transpose", [rand(shape, dtype)], perm=list(perm))
    run_both("Transpose", [rand(shape, dtype)])  # default: reversed axes


@SETTINGS
@given(shape=shapes, data=st.data())
def test_concat(shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    parts = []
    for k in range(data.draw(st.integers(1, 3))):
        s = list(shape)
        s[axis] = data.draw(st.integers(0, 3))
        parts.append(rand(tuple(s), np.int32, seed=k))
    run_both("Concat", parts, axis=axis)


@SETTINGS
@given(shape=shapes, data=st.data())
def test_split_num_outputs_uneven(shape, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    dim = shape[axis]
    n = data.draw(st.integers(1, dim).filter(lambda n: (n - 1) * -(-dim // n) < dim))  # no empty last chunk
    run_both("Split", [rand(shape)], n_outputs=n, opset=18, axis=axis, num_outputs=n)


@SETTINGS
@given(shape=shapes, data=st.data())
def test_split_sizes_input(shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    dim = shape[axis]
    cuts = sorted(data.draw(st.lists(st.integers(0, dim), max_size=3)))
    sizes = np.diff([0, *cuts, dim])
    run_both("Split", [rand(shape), i64(sizes)], n_outputs=len(sizes), opset=13, axis=axis)


def test_split_equal_without_sizes_opset13():
    run_both("Split", [rand((6, 4))], n_outputs=3, opset=13)


@SETTINGS
@given(shape=shapes, data=st.data())
def test_squeeze_unsqueeze(shape, data):
    x = rand(shape)
    rank = len(shape)
    n = data.draw(st.integers(1, 2))
    out_rank = rank + n
    axes = data.draw(st.lists(st.integers(-out_rank, out_rank - 1), min_size=n, max_size=n,
                              unique_by=lambda a: a % out_rank))
    y = run_both("Unsqueeze", [x, i64(axes)], opset=13)[0]
    run_both("Squeeze", [y, i64(axes)], opset=13)
    run_both("Squeeze", [x], opset=13)


@SETTINGS
@given(shape=shapes, data=st.data())
def test_flatten(shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape)))
    run_both("Flatten", [rand(shape)], opset=13, axis=axis)


@SETTINGS
@given(shape=shapes, data=st.data())
def test_expand_bidirectional(shape, data):
    # Target shape: each dim 1 or the input's dim, maybe larger when the input dim is 1, plus leading dims.
    target = []
    for d in shape:
        choices = [1, d] if d != 1 else [1, data.draw(st.integers(1, 4))]
        target.append(data.draw(st.sampled_from(choices)))
    lead = data.draw(st.lists(st.integers(1, 3), max_size=2))
    x = rand(shape, np.int64)
    if data.draw(st.booleans()):
        run_both("Expand", [x, i64(lead + target)])
    else:  # a shorter target shape broadcasts the other way round
        run_both("Expand", [x, i64(target[1:])])


@SETTINGS
@given(shape=shapes, data=st.data())
def test_tile(shape, data):
    reps = data.draw(st.lists(st.integers(0, 3), min_size=len(shape), max_size=len(shape)))
    run_both("Tile", [rand(shape, np.uint8), i64(reps)])


# --- slicing, padding -----------------------------------------------------------------------------

bound = st.one_of(st.integers(-8, 8), st.sampled_from([INT64_MAX, INT64_MIN, -INT64_MAX]))


@SETTINGS
@given(shape=shapes, data=st.data())
def test_slice(shape, data):
    rank = len(shape)
    axis_st = st.integers(-rank, rank - 1)
    axes = data.draw(st.lists(axis_st, min_size=1, max_size=rank, unique_by=lambda a: a % rank))
    n = len(axes)
    starts = data.draw(st.lists(bound, min_size=n, max_size=n))
    ends = data.draw(st.lists(bound, min_size=n, max_size=n))
    steps = data.draw(st.lists(st.sampled_from([-3, -2, -1, 1, 2, 3]), min_size=n, max_size=n))
    x = rand(shape)
    run_both("Slice", [x, i64(starts), i64(ends), i64(axes), i64(steps)], opset=13)
    if n == rank:
        run_both("Slice", [x, i64(starts), i64(ends)], opset=13)
    i32 = [np.clip(i64(v), -(2**31), 2**31 - 1).astype(np.int32) for v in (starts, ends, axes)]
    run_both("Slice", [x, *i32], opset=13)


@SETTINGS
@given(shape=shapes, data=st.data())
def test_pad(shape, data):
    mode = data.draw(st.sampled_from(["constant", "reflect", "edge", "wrap"]))
    rank = len(shape)
    pads = []
    for side in range(2):
        for d in shape:
            if mode == "constant":
                hi = 3
            elif mode == "reflect":
                hi = d - 1
            else:
                hi = d
            lo = -(d // 2) if mode == "constant" and side == 0 else 0
            pads.append(data.draw(st.integers(lo, hi)))
    x = rand(shape)
    value = np.array(1.5, np.float32)
    if mode == "constant":
        run_both("Pad", [x, i64(pads), value], mode=mode, opset=19)
    else:
        run_both("Pad", [x, i64(pads)], mode=mode, opset=19)
    # the axes input (opset 18): pad only the last axis
    run_both("Pad", [x, i64([1, 1]), None, i64([-1])], mode="edge" if mode == "reflect" else mode, opset=19)
    assert rank >= 1


def test_pad_negative_crops():
    x = rand((4, 5), np.int32)
    run_both("Pad", [x, i64([-1, 2, -2, 0]), np.array(7, np.int32)], mode="constant", opset=13)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "wrap"])
@pytest.mark.parametrize("pads", [[-1, 2, 1, -2], [2, -1, -2, 1], [-1, -1, 2, 2]])
def test_pad_mixed_signs_every_mode(mode, pads):
    run_both("Pad", [rand((5, 6)), i64(pads)], mode=mode, opset=19)


@SETTINGS
@given(shape=shapes, data=st.data())
def test_center_crop_pad(shape, data):
    target = [data.draw(st.integers(1, 7)) for _ in shape]
    run_both("CenterCropPad", [rand(shape), i64(target)])
    run_both("CenterCropPad", [rand(shape), i64(target[-1:])], axes=[-1])


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
