"""Elementwise kernels, binary and variadic (arithmetic, Mod, Pow, bit ops, comparisons, logic, Sum/Max/...,
Where), against onnxruntime on random inputs.

Each check builds a single-node ONNX model, runs it in onnxruntime, and calls the registered RONN kernel
directly with the same inputs; dtype, shape and values must agree.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes
from ops_helpers import FAST
from ops_helpers import check_elementwise as check
from ops_helpers import rand_uniform as _rand

from engine.ops.registry import lookup

seeds = st.integers(0, 2**32 - 1)

# ------------------------------------------------------------------------------------------ binary

ARITH = ["Add", "Sub", "Mul", "Div", "Max", "Min"]


@pytest.mark.parametrize("op", ARITH)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.int8, np.uint8, np.uint64])
@FAST
@given(shapes2=mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4), seed=seeds)
def test_binary_arith(op, dtype, shapes2, seed):
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes2.input_shapes
    a = _rand(rng, a_shape, dtype, -100, 100)
    b = _rand(rng, b_shape, dtype, -100, 100)
    if op == "Div" and np.dtype(dtype).kind in "iu":
        b[b == 0] = 3
    check(op, [a, b], opset=14 if op in ARITH[:4] else 13)


def test_integer_division_truncates_toward_zero():
    a = np.array([7, -7, 7, -7, 6, -6, 0, -1, 1], np.int32)
    b = np.array([2, 2, -2, -2, 3, -3, 5, 4, -4], np.int32)
    check("Div", [a, b], opset=14)
    check("Div", [a.astype(np.int64), b.astype(np.int64)], opset=14)


@pytest.mark.parametrize("fmod", [0, 1])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.int8, np.uint16, np.float32, np.float64])
@FAST
@given(shapes2=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4), seed=seeds)
def test_mod(fmod, dtype, shapes2, seed):
    if np.dtype(dtype).kind == "f" and fmod == 0:
        pytest.skip("onnxruntime requires fmod=1 for floats")
    rng = np.random.default_rng(seed)
    a = _rand(rng, shapes2.input_shapes[0], dtype, -50, 50)
    b = _rand(rng, shapes2.input_shapes[1], dtype, -9, 9)
    b[b == 0] = 7
    check("Mod", [a, b], {"fmod": fmod}, opset=13)


POW_TYPES = [
    (np.float32, np.float32), (np.float32, np.int64), (np.float32, np.int32), (np.float64, np.float32),
    (np.int32, np.int32), (np.int64, np.int64), (np.int32, np.float32), (np.int64, np.float64),
    (np.float32, np.float64), (np.float16, np.float16),
]


@pytest.mark.parametrize("base_t,exp_t", POW_TYPES, ids=lambda t: np.dtype(t).name)
@FAST
@given(shapes2=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4), seed=seeds)
def test_pow_mixed_types(base_t, exp_t, shapes2, seed):
    rng = np.random.default_rng(seed)
    base = _rand(rng, shapes2.input_shapes[0], base_t, 0 if np.dtype(base_t).kind == "f" else -5, 5)
    exponent = _rand(rng, shapes2.input_shapes[1], exp_t, 0, 4)
    if np.dtype(base_t).kind == "f" and np.dtype(exp_t).kind == "f":
        exponent = _rand(rng, shapes2.input_shapes[1], exp_t, -2, 3)
    check("Pow", [base, exponent], opset=15, rtol=1e-4)


def test_pow_square_fast_path():
    x = _rand(np.random.default_rng(3), (5, 6), np.float32)
    check("Pow", [x, np.array(2.0, np.float32)], opset=15)
    check("Pow", [x.astype(np.int32), np.array(2, np.int64)], opset=15)


@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64])
@FAST
@given(shapes2=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4), seed=seeds)
def test_bitshift(direction, dtype, shapes2, seed):
    rng = np.random.default_rng(seed)
    bits = np.dtype(dtype).itemsize * 8
    x = _rand(rng, shapes2.input_shapes[0], dtype, 0, 255)
    y = _rand(rng, shapes2.input_shapes[1], dtype, 0, bits - 1)
    check("BitShift", [x, y], {"direction": direction}, opset=11)


def test_bitshift_out_of_range_counts_give_zero():
    x = np.array([1, 255, 7, 128], np.uint8)
    y = np.array([8, 9, 200, 0], np.uint8)
    (left,) = lookup("BitShift", "", 11).fn(x, y, direction="LEFT")
    (right,) = lookup("BitShift", "", 11).fn(x, y, direction="RIGHT")
    np.testing.assert_array_equal(left, [0, 0, 0, 128])
    np.testing.assert_array_equal(right, [0, 0, 0, 128])
    assert left.dtype == right.dtype == np.uint8


@pytest.mark.parametrize("op", ["BitwiseAnd", "BitwiseOr", "BitwiseXor"])
@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.uint8, np.uint64])
def test_bitwise(op, dtype):
    rng = np.random.default_rng(4)
    check(op, [_rand(rng, (3, 4), dtype, -100, 100), _rand(rng, (4,), dtype, -100, 100)])
    check("BitwiseNot", [_rand(rng, (3, 4), dtype, -100, 100)])


COMPARE = ["Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual"]


@pytest.mark.parametrize("op", COMPARE)
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.uint8])
@FAST
@given(shapes2=mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4), seed=seeds)
def test_compare(op, dtype, shapes2, seed):
    rng = np.random.default_rng(seed)
    a = _rand(rng, shapes2.input_shapes[0], dtype, 0, 3)
    b = _rand(rng, shapes2.input_shapes[1], dtype, 0, 3)
    check(op, [a, b], opset=19 if op == "Equal" else 16)


@pytest.mark.parametrize("op", ["And", "Or", "Xor"])
@FAST
@given(shapes2=mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4), seed=seeds)
def test_logical(op, shapes2, seed):
    rng = np.random.default_rng(seed)
    a = _rand(rng, shapes2.input_shapes[0], np.bool_)
    b = _rand(rng, shapes2.input_shapes[1], np.bool_)
    check(op, [a, b])
    check("Not", [a])


# ------------------------------------------------------------------------------------------ variadic

@pytest.mark.parametrize("op", ["Sum", "Mean", "Max", "Min"])
@FAST
@given(shapes_n=mutually_broadcastable_shapes(num_shapes=3, max_dims=4, max_side=4), n=st.integers(1, 3),
       seed=seeds)
def test_variadic(op, shapes_n, n, seed):
    rng = np.random.default_rng(seed)
    inputs = [_rand(rng, s, np.float32) for s in shapes_n.input_shapes[:n]]
    check(op, inputs, opset=13)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.int64])
def test_max_min_integers(dtype):
    rng = np.random.default_rng(5)
    xs = [_rand(rng, (2, 3), dtype, 0, 50), _rand(rng, (3,), dtype, 0, 50), _rand(rng, (), dtype, 0, 50)]
    check("Max", xs, opset=13)
    check("Min", xs, opset=13)


@FAST
@given(shapes_n=mutually_broadcastable_shapes(num_shapes=3, max_dims=4, max_side=4), seed=seeds)
def test_where(shapes_n, seed):
    rng = np.random.default_rng(seed)
    c_shape, x_shape, y_shape = shapes_n.input_shapes
    for dtype in (np.float32, np.int64):
        cond = _rand(rng, c_shape, np.bool_)
        check("Where", [cond, _rand(rng, x_shape, dtype), _rand(rng, y_shape, dtype)], opset=16)
