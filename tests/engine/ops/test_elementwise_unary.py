"""Elementwise kernels, unary (math, activations, Clip, Cast), against onnxruntime on random inputs.

Each check builds a single-node ONNX model, runs it in onnxruntime, and calls the registered RONN kernel
directly with the same inputs; dtype, shape and values must agree.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from onnx import helper
from ops_helpers import FAST
from ops_helpers import check_elementwise as check
from ops_helpers import rand_uniform as _rand

from engine.ops.registry import lookup

SIGNED = [np.int8, np.int16, np.int32, np.int64]

shapes = array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)
seeds = st.integers(0, 2**32 - 1)

# ------------------------------------------------------------------------------------------ unary math

UNARY_FLOAT = {
    # op: (low, high) input range where the function is defined and well conditioned
    "Abs": (-5, 5), "Neg": (-5, 5), "Sign": (-2, 2), "Ceil": (-5, 5), "Floor": (-5, 5), "Round": (-5, 5),
    "Reciprocal": (0.1, 5), "Sqrt": (0, 10), "Exp": (-20, 20), "Log": (0.01, 100), "Sin": (-7, 7),
    "Cos": (-7, 7), "Tan": (-1.5, 1.5), "Asin": (-1, 1), "Acos": (-1, 1), "Atan": (-10, 10),
    "Sinh": (-10, 10), "Cosh": (-10, 10), "Asinh": (-10, 10), "Acosh": (1, 10), "Atanh": (-0.99, 0.99),
    "Erf": (-5, 5), "Tanh": (-10, 10), "Relu": (-5, 5), "Sigmoid": (-30, 30), "Softplus": (-30, 30),
    "Softsign": (-5, 5), "HardSwish": (-5, 5), "Mish": (-10, 10), "IsNaN": (-5, 5),
}


@pytest.mark.parametrize("op", sorted(UNARY_FLOAT))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@FAST
@given(shape=shapes, seed=seeds)
def test_unary_float(op, dtype, shape, seed):
    low, high = UNARY_FLOAT[op]
    x = _rand(np.random.default_rng(seed), shape, dtype, low, high)
    check(op, [x], opset=18 if op != "HardSwish" else 22)


@pytest.mark.parametrize("op", ["Abs", "Neg", "Sign", "Exp", "Log", "Sqrt", "Tanh", "Sigmoid", "Relu", "Erf"])
def test_unary_float16(op):
    x = _rand(np.random.default_rng(0), (3, 7), np.float16, 0.1, 4)
    check(op, [x])


@pytest.mark.parametrize("op", ["Abs", "Neg", "Sign", "Relu"])
@pytest.mark.parametrize("dtype", SIGNED)
def test_unary_signed_int(op, dtype):
    x = _rand(np.random.default_rng(1), (4, 5), dtype, -100, 100)
    check(op, [x], opset=18)


def test_round_halves_to_even():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 0.0, -0.0, np.inf, np.nan], dtype=np.float32)
    check("Round", [x])


def test_special_values_match_onnxruntime():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e30, 88.0, -88.0, 1e4, -1e4], np.float32)
    for op in ["Exp", "Sigmoid", "Tanh", "Softplus", "Relu", "Abs", "Sign", "Erf", "Mish", "Softsign"]:
        check(op, [x], rtol=1e-6, atol=1e-37)  # onnxruntime flushes denormal results to zero


def test_erf_is_accurate():
    # more than one 65536-element chunk, tiny values (relative accuracy), and both approximation ranges
    x64 = np.concatenate([np.linspace(-7, 7, 100001), np.logspace(-38, 0.5, 500), [1.0, -1.0, 0.9999999]])
    expected = np.array([math.erf(v) for v in x64])
    (got,) = lookup("Erf", "", 13).fn(x64.astype(np.float32))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected.astype(np.float32), rtol=2.5e-7, atol=0)  # within 2 ulp
    (got64,) = lookup("Erf", "", 13).fn(x64)
    np.testing.assert_allclose(got64, expected, rtol=1e-14, atol=0)
    x16 = x64.astype(np.float16)
    (got16,) = lookup("Erf", "", 13).fn(x16)
    expected16 = np.array([math.erf(v) for v in x16.astype(np.float64)]).astype(np.float16)
    np.testing.assert_array_equal(got16, expected16)


def test_sigmoid_is_stable_at_extremes():
    x = np.array([-1000.0, -100.0, -20.0, 0.0, 20.0, 100.0, 1000.0], np.float32)
    (y,) = lookup("Sigmoid", "", 13).fn(x)
    assert np.all(np.isfinite(y))
    expected = [0.0, 3.7200760e-44, 2.0611537e-09, 0.5, 1.0, 1.0, 1.0]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-40)


@pytest.mark.parametrize("detect_negative,detect_positive", [(1, 1), (0, 1), (1, 0), (0, 0)])
def test_isinf(detect_negative, detect_positive):
    x = np.array([np.inf, -np.inf, np.nan, 0.0, 3.0, -1e38], np.float32)
    check("IsInf", [x], {"detect_negative": detect_negative, "detect_positive": detect_positive})


# ------------------------------------------------------------------------------------------ activations

ACTIVATIONS = [
    ("LeakyRelu", {"alpha": 0.1}, 16), ("LeakyRelu", {}, 16), ("Elu", {"alpha": 0.7}, 6),
    ("Selu", {}, 6), ("Selu", {"alpha": 1.5, "gamma": 2.0}, 6), ("Celu", {"alpha": 2.0}, 12),
    ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}, 6), ("ThresholdedRelu", {"alpha": 0.5}, 10),
    ("Shrink", {"bias": 0.5, "lambd": 1.0}, 9), ("Shrink", {}, 9), ("Gelu", {}, 20),
    ("Gelu", {"approximate": "tanh"}, 20), ("Swish", {"alpha": 0.8}, 24), ("Swish", {}, 24),
]


ACTIVATION_IDS = [f"{a[0]}-{k}" for k, a in enumerate(ACTIVATIONS)]


@pytest.mark.parametrize("op,attrs,opset", ACTIVATIONS, ids=ACTIVATION_IDS)
@FAST
@given(shape=shapes, seed=seeds)
def test_activation(op, attrs, opset, shape, seed):
    x = _rand(np.random.default_rng(seed), shape, np.float32, -6, 6)
    check(op, [x], attrs, opset=opset)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.uint8, np.float64])
def test_shrink_other_types(dtype):
    x = _rand(np.random.default_rng(2), (20,), dtype, -10 if np.dtype(dtype).kind != "u" else 0, 10)
    check("Shrink", [x], {"bias": 1.0, "lambd": 2.0}, opset=9)


@FAST
@given(data=st.data(), seed=seeds)
def test_prelu_unidirectional_broadcast(data, seed):
    x_shape = data.draw(array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    k = data.draw(st.integers(0, len(x_shape)))
    slope_shape = tuple(d if data.draw(st.booleans()) else 1 for d in x_shape[len(x_shape) - k:])
    rng = np.random.default_rng(seed)
    check("PRelu", [_rand(rng, x_shape, np.float32), _rand(rng, slope_shape, np.float32, 0, 1)], opset=16)


# ------------------------------------------------------------------------------------------ clip

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.uint8, np.int8])
@pytest.mark.parametrize("bounds", [(-1, 2), (None, 2), (-1, None), (None, None), (3, 1)])
def test_clip_optional_bounds(dtype, bounds):
    rng = np.random.default_rng(6)
    x = _rand(rng, (4, 5), dtype, -5 if np.dtype(dtype).kind != "u" else 0, 5)
    lo, hi = (None if b is None else np.array(max(b, 0) if np.dtype(dtype).kind == "u" else b, dtype)
              for b in bounds)
    check("Clip", [x, lo, hi], opset=13)
    check("Clip", [x[:1, :1].reshape(()), lo, hi], opset=13)  # 0-d input


def test_clip_attributes_before_opset_11():
    x = _rand(np.random.default_rng(7), (3, 4), np.float32)
    check("Clip", [x], {"min": -1.0, "max": 0.5}, opset=6)
    check("Clip", [x], {"max": 0.5}, opset=6)


# ------------------------------------------------------------------------------------------ cast

CAST_TYPES = [np.float32, np.float64, np.float16, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
              np.uint32, np.uint64, np.bool_]


@pytest.mark.parametrize("src", CAST_TYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("dst", CAST_TYPES, ids=lambda t: np.dtype(t).name)
def test_cast_all_pairs(src, dst):
    rng = np.random.default_rng(8)
    x = _rand(rng, (3, 4), src, 0, 100)
    if np.dtype(src).kind == "f":
        x = (x + np.array([[0.4], [0.5], [0.75]], dtype=src)).astype(src)  # truncation toward zero
        x[0, 0] = 0
    to = helper.np_dtype_to_tensor_dtype(np.dtype(dst))
    check("Cast", [x], {"to": to}, opset=19)
    check("CastLike", [x, np.zeros(1, dst)], opset=19)


def test_cast_negative_floats_to_signed_truncate():
    x = np.array([-1.5, -0.7, 0.7, 2.9, -120.2], np.float32)
    for dst in [np.int8, np.int32, np.int64]:
        check("Cast", [x], {"to": helper.np_dtype_to_tensor_dtype(np.dtype(dst))}, opset=19)
    special = np.array([np.nan, 0.0, -0.0, np.inf], np.float32)
    check("Cast", [special], {"to": onnx.TensorProto.BOOL}, opset=19)


def test_cast_accepts_opset1_type_names_and_saturate():
    x = np.array([1.5, -2.0], np.float32)
    (y,) = lookup("Cast", "", 1).fn(x, to="INT32")
    np.testing.assert_array_equal(y, np.array([1, -2], np.int32))
    (y,) = lookup("Cast", "", 19).fn(x, to=onnx.TensorProto.FLOAT16, saturate=0)
    assert y.dtype == np.float16


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint64, np.bool_])
def test_cast_to_and_from_string(dtype):
    x = np.array([0.1, 1.0, -2.5, 1e20, 1e-7, 123456789.0, 3.0, 0.123456789012, -0.0, 0.0])
    if np.dtype(dtype).kind != "f":
        x = np.abs(np.round(x[:7] % 1000))
    x = x.astype(dtype)
    check("Cast", [x], {"to": onnx.TensorProto.STRING}, opset=19)
    strings = np.array(["1.5", "-2", "NaN", "INF", "-inf", "1e3", "+INF"], dtype=object)
    check("Cast", [strings], {"to": onnx.TensorProto.FLOAT}, opset=19)
    check("Cast", [np.array(["1", "-2", "30"], dtype=object)], {"to": onnx.TensorProto.INT64}, opset=19)


def test_string_equal_and_where():
    a = np.array(["a", "b", "c"], dtype=object)
    b = np.array(["a", "x", "c"], dtype=object)
    check("Equal", [a, b], opset=19)
    check("Where", [np.array([True, False, True]), a, b], opset=16)
