"""Neural-network kernels (conv, pooling, normalization, softmax, resize, attention) against onnxruntime.

Each check builds a single-node ONNX model, runs it in onnxruntime, and calls the registered RONN kernel
directly with the same inputs; every requested output must agree in dtype, shape and value.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from ops_helpers import FAST, check_kernel, kernel_outputs, oracle_outputs
from ops_helpers import randn as _rand


def check(op, inputs, attrs=None, opset=21, n_out=1, rtol=1e-4, atol=1e-5):
    check_kernel(op, inputs, attrs, opset, n_out, rtol, atol)


# ------------------------------------------------------------------------------------------------ Conv


@st.composite
def conv_cases(draw):
    nd = draw(st.integers(1, 3))
    group = draw(st.sampled_from([1, 1, 2, 3]))
    depthwise = draw(st.booleans())
    cg = 1 if depthwise else draw(st.integers(1, 3))
    mg = draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 3)) for _ in range(nd)]
    strides = [draw(st.integers(1, 3)) for _ in range(nd)]
    dilations = [draw(st.integers(1, 2)) for _ in range(nd)]
    auto_pad = draw(st.sampled_from(["NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    pads = [draw(st.integers(0, 2)) for _ in range(2 * nd)]
    spatial = [draw(st.integers(4, 7 if nd < 3 else 5)) for _ in range(nd)]
    bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return nd, group, cg, mg, kernel, strides, dilations, auto_pad, pads, spatial, bias, seed


@FAST
@given(conv_cases())
def test_conv_matches_onnxruntime(case):
    nd, group, cg, mg, kernel, strides, dilations, auto_pad, pads, spatial, bias, seed = case
    for s, k, d, p0, p1 in zip(spatial, kernel, dilations, pads[:nd], pads[nd:], strict=False):
        assume(s + p0 + p1 >= (k - 1) * d + 1)
    if auto_pad != "NOTSET":
        # onnxruntime rejects SAME_* with dilations > 1 in some versions; keep dilations at 1 there
        dilations = [1] * nd
    rng = np.random.default_rng(seed)
    x = _rand(rng, [2, cg * group, *spatial])
    w = _rand(rng, [mg * group, cg, *kernel])
    inputs = [x, w] + ([_rand(rng, [mg * group])] if bias else [])
    attrs = {"group": group, "strides": strides, "dilations": dilations, "kernel_shape": kernel}
    if auto_pad == "NOTSET":
        attrs["pads"] = pads
    else:
        attrs["auto_pad"] = auto_pad
    check("Conv", inputs, attrs, opset=11)


def test_conv_float16_and_float64_follow_float32():
    # onnxruntime's CPU Conv is float32 only: the other float types must agree with it and keep their dtype
    rng = np.random.default_rng(0)
    x = _rand(rng, [1, 4, 9, 9])
    w = _rand(rng, [6, 2, 3, 3])
    attrs = {"group": 2, "pads": [1, 1, 1, 1]}
    (expected,) = oracle_outputs("Conv", [x, w], attrs, 11, 1)
    for dt, tol in ((np.float16, 2e-2), (np.float64, 1e-5)):
        (got,) = kernel_outputs("Conv", [x.astype(dt), w.astype(dt)], attrs, 11, 1)
        assert got.dtype == dt
        np.testing.assert_allclose(got.astype(np.float32), expected, rtol=tol, atol=tol)


@st.composite
def conv_transpose_cases(draw):
    nd = draw(st.integers(1, 3))
    group = draw(st.sampled_from([1, 1, 2]))
    cg, mg = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 3)) for _ in range(nd)]
    strides = [draw(st.integers(1, 3)) for _ in range(nd)]
    dilations = [draw(st.integers(1, 2)) for _ in range(nd)]
    output_padding = [draw(st.integers(0, s - 1)) for s in strides]
    pads = [draw(st.integers(0, 1)) for _ in range(2 * nd)]
    spatial = [draw(st.integers(2, 5)) for _ in range(nd)]
    return nd, group, cg, mg, kernel, strides, dilations, output_padding, pads, spatial, draw(st.booleans())


@FAST
@given(conv_transpose_cases())
def test_conv_transpose_matches_onnxruntime(case):
    nd, group, cg, mg, kernel, strides, dilations, output_padding, pads, spatial, bias = case
    for i in range(nd):
        natural = strides[i] * (spatial[i] - 1) + output_padding[i] + (kernel[i] - 1) * dilations[i] + 1
        assume(natural - pads[i] - pads[nd + i] > 0)
    rng = np.random.default_rng(len(spatial) * 31 + sum(kernel))
    x = _rand(rng, [2, cg * group, *spatial])
    w = _rand(rng, [cg * group, mg, *kernel])
    inputs = [x, w] + ([_rand(rng, [mg * group])] if bias else [])
    attrs = {"group": group, "strides": strides, "dilations": dilations, "pads": pads,
             "output_padding": output_padding}
    check("ConvTranspose", inputs, attrs, opset=11)


def test_conv_transpose_output_shape_same_upper():
    rng = np.random.default_rng(1)
    x = _rand(rng, [1, 2, 4, 5])
    w = _rand(rng, [2, 3, 3, 3])
    check("ConvTranspose", [x, w], {"strides": [2, 2], "auto_pad": "SAME_UPPER"}, opset=11)


# --------------------------------------------------------------------------------------------- Pooling


@st.composite
def pool_cases(draw):
    nd = draw(st.integers(1, 3))
    kernel = [draw(st.integers(1, 3)) for _ in range(nd)]
    strides = [draw(st.integers(1, 3)) for _ in range(nd)]
    pads = [draw(st.integers(0, k - 1)) for k in kernel] * 2
    pads = [draw(st.integers(0, k - 1)) for k in kernel + kernel]
    spatial = [draw(st.integers(3, 7 if nd < 3 else 5)) for _ in range(nd)]
    ceil_mode = draw(st.integers(0, 1))
    return nd, kernel, strides, pads, spatial, ceil_mode, draw(st.integers(0, 2**16))


@FAST
@given(pool_cases())
def test_max_pool_with_indices_matches_onnxruntime(case):
    nd, kernel, strides, pads, spatial, ceil_mode, seed = case
    x = _rand(np.random.default_rng(seed), [2, 3, *spatial])
    attrs = {"kernel_shape": kernel, "strides": strides, "pads": pads, "ceil_mode": ceil_mode}
    check("MaxPool", [x], attrs, opset=12, n_out=2)


@FAST
@given(pool_cases(), st.integers(0, 1))
def test_average_pool_matches_onnxruntime(case, count_include_pad):
    nd, kernel, strides, pads, spatial, ceil_mode, seed = case
    x = _rand(np.random.default_rng(seed), [2, 3, *spatial])
    attrs = {"kernel_shape": kernel, "strides": strides, "pads": pads, "ceil_mode": ceil_mode,
             "count_include_pad": count_include_pad}
    check("AveragePool", [x], attrs, opset=19)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
def test_pools_auto_pad(auto_pad):
    x = _rand(np.random.default_rng(2), [1, 2, 7, 6])
    attrs = {"kernel_shape": [3, 2], "strides": [2, 2], "auto_pad": auto_pad}
    check("MaxPool", [x], attrs, opset=12)
    check("AveragePool", [x], attrs, opset=19)
    check("LpPool", [x], {**attrs, "p": 3}, opset=18)


def test_max_pool_int8_and_storage_order():
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 127, size=(1, 2, 5, 6)).astype(np.int8)
    check("MaxPool", [x], {"kernel_shape": [2, 2], "pads": [1, 1, 1, 1]}, opset=12)
    y = _rand(rng, [2, 2, 5, 6])
    check("MaxPool", [y], {"kernel_shape": [3, 2], "strides": [2, 1], "storage_order": 1}, opset=12, n_out=2)


def test_global_pools():
    x = _rand(np.random.default_rng(4), [2, 3, 4, 5])
    for op in ("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"):
        check(op, [x], opset=18)


# ----------------------------------------------------------------------------------------- Normalization


def test_batch_norm_instance_norm_lrn():
    rng = np.random.default_rng(5)
    x = _rand(rng, [2, 4, 5, 3])
    s, b, m = _rand(rng, [4]), _rand(rng, [4]), _rand(rng, [4])
    v = np.abs(_rand(rng, [4])) + 0.1
    check("BatchNormalization", [x, s, b, m, v], {"epsilon": 1e-3}, opset=15)
    check("InstanceNormalization", [x, s, b], opset=18)
    check("LRN", [x], {"size": 3, "alpha": 0.01, "beta": 0.6, "bias": 2.0}, opset=18)
    check("MeanVarianceNormalization", [x], opset=18, rtol=1e-3)


@FAST
@given(st.integers(1, 4), st.integers(-3, 2), st.booleans(), st.integers(0, 2**16))
def test_layer_norm_matches_onnxruntime(extra, axis, with_bias, seed):
    rng = np.random.default_rng(seed)
    shape = [2, 3, extra + 1]
    x = _rand(rng, shape, scale=3.0) + 5.0
    ax = axis % len(shape)
    scale = _rand(rng, shape[ax:])
    inputs = [x, scale] + ([_rand(rng, shape[ax:])] if with_bias else [])
    check("LayerNormalization", inputs, {"axis": axis}, opset=17, n_out=3, rtol=1e-4, atol=1e-4)


def test_group_norm_opset21_per_channel():
    rng = np.random.default_rng(6)
    x = _rand(rng, [2, 6, 3, 3])
    check("GroupNormalization", [x, _rand(rng, [6]), _rand(rng, [6])], {"num_groups": 3}, opset=21,
          atol=1e-4)


def test_lp_normalization():
    x = _rand(np.random.default_rng(7), [3, 4, 5])
    for p in (1, 2):
        check("LpNormalization", [x], {"axis": 1, "p": p}, opset=18)


# --------------------------------------------------------------------------------------- Softmax family


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax", "Hardmax"])
@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_family(op, opset, axis):
    # large magnitudes: an unstable softmax overflows to inf/nan here
    x = _rand(np.random.default_rng(8), [3, 4, 5], scale=400.0)
    check(op, [x], {"axis": axis}, opset=opset)


def test_softmax_float64_and_float16():
    rng = np.random.default_rng(9)
    check("Softmax", [_rand(rng, [4, 7], np.float64, 50.0)], opset=13, rtol=1e-10)
    check("LogSoftmax", [_rand(rng, [4, 7], np.float16, 5.0)], opset=13, rtol=2e-3, atol=2e-3)


# ---------------------------------------------------------------------------------------------- Resize

COORD_MODES = ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric"]


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("coord", COORD_MODES)
@pytest.mark.parametrize("scales", [[1.0, 1.0, 1.7, 0.6], [1.0, 1.0, 0.5, 2.25]])
def test_resize_scales(mode, coord, scales):
    if coord == "align_corners":
        # where scale * length is not whole, the ONNX spec/reference (which RONN follows, and the conformance
        # tests check) and onnxruntime disagree on length_resized; compare only where both agree
        scales = [1.0, 1.0, 1.5, 0.75]
    x = _rand(np.random.default_rng(10), [1, 2, 6, 8])
    attrs = {"mode": mode, "coordinate_transformation_mode": coord}
    check("Resize", [x, None, np.array(scales, dtype=np.float32)], attrs, opset=19)


@pytest.mark.parametrize("nearest_mode", ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"])
def test_resize_sizes_nearest_modes(nearest_mode):
    x = _rand(np.random.default_rng(11), [1, 1, 5, 7])
    sizes = np.array([1, 1, 9, 4], dtype=np.int64)
    check("Resize", [x, None, None, sizes], {"mode": "nearest", "nearest_mode": nearest_mode,
                                             "coordinate_transformation_mode": "asymmetric"}, opset=19)


@pytest.mark.parametrize("policy", ["not_larger", "not_smaller"])
def test_resize_axes_keep_aspect(policy):
    x = _rand(np.random.default_rng(12), [1, 2, 6, 8])
    sizes = np.array([9, 5], dtype=np.int64)
    check("Resize", [x, None, None, sizes], {"mode": "linear", "axes": [2, 3],
                                             "keep_aspect_ratio_policy": policy}, opset=19)


def test_resize_crop_and_resize_and_antialias():
    x = _rand(np.random.default_rng(13), [1, 1, 8, 8])
    roi = np.array([0, 0, 0.2, 0.3, 1, 1, 0.9, 1.2], dtype=np.float32)
    check("Resize", [x, roi, None, np.array([1, 1, 5, 6], dtype=np.int64)],
          {"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize",
           "extrapolation_value": 7.0}, opset=19)
    check("Resize", [x, None, np.array([1, 1, 0.5, 0.4], dtype=np.float32)],
          {"mode": "linear", "antialias": 1}, opset=19)


# ---------------------------------------------------------------------------------- Rearrangement, etc.


def test_depth_space_rearrangements():
    x = _rand(np.random.default_rng(14), [2, 8, 3, 4])
    for mode in ("DCR", "CRD"):
        check("DepthToSpace", [x], {"blocksize": 2, "mode": mode}, opset=13)
    check("SpaceToDepth", [_rand(np.random.default_rng(15), [2, 3, 4, 6])], {"blocksize": 2}, opset=13)


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [0, 1])
def test_grid_sample(mode, padding_mode, align_corners):
    if mode == "cubic" and padding_mode == "border":
        pytest.skip("onnxruntime clamps the coordinate itself; RONN follows the ONNX reference (and PyTorch)")
    rng = np.random.default_rng(16)
    x = _rand(rng, [2, 3, 5, 6])
    grid = rng.uniform(-1.3, 1.3, size=(2, 4, 7, 2)).astype(np.float32)
    check("GridSample", [x, grid], {"mode": mode, "padding_mode": padding_mode,
                                    "align_corners": align_corners}, opset=20, rtol=1e-3, atol=1e-4)


def test_dropout_inference_is_identity():
    x = _rand(np.random.default_rng(17), [3, 4])
    check("Dropout", [x, np.array(0.3, dtype=np.float32)], opset=13, n_out=2)


# ------------------------------------------------------------------------------------------- Attention


@pytest.mark.parametrize("q_heads,kv_heads", [(4, 4), (4, 2)])
@pytest.mark.parametrize("is_causal", [0, 1])
@pytest.mark.parametrize("mask", [None, "bool", "float"])
def test_attention_4d(q_heads, kv_heads, is_causal, mask):
    rng = np.random.default_rng(18)
    q = _rand(rng, [2, q_heads, 5, 8])
    k = _rand(rng, [2, kv_heads, 7, 8])
    v = _rand(rng, [2, kv_heads, 7, 6])
    inputs = [q, k, v]
    if mask == "bool":
        m = rng.uniform(size=(5, 7)) > 0.3
        m[:, 0] = True
        inputs.append(m)
    elif mask == "float":
        inputs.append(_rand(rng, [2, 1, 5, 7]))
    check("Attention", inputs, {"is_causal": is_causal}, opset=23, rtol=1e-4, atol=1e-5)


def test_attention_3d_past_softcap_qk_output():
    rng = np.random.default_rng(19)
    q = _rand(rng, [2, 3, 4 * 8])
    k = _rand(rng, [2, 3, 2 * 8])
    v = _rand(rng, [2, 3, 2 * 8])
    past_k = _rand(rng, [2, 2, 4, 8])
    past_v = _rand(rng, [2, 2, 4, 8])
    mask = _rand(rng, [3, 7])
    for mode in (0, 1, 2, 3):
        attrs = {"q_num_heads": 4, "kv_num_heads": 2, "softcap": 2.5, "qk_matmul_output_mode": mode,
                 "scale": 0.3}
        check("Attention", [q, k, v, mask, past_k, past_v], attrs, opset=23, n_out=4, atol=1e-5)


def test_rotary_embedding():
    rng = np.random.default_rng(20)
    x = _rand(rng, [2, 3, 5, 8])
    cos = _rand(rng, [6, 3])
    sin = _rand(rng, [6, 3])
    pos = rng.integers(0, 6, size=(2, 5)).astype(np.int64)
    for interleaved in (0, 1):
        check("RotaryEmbedding", [x, cos, sin, pos], {"interleaved": interleaved, "rotary_embedding_dim": 6},
              opset=23)
