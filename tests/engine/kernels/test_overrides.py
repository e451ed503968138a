"""Every numba override against its numpy reference (``lookup(..., reference=True)``) on random shapes.

Each case calls the override through ``lookup`` (so NotImplemented falls back, as in a session) and checks
that the override itself handled it, then compares dtype, shape and values with the reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.ops.registry import _OVERRIDES, lookup

FAST = settings(max_examples=25, deadline=None)
RONN = "ai.ronn"


def _both(op, domain, opset, *inputs, **attrs):
    fast = lookup(op, domain, opset)
    assert fast.override == "numba", f"{op} has no numba override"
    reference = lookup(op, domain, opset, reference=True)
    raw = _OVERRIDES[(reference.domain, op, reference.since)].fn(*inputs, **attrs)
    assert raw is not NotImplemented, f"the {op} override declined {attrs}"
    return raw, reference.fn(*inputs, **attrs)


def _assert_close(got, want, rtol=1e-4, atol=1e-5):
    assert len(got) >= 1
    for g, w in zip(got, want, strict=False):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol * max(1.0, float(np.abs(w).max(initial=0))))


def _rand(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


conv_case = st.fixed_dictionaries({
    "n": st.integers(1, 2), "group": st.sampled_from([1, 2, 3]), "cg": st.integers(1, 5),
    "mg": st.integers(1, 3), "h": st.integers(3, 12), "w": st.integers(3, 12),
    "kh": st.integers(1, 3), "kw": st.integers(1, 3), "stride": st.integers(1, 2),
    "dil": st.integers(1, 2), "pad": st.integers(0, 2), "bias": st.booleans(), "seed": st.integers(0, 99),
})


def _conv_inputs(c):
    rng = np.random.default_rng(c["seed"])
    x = _rand(rng, (c["n"], c["cg"] * c["group"], c["h"], c["w"]))
    w = _rand(rng, (c["mg"] * c["group"], c["cg"], c["kh"], c["kw"]))
    b = _rand(rng, (w.shape[0],)) if c["bias"] else None
    attrs = {"group": c["group"], "strides": [c["stride"]] * 2, "dilations": [c["dil"]] * 2,
             "pads": [c["pad"], c["pad"] // 2, c["pad"] // 2, c["pad"]]}
    assume((c["h"] + 1.5 * c["pad"] - (c["kh"] - 1) * c["dil"] - 1) >= 0)
    assume((c["w"] + 1.5 * c["pad"] - (c["kw"] - 1) * c["dil"] - 1) >= 0)
    return x, w, b, attrs


@FAST
@given(conv_case)
def test_conv(c):
    x, w, b, attrs = _conv_inputs(c)
    _assert_close(*_both("Conv", "", 17, x, w, b, **attrs))


@pytest.mark.parametrize("group", [1, 8])  # the im2col + BLAS path and the direct (depthwise) path
def test_conv_auto_pad_and_large(group):
    rng = np.random.default_rng(0)
    x, w = _rand(rng, (1, 8, 20, 17)), _rand(rng, (16, 8 // group, 3, 3))
    _assert_close(*_both("Conv", "", 17, x, w, group=group, auto_pad="SAME_UPPER", strides=[2, 2]))


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("threads", [1, 2])
def test_depthwise_and_pointwise_mobilenet_shapes(stride, threads):
    """The vectorized depthwise kernel (serial and parallel) and 1x1 convs with few channels (BLAS path)."""
    from engine.kernels.threads import intra_op_threads

    rng = np.random.default_rng(stride)
    x = _rand(rng, (2, 24, 29, 30))
    cases = [(_rand(rng, (24, 1, 3, 3)), 24, [1, 1, 1, 1]), (_rand(rng, (48, 1, 3, 3)), 24, [1, 0, 2, 1]),
             (_rand(rng, (40, 24, 1, 1)), 1, [0, 0, 0, 0]), (_rand(rng, (6, 4, 1, 1)), 6, [0, 0, 0, 0])]
    with intra_op_threads(threads):
        for w, group, pads in cases:
            b = _rand(rng, (w.shape[0],))
            attrs = {"group": group, "pads": pads, "strides": [stride, stride] if w.shape[2] == 3 else [1, 1]}
            _assert_close(*_both("FusedConv", RONN, 1, x, w, b, activation="Clip", activation_params=[0.0, 6.0],
                                 **attrs))
            _assert_close(*_both("Conv", "", 17, x, w, b, **attrs))


@FAST
@given(conv_case, st.sampled_from([("Relu", None), ("Clip", [0.0, 6.0]), ("HardSwish", None),
                                   ("LeakyRelu", [0.1]), ("Sigmoid", None), ("Tanh", None)]))
def test_fused_conv(c, act):
    x, w, b, attrs = _conv_inputs(c)
    _assert_close(*_both("FusedConv", RONN, 1, x, w, b, activation=act[0], activation_params=act[1], **attrs))


@FAST
@given(conv_case, st.sampled_from([("Relu", None), ("", None), ("Clip", [0.0, 6.0]), ("Sigmoid", None)]))
def test_fused_conv_residual(c, act):
    """FusedConv with the residual input Z (conv_residual_fusion): act(conv + b + z), on every conv path."""
    x, w, b, attrs = _conv_inputs(c)
    (y,) = lookup("Conv", "", 17, reference=True).fn(x, w, b, **attrs)
    z = _rand(np.random.default_rng(c["seed"] + 1), y.shape)
    _assert_close(*_both("FusedConv", RONN, 1, x, w, b, z, activation=act[0], activation_params=act[1], **attrs))


@pytest.mark.parametrize(("shape", "m", "k", "stride", "pads", "act"), [
    ((1, 3, 37, 41), 8, 7, 2, [3, 3, 3, 3], ("Relu", None)),  # ResNet stem-like: im2col through the split
    ((2, 6, 29, 29), 5, 3, 2, [1, 1, 1, 1], ("", None)),
    ((1, 4, 40, 31), 6, 3, 3, [2, 0, 1, 2], ("Relu", None)),
    ((1, 7, 14, 14), 9, 3, 1, [1, 1, 1, 1], ("Relu", None)),  # narrow: im2col at stride 1
    ((1, 5, 30, 30), 4, 1, 2, [0, 0, 0, 0], ("", None)),     # 1x1 stride 2 (downsample)
    ((1, 5, 30, 30), 4, 5, 2, [0, 2, 3, 1], ("Clip", [0.0, 6.0])),
])  # fmt: skip
@pytest.mark.parametrize("residual", [False, True])
def test_conv_im2col_strided(shape, m, k, stride, pads, act, residual):
    rng = np.random.default_rng(sum(shape) + k)
    x, w, b = _rand(rng, shape), _rand(rng, (m, shape[1], k, k)), _rand(rng, (m,))
    attrs = {"pads": pads, "strides": [stride, stride]}
    (y,) = lookup("Conv", "", 17, reference=True).fn(x, w, b, **attrs)
    z = [_rand(rng, y.shape)] if residual else []
    _assert_close(*_both("FusedConv", RONN, 1, x, w, b, *z, activation=act[0], activation_params=act[1], **attrs))
    _assert_close(*_both("Conv", "", 17, x, w, b, **attrs))


def test_fused_conv_residual_declines_broadcast():
    from engine.kernels.ops_conv import fused_conv

    rng = np.random.default_rng(0)
    x, w = _rand(rng, (1, 2, 6, 6)), _rand(rng, (3, 2, 3, 3))
    assert fused_conv(x, w, None, _rand(rng, (1, 3, 1, 1)), pads=[1, 1, 1, 1]) is NotImplemented
    (y,) = lookup("FusedConv", RONN, 1).fn(x, w, None, _rand(rng, (1, 3, 1, 1)), pads=[1, 1, 1, 1])
    assert y.shape == (1, 3, 6, 6)


def test_conv_declines_what_it_does_not_handle():
    rng = np.random.default_rng(0)
    x1, w1 = _rand(rng, (1, 2, 9)), _rand(rng, (3, 2, 3))  # 1-D
    spec = lookup("Conv", "", 17)
    np.testing.assert_allclose(spec.fn(x1, w1)[0], lookup("Conv", "", 17, reference=True).fn(x1, w1)[0])
    assert _OVERRIDES[("", "Conv", 1)].fn(x1, w1) is NotImplemented
    x64 = rng.standard_normal((1, 2, 5, 5))
    assert _OVERRIDES[("", "Conv", 1)].fn(x64, x64[:, :, :3, :3]) is NotImplemented


pool_case = st.fixed_dictionaries({
    "n": st.integers(1, 2), "c": st.integers(1, 3), "h": st.integers(4, 12), "w": st.integers(4, 12),
    "kh": st.integers(1, 3), "kw": st.integers(1, 3), "sh": st.integers(1, 3), "sw": st.integers(1, 3),
    "dil": st.integers(1, 2), "pad": st.integers(0, 1), "ceil": st.integers(0, 1),
    "include": st.integers(0, 1), "auto": st.sampled_from(["NOTSET", "NOTSET", "SAME_UPPER", "VALID"]),
    "seed": st.integers(0, 99),
})


def _pool_attrs(c):
    assume((c["kh"] - 1) * c["dil"] < c["h"] and (c["kw"] - 1) * c["dil"] < c["w"])
    attrs = {"kernel_shape": [c["kh"], c["kw"]], "strides": [c["sh"], c["sw"]], "ceil_mode": c["ceil"],
             "dilations": [c["dil"]] * 2, "auto_pad": c["auto"]}
    if c["auto"] == "NOTSET":
        assume(c["pad"] < min(c["kh"], c["kw"]))
        attrs["pads"] = [c["pad"]] * 4
    x = _rand(np.random.default_rng(c["seed"]), (c["n"], c["c"], c["h"], c["w"]))
    return x, attrs


@FAST
@given(pool_case)
def test_max_pool(c):
    x, attrs = _pool_attrs(c)
    _assert_close(*_both("MaxPool", "", 12, x, **attrs))


@FAST
@given(pool_case)
def test_average_pool(c):
    x, attrs = _pool_attrs(c)
    _assert_close(*_both("AveragePool", "", 19, x, count_include_pad=c["include"], **attrs))


def test_max_pool_with_indices_falls_back():
    x = _rand(np.random.default_rng(0), (1, 2, 6, 6))
    spec = lookup("MaxPool", "", 12)
    y, idx = spec.fn(x, kernel_shape=[2, 2], _num_outputs=2)
    ref = lookup("MaxPool", "", 12, reference=True).fn(x, kernel_shape=[2, 2], _num_outputs=2)
    np.testing.assert_array_equal(idx, ref[1])


@FAST
@given(st.lists(st.integers(1, 40), min_size=1, max_size=3), st.booleans(), st.integers(0, 99))
def test_layer_normalization(shape, bias, seed):
    rng = np.random.default_rng(seed)
    x = _rand(rng, shape) * 3 + 1
    scale, b = _rand(rng, shape[-1:]), (_rand(rng, shape[-1:]) if bias else None)
    for domain, opset in (("", 17), (RONN, 1)):
        _assert_close(*_both("LayerNormalization", domain, opset, x, scale, b, epsilon=1e-5))


@FAST
@given(st.lists(st.integers(1, 50), min_size=0, max_size=3), st.integers(0, 99))
def test_erf_and_gelu(shape, seed):
    x = _rand(np.random.default_rng(seed), shape) * 3
    _assert_close(*_both("Erf", "", 13, x), rtol=1e-5, atol=1e-6)
    _assert_close(*_both("Gelu", "", 20, x), rtol=1e-5, atol=1e-6)
    _assert_close(*_both("Gelu", RONN, 1, x), rtol=1e-5, atol=1e-6)
    _assert_close(*_both("Gelu", "", 20, x, approximate="tanh"), rtol=1e-5, atol=1e-6)


def test_erf_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 10.0, -10.0, 1e-30], dtype=np.float32)
    got, want = _both("Erf", "", 13, x)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6, atol=0)


@pytest.mark.parametrize("op", ["FusedMatMul", "FusedGemm"])
@pytest.mark.parametrize("activation", ["Gelu", "GeluTanh"])
def test_fused_gelu_epilogue(op, activation):
    rng = np.random.default_rng(0)
    a, b, c = _rand(rng, (2, 5, 8) if op == "FusedMatMul" else (5, 8)), _rand(rng, (8, 6)), _rand(rng, (6,))
    _assert_close(*_both(op, RONN, 1, a, b, c, activation=activation), rtol=1e-5, atol=1e-6)
    assert _OVERRIDES[(RONN, op, 1)].fn(a, b, c, activation="Relu") is NotImplemented


@FAST
@given(st.lists(st.integers(1, 70), min_size=1, max_size=4), st.floats(0.1, 30.0), st.integers(0, 99))
def test_softmax(shape, spread, seed):
    x = _rand(np.random.default_rng(seed), shape) * np.float32(spread)
    _assert_close(*_both("Softmax", "", 13, x), rtol=1e-5, atol=1e-7)
    assert _OVERRIDES[("", "Softmax", 13)].fn(x.astype(np.float64)) is NotImplemented


def test_softmax_extreme_values():
    lo = np.finfo(np.float32).min
    x = np.array([[0.0, lo, lo, 3.0], [lo, lo, lo, lo], [-np.inf, 0.0, 1.0, -np.inf], [80.0, -80.0, 0.0, 87.0]],
                 dtype=np.float32)  # fmt: skip
    got, want = _both("Softmax", "", 13, x)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("mask_mode", ["none", "add", "where", "where_inverted"])
@pytest.mark.parametrize("seed", [0, 1])
def test_fused_attention(mask_mode, seed):
    rng = np.random.default_rng(seed)
    b, h, s, d = 2, 3, 9 + seed * 20, 8
    q, kt, v = _rand(rng, (b, h, s, d)), _rand(rng, (b, h, d, s)), _rand(rng, (b, h, s, d))
    mask = fill = None
    if mask_mode == "add":
        mask = np.where(rng.random((b, 1, 1, s)) < 0.3, np.finfo(np.float32).min, 0).astype(np.float32)
    elif mask_mode != "none":
        mask = np.tril(np.ones((s, s), dtype=bool))
        fill = np.array(np.finfo(np.float32).min, dtype=np.float32)
    _assert_close(*_both("FusedAttention", RONN, 1, q, kt, v, mask, fill, scale=0.35, mask_mode=mask_mode),
                  rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("shape", "k", "pads", "dil", "bias", "act"), [
    ((1, 8, 30, 26), 3, [1, 1, 1, 1], 1, True, ("Relu", None)),
    ((2, 5, 27, 33), 3, [0, 2, 1, 0], 1, False, ("", None)),
    ((1, 6, 31, 29), 3, [2, 2, 2, 2], 2, True, ("Clip", [0.0, 6.0])),
    ((1, 4, 25, 40), 5, [2, 1, 2, 3], 1, True, ("Sigmoid", None)),
    ((1, 3, 24, 30), 1, [1, 1, 1, 1], 1, True, ("", None)),  # 1x1 with pads: im2col path, not shifted
])  # fmt: skip
def test_conv_shifted_gemm_path(shape, k, pads, dil, bias, act):
    """Wide stride-1 convolutions (OW >= SHIFTED_MIN_WIDTH) take the im2col-free shifted-GEMM path."""
    from engine.kernels import ops_conv

    rng = np.random.default_rng(sum(shape))
    x, w = _rand(rng, shape), _rand(rng, (7, shape[1], k, k))
    b = _rand(rng, (7,)) if bias else None
    attrs = {"pads": pads, "dilations": [dil, dil], "strides": [1, 1]}
    w.flags.writeable = False  # as initializers are: the packed taps are cached
    for _ in range(2):
        _assert_close(*_both("FusedConv", RONN, 1, x, w, b, activation=act[0], activation_params=act[1], **attrs))
        _assert_close(*_both("Conv", "", 17, x, w, b, **attrs))
        (y,) = lookup("Conv", "", 17, reference=True).fn(x, w, b, **attrs)
        z = _rand(rng, y.shape)  # the residual input rides the strip epilogue
        _assert_close(*_both("FusedConv", RONN, 1, x, w, b, z, activation=act[0], activation_params=act[1],
                             **attrs))
    if k > 1:
        assert ops_conv._sgemm() is not None and any(v[0] is w for v in ops_conv._packed.values())


nhwc_case = st.fixed_dictionaries({
    "kind": st.sampled_from(["depthwise", "pointwise", "general"]), "nchw_input": st.sampled_from([0, 1]),
    "n": st.integers(1, 2), "c": st.integers(1, 37), "m": st.integers(1, 9), "h": st.integers(3, 12),
    "w": st.integers(3, 12), "k": st.integers(1, 5), "stride": st.integers(1, 2), "dil": st.integers(1, 2),
    "pad": st.integers(0, 2), "bias": st.booleans(), "seed": st.integers(0, 99),
    "act": st.sampled_from([("", None), ("Relu", None), ("Clip", [0.0, 6.0]), ("HardSwish", None)]),
})


@FAST
@given(nhwc_case)
def test_nhwc_conv(c):
    """NhwcConv (channels-last): depthwise with any geometry, 1x1 from NHWC, any group-1 conv from NCHW."""
    rng = np.random.default_rng(c["seed"])
    kind, nchw_input = c["kind"], c["nchw_input"]
    if kind == "pointwise":
        k, stride, dil, pad = 1, 1, 1, 0
    else:
        k, stride, dil, pad = c["k"], c["stride"], c["dil"], c["pad"]
    if kind == "general":
        nchw_input = 1
    assume(c["h"] + pad - (k - 1) * dil - 1 >= 0 and c["w"] + pad - (k - 1) * dil - 1 >= 0)
    cin, m, group = c["c"], (c["c"] if kind == "depthwise" else c["m"]), (c["c"] if kind == "depthwise" else 1)
    x = _rand(rng, (c["n"], cin, c["h"], c["w"]) if nchw_input else (c["n"], c["h"], c["w"], cin))
    w = _rand(rng, (m, cin // group, k, k))
    b = _rand(rng, (m,)) if c["bias"] else None
    attrs = {"group": group, "strides": [stride] * 2, "dilations": [dil] * 2, "pads": [pad, pad // 2, pad // 2, pad],
             "nchw_input": nchw_input, "activation": c["act"][0]}
    if c["act"][1] is not None:
        attrs["activation_params"] = c["act"][1]
    _assert_close(*_both("NhwcConv", RONN, 1, x, w, b, **attrs))


def test_nhwc_conv_declines_group1_kxk_from_nhwc():
    fast = lookup("NhwcConv", RONN, 1)
    raw = _OVERRIDES[(RONN, "NhwcConv", fast.since)].fn
    x, w = np.ones((1, 5, 5, 2), np.float32), np.ones((3, 2, 3, 3), np.float32)
    assert raw(x, w, pads=[1, 1, 1, 1]) is NotImplemented
    np.testing.assert_allclose(fast.fn(x, w, pads=[1, 1, 1, 1])[0],
                               lookup("NhwcConv", RONN, 1, reference=True).fn(x, w, pads=[1, 1, 1, 1])[0])


dw_nhwc_case = st.fixed_dictionaries({
    "n": st.integers(1, 2), "c": st.sampled_from([1, 15, 16, 32, 40, 144]), "h": st.integers(1, 20),
    "w": st.integers(1, 20), "kh": st.integers(1, 4), "kw": st.integers(1, 4), "sh": st.integers(1, 3),
    "sw": st.integers(1, 3), "dh": st.integers(1, 2), "dw": st.integers(1, 2),
    "pads": st.lists(st.integers(0, 2), min_size=4, max_size=4), "bias": st.booleans(), "seed": st.integers(0, 99),
    "act": st.sampled_from([("", None), ("Relu", None), ("Clip", [0.0, 6.0]), ("HardSwish", None)]),
})


@FAST
@given(dw_nhwc_case)
def test_nhwc_depthwise_in_place(c):
    """The in-place NHWC depthwise kernel: interior tiles and border pixels, any kernel size, stride,
    dilation and asymmetric pads, channel counts on and off the 16-lane blocks."""
    rng = np.random.default_rng(c["seed"])
    pt, pl, pb, pr = c["pads"]
    assume(c["h"] + pt + pb - (c["kh"] - 1) * c["dh"] - 1 >= 0 and c["w"] + pl + pr - (c["kw"] - 1) * c["dw"] - 1 >= 0)
    ch = c["c"]
    x = _rand(rng, (c["n"], c["h"], c["w"], ch))
    w = _rand(rng, (ch, 1, c["kh"], c["kw"]))
    b = _rand(rng, (ch,)) if c["bias"] else None
    attrs = {"group": ch, "strides": [c["sh"], c["sw"]], "dilations": [c["dh"], c["dw"]], "pads": [pt, pl, pb, pr],
             "activation": c["act"][0]}
    if c["act"][1] is not None:
        attrs["activation_params"] = c["act"][1]
    _assert_close(*_both("NhwcConv", RONN, 1, x, w, b, **attrs))


@pytest.mark.parametrize("shape,attrs", [
    ((1, 64, 112, 112), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ((2, 5, 33, 31), {"kernel_shape": [3, 2], "strides": [3, 2], "pads": [1, 0, 2, 1], "ceil_mode": 1}),
    ((1, 3, 30, 29), {"kernel_shape": [2, 3], "strides": [1, 3], "dilations": [2, 2], "auto_pad": "SAME_LOWER"}),
])
@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_pool_large_planes_and_phases(shape, attrs, op):
    """Pooling over column phases (stride > 1) on large planes, asymmetric pads and ceil_mode included."""
    x = _rand(np.random.default_rng(0), shape)
    extra = {"count_include_pad": 1} if op == "AveragePool" and "pads" in attrs else {}
    _assert_close(*_both(op, "", 12 if op == "MaxPool" else 19, x, **attrs, **extra))
