"""The pre-packed GEMM (``_gemm_packed``) and the MatMul/FusedMatMul overrides built on it, against numpy
and the numpy reference kernels on random shapes (partial tiles, K blocks, bias, Relu, other activations)."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.kernels import _gemm_packed
from engine.kernels.threads import intra_op_threads
from engine.ops.registry import _OVERRIDES, lookup

RONN = "ai.ronn"


def _weight(rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    b = rng.standard_normal((k, n)).astype(np.float32)
    b.flags.writeable = False  # as the session leaves initializers
    return b


@settings(max_examples=40, deadline=None)
@given(st.integers(8, 40), st.integers(1, 60), st.integers(1, 100), st.booleans(),
       st.sampled_from([None, (0.0, np.inf), (-0.5, 1.5)]), st.integers(0, 99))
def test_packed_gemm_matches_numpy(m, k, n, bias, clamp, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = _weight(rng, k, n)
    c = rng.standard_normal(n).astype(np.float32) if bias else None
    want = a.astype(np.float64) @ b + (0.0 if c is None else c)
    if clamp is not None:
        want = np.clip(want, *clamp)
    got = _gemm_packed.matmul(a, b, c, clamp=clamp)
    assert got.dtype == np.float32 and got.shape == (m, n)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.sqrt(k))


@pytest.mark.parametrize("k", [_gemm_packed.KC, _gemm_packed.KC + 1, 2 * _gemm_packed.KC + 37])
def test_k_blocks_accumulate(k):
    rng = np.random.default_rng(k)
    a, b, c = rng.standard_normal((19, k)).astype(np.float32), _weight(rng, k, 45), np.ones(45, np.float32)
    got = _gemm_packed.matmul(a, b, c, clamp=(0.0, np.inf))
    np.testing.assert_allclose(got, np.maximum(a.astype(np.float64) @ b + 1.0, 0.0), rtol=1e-4, atol=1e-3)


def test_pack_is_cached_for_read_only_weights():
    b = _weight(np.random.default_rng(0), 8, 40)
    assert _gemm_packed.packed(b) is _gemm_packed.packed(b)
    panels = _gemm_packed.packed(b)
    assert panels.shape == (2, 8, 32) and panels.ctypes.data % 64 == 0
    assert not panels[1, :, 8:].any()  # zero-padded last panel
    assert not _gemm_packed.usable(np.zeros((8, 8), np.float32), b.copy())  # a writable B is not a weight


def _override(op, domain, opset, *inputs, **attrs):
    reference = lookup(op, domain, opset, reference=True)
    fast = _OVERRIDES[(reference.domain, op, reference.since)].fn
    with intra_op_threads(1):
        got = fast(*inputs, **attrs)
    assert got is not NotImplemented, f"the {op} override declined {attrs}"
    return got, reference.fn(*inputs, **attrs)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=0, max_size=2), st.integers(8, 30), st.integers(1, 40),
       st.integers(1, 70), st.sampled_from(["", "Relu", "Clip", "Gelu", "GeluTanh", "Sigmoid"]), st.booleans(),
       st.integers(0, 99))
def test_matmul_overrides_match_reference(lead, m, k, n, activation, bias, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((*lead, m, k)).astype(np.float32)
    b = _weight(rng, k, n)
    (got,), (want,) = _override("MatMul", "", 13, a, b)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.sqrt(k))
    c = rng.standard_normal(n).astype(np.float32) if bias else None
    params = [-0.5, 0.7] if activation == "Clip" else None
    (got,), (want,) = _override("FusedMatMul", RONN, 1, a, b, c, activation=activation, activation_params=params)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.sqrt(k))


def test_overrides_decline_what_they_do_not_handle():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((16, 8)).astype(np.float32), rng.standard_normal((8, 8)).astype(np.float32)
    fast = _OVERRIDES[("", "MatMul", 1)].fn
    with intra_op_threads(1):
        assert fast(a, b) is NotImplemented  # writable B: not a weight
        assert fast(a[:4], _weight(rng, 8, 8)) is NotImplemented  # fewer than 8 rows
        assert fast(a.astype(np.float64), _weight(rng, 8, 8)) is NotImplemented
    if numba.config.NUMBA_NUM_THREADS >= 2:
        with intra_op_threads(2):
            assert fast(a, _weight(rng, 8, 8)) is NotImplemented  # OpenBLAS's parallel GEMM runs instead


conv_case = st.fixed_dictionaries({
    "n": st.integers(1, 2), "c": st.integers(1, 40), "m": st.integers(8, 20), "h": st.integers(3, 16),
    "w": st.integers(3, 60), "k": st.sampled_from([1, 3, 5]), "stride": st.integers(1, 3),
    "dil": st.integers(1, 2), "pad": st.integers(0, 2), "bias": st.booleans(), "residual": st.booleans(),
    "act": st.sampled_from(["", "Relu", "Clip"]), "seed": st.integers(0, 99),
})


@settings(max_examples=40, deadline=None)
@given(conv_case)
def test_packed_conv_matches_reference(c):
    """Group-1 FusedConv at one thread through ``_conv_packed`` (im2col into panels, pixel blocks, row bias,
    residual prefill, Relu in the store, Clip after), ``_conv_implicit`` (wide stride-1: tap-shifted rows
    of the padded input through the row table) or ``_conv_pixels`` (pixel-major, packed weight), against the
    numpy reference."""
    from engine.kernels import _conv_packed

    rng = np.random.default_rng(c["seed"])
    span = (c["k"] - 1) * c["dil"] + 1
    if c["h"] + 2 * c["pad"] < span or c["w"] + 2 * c["pad"] < span:
        return
    x = rng.standard_normal((c["n"], c["c"], c["h"], c["w"])).astype(np.float32)
    w = rng.standard_normal((c["m"], c["c"], c["k"], c["k"])).astype(np.float32)
    b = rng.standard_normal(c["m"]).astype(np.float32) if c["bias"] else None
    attrs = {"strides": [c["stride"]] * 2, "dilations": [c["dil"]] * 2, "pads": [c["pad"]] * 4,
             "activation": c["act"], "activation_params": [0.0, 6.0] if c["act"] == "Clip" else None}
    oh = (c["h"] + 2 * c["pad"] - span) // c["stride"] + 1
    ow = (c["w"] + 2 * c["pad"] - span) // c["stride"] + 1
    z = [rng.standard_normal((c["n"], c["m"], oh, ow)).astype(np.float32)] if c["residual"] else []
    if z and c["act"] == "":
        attrs["activation"] = "Relu"
    import engine.kernels.ops_conv as ops_conv

    taken: list[str] = []
    real = {name: getattr(ops_conv, name) for name in ("conv_packed", "conv_implicit", "conv_pixels")}

    def spy(name):  # type: ignore[no-untyped-def]
        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            taken.append(name)
            return real[name](*args, **kwargs)
        return call

    block = _conv_packed.BLOCK_PIXELS
    try:
        _conv_packed.BLOCK_PIXELS = 32 * (1 + c["seed"] % 3)  # several pixel blocks even on small images
        for name in real:
            setattr(ops_conv, name, spy(name))
        (got,), (want,) = _override("FusedConv", RONN, 1, x, w, b, *z, **attrs)
    finally:
        _conv_packed.BLOCK_PIXELS = block
        for name, fn in real.items():
            setattr(ops_conv, name, fn)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.sqrt(c["c"] * c["k"] ** 2))
    taps = c["c"] * c["k"] ** 2
    pointwise = c["k"] == 1 and c["stride"] == 1 and c["pad"] == 0
    if taps <= ops_conv.DIRECT_MAX_TAPS and not (pointwise and c["c"] > 2):
        expected = []
    elif c["k"] > 1 and ow >= ops_conv.IMPLICIT_MIN_WIDTH:
        expected = ["conv_implicit"]
    elif taps < ops_conv.PACKED_MAX_TAPS:
        expected = ["conv_packed"]
    elif oh * ow <= ops_conv.PIXELS_MAX_PIXELS:
        expected = ["conv_pixels"]
    else:
        expected = []
    assert taken == expected


@pytest.mark.parametrize("dil,k", [(1, 3), (2, 3), (1, 5)])
def test_implicit_conv_shapes(dil, k):
    """The implicit GEMM on a wide image: M not a multiple of 8, dilation, residual + Relu, two images."""
    rng = np.random.default_rng(k + dil)
    x = rng.standard_normal((2, 5, 9, 31)).astype(np.float32)
    w = rng.standard_normal((13, 5, k, k)).astype(np.float32)
    w.flags.writeable = False
    b = rng.standard_normal(13).astype(np.float32)
    pad = dil * (k // 2)
    z = rng.standard_normal((2, 13, 9, 31)).astype(np.float32)
    attrs = {"pads": [pad] * 4, "dilations": [dil, dil], "activation": "Relu"}
    (got,), (want,) = _override("FusedConv", RONN, 1, x, w, b, z, **attrs)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.sqrt(5 * k * k))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 2), st.integers(1, 12), st.integers(1, 12), st.integers(1, 40), st.integers(1, 70),
       st.sampled_from([("", None), ("Relu", None), ("Clip", [0.0, 6.0]), ("HardSwish", None)]), st.booleans(),
       st.booleans(), st.integers(0, 99))
def test_packed_nhwc_pointwise_matches_reference(n, h, w, c, m, act, bias, weight, seed):
    """NhwcConv 1x1 from NHWC at one thread: X (HW, C) @ packed W^T (cached for a read-only W)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    wt = rng.standard_normal((m, c, 1, 1)).astype(np.float32)
    wt.flags.writeable = not weight
    b = rng.standard_normal(m).astype(np.float32) if bias else None
    attrs = {"activation": act[0]} | ({"activation_params": act[1]} if act[1] else {})
    (got,), (want,) = _override("NhwcConv", RONN, 1, x, wt, b, **attrs)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.sqrt(c))
