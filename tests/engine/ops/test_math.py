"""Family D (linear algebra, reductions, search, quantization, signal ops): our engine vs onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from ops_helpers import SETTINGS, i64, rand, run_both, shapes

seeds = st.integers(0, 2**16)


# --- linear algebra ---------------------------------------------------------------------------------------


@st.composite
def matmul_shapes(draw):
    """Shapes of a numpy-matmul pair, including 1-D operands and broadcast batch dimensions."""
    m, k, n = draw(st.integers(1, 6)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    batch = draw(st.lists(st.integers(1, 3), max_size=2))
    a_batch = [b if draw(st.booleans()) else 1 for b in batch]
    b_batch = [b if draw(st.booleans()) else 1 for b in batch][draw(st.integers(0, len(batch))):]
    a = [k] if draw(st.integers(0, 4)) == 0 else [*a_batch, m, k]
    b = [k] if draw(st.integers(0, 4)) == 0 else [*b_batch, k, n]
    return tuple(a), tuple(b)


@SETTINGS
@given(matmul_shapes(), st.sampled_from([np.float32, np.float16, np.float64, np.int32, np.int64]), seeds)
def test_matmul(pair, dtype, seed):
    a_shape, b_shape = pair
    tol = 2e-3 if dtype == np.float16 else 1e-4
    a, b = rand(a_shape, dtype, seed), rand(b_shape, dtype, seed + 1)
    run_both("MatMul", [a, b], opset=13, rtol=tol, atol=tol)


@SETTINGS
@given(
    st.integers(1, 6), st.integers(1, 6), st.integers(1, 6), st.booleans(), st.booleans(),
    st.sampled_from([None, "scalar", "row", "col", "full"]), st.sampled_from([1.0, 0.5, -2.0]),
    st.sampled_from([1.0, 0.25, 0.0]), seeds,
)
def test_gemm(m, k, n, trans_a, trans_b, c_kind, alpha, beta, seed):
    a = rand((k, m) if trans_a else (m, k), seed=seed)
    b = rand((n, k) if trans_b else (k, n), seed=seed + 1)
    c_shape = {None: None, "scalar": (1,), "row": (n,), "col": (m, 1), "full": (m, n)}[c_kind]
    c = None if c_shape is None else rand(c_shape, seed=seed + 2)
    inputs = [a, b] if c is None else [a, b, c]
    run_both("Gemm", inputs, opset=13, transA=int(trans_a), transB=int(trans_b), alpha=alpha, beta=beta)


@pytest.mark.parametrize(
    "equation,shapes_",
    [
        ("ij,jk->ik", [(3, 4), (4, 5)]),
        ("bij, bjk -> bik", [(2, 3, 4), (2, 4, 5)]),
        ("...ii->...i", [(2, 3, 3)]),
        ("ij->", [(3, 4)]),
        ("i,i", [(5,), (5,)]),
        ("abc,cd,de->abe", [(2, 3, 4), (4, 5), (5, 2)]),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_einsum(equation, shapes_, dtype):
    run_both("Einsum", [rand(s, dtype, i) for i, s in enumerate(shapes_)], opset=12, equation=equation)


def test_det():
    run_both("Det", [rand((3, 4, 4), seed=3)], opset=11)


# --- reductions -------------------------------------------------------------------------------------------

FLOAT_REDUCTIONS = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                    "ReduceLogSumExp", "ReduceSumSquare"]


@st.composite
def shape_and_axes(draw):
    shape = draw(shapes)
    axes = draw(st.lists(st.integers(-len(shape), len(shape) - 1), max_size=len(shape), unique=True))
    # no two spellings of the same axis
    seen, uniq = set(), []
    for a in axes:
        if a % len(shape) not in seen:
            seen.add(a % len(shape))
            uniq.append(a)
    return shape, uniq


@SETTINGS
@given(st.sampled_from(FLOAT_REDUCTIONS), shape_and_axes(), st.booleans(), st.booleans(), seeds)
def test_float_reductions(op, shape_axes, keepdims, noop, seed):
    shape, axes = shape_axes
    x = rand(shape, seed=seed)
    inputs = [x, i64(axes)] if axes else [x]
    run_both(op, inputs, opset=18, keepdims=int(keepdims), noop_with_empty_axes=int(noop))


@SETTINGS
@given(st.sampled_from(["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceMean"]), shape_and_axes(),
       st.sampled_from([np.int32, np.int64]), st.booleans(), seeds)
def test_integer_reductions_keep_dtype(op, shape_axes, dtype, keepdims, seed):
    shape, axes = shape_axes
    x = rand(shape, dtype, seed, lo=-4, hi=4)
    inputs = [x, i64(axes)] if axes else [x]
    (y,) = run_both(op, inputs, opset=18, keepdims=int(keepdims))
    assert y.dtype == dtype


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceL2", "ReduceLogSumExp"])
def test_reductions_axes_attribute_opset13(op):
    x = rand((2, 3, 4), seed=1)
    if op == "ReduceSum":
        run_both(op, [x, i64([0, -1])], opset=13, keepdims=0)
    else:
        run_both(op, [x], opset=13, axes=[0, -1], keepdims=0)


def test_reduce_log_sum_exp_is_stable():
    x = np.array([[1000.0, 1000.0], [-1000.0, -1001.0]], dtype=np.float32)
    (y,) = run_both("ReduceLogSumExp", [x, i64([1])], opset=18)
    assert np.all(np.isfinite(y))


# --- search -----------------------------------------------------------------------------------------------


@SETTINGS
@given(shapes, st.data(), st.sampled_from(["ArgMax", "ArgMin"]), st.booleans(), st.booleans(), seeds)
def test_argmax_argmin_with_ties(shape, data, op, keepdims, last, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = rand(shape, np.int32, seed, lo=0, hi=2).astype(np.float32)  # many ties
    run_both(op, [x], opset=13, axis=axis, keepdims=int(keepdims), select_last_index=int(last))


@SETTINGS
@given(shapes, st.data(), st.booleans(), st.sampled_from([np.float32, np.int32, np.int64]), seeds)
def test_topk_with_ties(shape, data, largest, dtype, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    k = data.draw(st.integers(0, shape[axis]))
    x = rand(shape, np.int32, seed, lo=0, hi=3).astype(dtype)  # many ties: lower index must come first
    run_both("TopK", [x, i64([k])], n_outputs=2, opset=11, axis=axis, largest=int(largest), sorted=1)


@SETTINGS
@given(shapes, st.data(), st.booleans(), st.booleans(), st.sampled_from([np.float32, np.int32, np.int64]),
       seeds)
def test_cumsum(shape, data, exclusive, reverse, dtype, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    run_both("CumSum", [rand(shape, dtype, seed), i64(axis)], opset=14,
             exclusive=int(exclusive), reverse=int(reverse))


# --- quantization -----------------------------------------------------------------------------------------


@SETTINGS
@given(shapes, st.data(), st.sampled_from([np.uint8, np.int8, np.uint16, np.int16]), st.booleans(), seeds)
def test_quantize_dequantize_per_axis(shape, data, qtype, per_axis, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 100).astype(np.float32)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis] if per_axis else 1
    scale = rng.uniform(0.05, 2.0, n).astype(np.float32)
    zp = rand((n,), qtype, seed, lo=-20, hi=20)
    if not per_axis:
        scale, zp = scale.reshape(()), zp.reshape(())
    (q,) = run_both("QuantizeLinear", [x, scale, zp], opset=21, axis=axis)
    run_both("DequantizeLinear", [q, scale, zp], opset=21, axis=axis)


def test_quantize_linear_rounds_half_to_even_and_saturates():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 1000.0, -1000.0], dtype=np.float32)
    (q,) = run_both("QuantizeLinear", [x, np.array(1.0, np.float32), np.array(0, np.int8)], opset=13)
    assert q.tolist() == [0, 2, 2, 0, -2, 127, -128]


def test_quantize_linear_blocked():
    x = rand((3, 8), seed=2) * 10
    scale = np.random.default_rng(2).uniform(0.1, 1.0, (3, 4)).astype(np.float32)
    zp = rand((3, 4), np.int8, 2, lo=-5, hi=5)
    run_both("QuantizeLinear", [x, scale, zp], opset=21, axis=1, block_size=2)
    q = rand((3, 8), np.int8, 3)
    run_both("DequantizeLinear", [q, scale, zp], opset=21, axis=1, block_size=2)


@SETTINGS
@given(shapes, st.floats(0.1, 100.0), seeds)
def test_dynamic_quantize_linear(shape, spread, seed):
    x = (rand(shape, seed=seed) * spread).astype(np.float32)
    run_both("DynamicQuantizeLinear", [x], n_outputs=3, opset=11)


@SETTINGS
@given(st.integers(1, 8), st.integers(1, 8), st.integers(1, 8), st.sampled_from([np.uint8, np.int8]),
       st.booleans(), seeds)
def test_matmul_integer_and_qlinear_matmul(m, k, n, atype, with_zp, seed):
    rng = np.random.default_rng(seed)
    a = rand((m, k), atype, seed, lo=-128, hi=255)
    b = rand((k, n), atype, seed + 1, lo=-128, hi=255)
    azp = rand((), atype, seed + 2, lo=0, hi=20) if with_zp else None
    bzp = rand((), atype, seed + 3, lo=0, hi=20) if with_zp else None
    run_both("MatMulInteger", [a, b, azp, bzp] if with_zp else [a, b], opset=10)
    a_scale = np.array(rng.uniform(0.01, 0.1), np.float32)
    b_scale = np.array(rng.uniform(0.01, 0.1), np.float32)
    y_scale = np.array(rng.uniform(0.05, 1.0), np.float32)
    azp = rand((), atype, seed + 2, lo=0, hi=20)
    bzp = rand((), atype, seed + 3, lo=0, hi=20)
    yzp = rand((), atype, seed + 4, lo=0, hi=50)
    run_both("QLinearMatMul", [a, np.asarray(a_scale), azp, b, np.asarray(b_scale), bzp,
                               np.asarray(y_scale), yzp], opset=10)


@st.composite
def conv_case(draw):
    nsp = draw(st.integers(1, 2))
    group = draw(st.sampled_from([1, 2]))
    cin = group * draw(st.integers(1, 2))
    cout = group * draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 3)) for _ in range(nsp)]
    strides = [draw(st.integers(1, 2)) for _ in range(nsp)]
    dilations = [draw(st.integers(1, 2)) for _ in range(nsp)]
    pads = [draw(st.integers(0, 2)) for _ in range(2 * nsp)]
    spatial = [draw(st.integers((k - 1) * d + 1, 7)) for k, d in zip(kernel, dilations, strict=True)]
    return (1, cin, *spatial), (cout, cin // group, *kernel), group, strides, dilations, pads


@SETTINGS
@given(conv_case(), seeds)
def test_conv_integer(case, seed):
    x_shape, w_shape, group, strides, dilations, pads = case
    x = rand(x_shape, np.uint8, seed, lo=0, hi=255)
    w = rand(w_shape, np.uint8, seed + 1, lo=0, hi=255)
    xzp, wzp = np.array(7, np.uint8), np.array(3, np.uint8)
    run_both("ConvInteger", [x, w, xzp, wzp], opset=10, group=group, strides=strides, dilations=dilations,
             pads=pads)


@SETTINGS
@given(conv_case(), seeds)
def test_qlinear_conv_per_channel(case, seed):
    x_shape, w_shape, group, strides, dilations, pads = case
    rng = np.random.default_rng(seed)
    x = rand(x_shape, np.uint8, seed, lo=0, hi=255)
    w = rand(w_shape, np.int8, seed + 1, lo=-127, hi=127)
    w_scale = rng.uniform(0.001, 0.02, w_shape[0]).astype(np.float32)
    bias = rand((w_shape[0],), np.int32, seed + 2, lo=-500, hi=500)
    inputs = [x, np.array(0.05, np.float32), np.array(10, np.uint8), w, w_scale,
              np.zeros(w_shape[0], np.int8), np.array(0.2, np.float32), np.array(128, np.uint8), bias]
    run_both("QLinearConv", inputs, opset=10, group=group, strides=strides, dilations=dilations, pads=pads)


# --- losses and signal ------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [None, 1])
def test_softmax_cross_entropy_and_nll(reduction, weighted, ignore):
    scores = rand((3, 4, 2), seed=5)
    labels = rand((3, 2), np.int64, 5, lo=0, hi=3)
    weights = np.random.default_rng(5).uniform(0.5, 2.0, 4).astype(np.float32) if weighted else None
    attrs = {"reduction": reduction}
    if ignore is not None:
        attrs["ignore_index"] = ignore
    inputs = [scores, labels] + ([weights] if weighted else [])
    run_both("SoftmaxCrossEntropyLoss", inputs, n_outputs=2, opset=13, **attrs)
    run_both("NegativeLogLikelihoodLoss", inputs, opset=13, **attrs)


@pytest.mark.parametrize("inverse,onesided", [(0, 0), (1, 0), (0, 1)])
@pytest.mark.parametrize("complex_in", [False, True])
def test_dft(inverse, onesided, complex_in):
    if onesided and complex_in:
        pytest.skip("one-sided DFT needs a real signal")
    x = rand((2, 8, 3, 2 if complex_in else 1), seed=4)
    run_both("DFT", [x, None, i64(1)], opset=20, inverse=inverse, onesided=onesided, atol=1e-4)


@pytest.mark.parametrize("op", ["HannWindow", "HammingWindow", "BlackmanWindow"])
@pytest.mark.parametrize("periodic", [0, 1])
def test_windows(op, periodic):
    run_both(op, [i64(10)], opset=17, periodic=periodic)


def test_non_max_suppression():
    rng = np.random.default_rng(9)
    corner = rng.uniform(0, 10, (2, 20, 2)).astype(np.float32)
    boxes = np.concatenate([corner, corner + rng.uniform(1, 5, (2, 20, 2)).astype(np.float32)], axis=-1)
    scores = rng.uniform(0, 1, (2, 3, 20)).astype(np.float32)
    run_both("NonMaxSuppression", [boxes, scores, i64([5]), np.array([0.3], np.float32),
                                   np.array([0.2], np.float32)], opset=11)
