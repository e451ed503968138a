"""Family C, shape manipulation, slicing and padding operators: our engine vs onnxruntime on single-node
models."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from ops_helpers import SETTINGS, i64, shapes
from ops_helpers import rand_small as rand
from ops_helpers import run_both_exact as run_both

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


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
