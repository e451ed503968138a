"""The pre-packed GEMM (``_gemm_packed``) and the MatMul/FusedMatMul overrides built on it, against numpy
and the numpy reference kernels on random shapes (partial tiles, K blocks, bias, Relu, other activations)."""

from __future__ import annotations

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
@given(st.integers(8, 40), st.integers(1, 60), st.integers(1, 100), st.booleans(), st.booleans(),
       st.integers(0, 99))
def test_packed_gemm_matches_numpy(m, k, n, bias, relu, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = _weight(rng, k, n)
    c = rng.standard_normal(n).astype(np.float32) if bias else None
    want = a.astype(np.float64) @ b + (0.0 if c is None else c)
    if relu:
        want = np.maximum(want, 0.0)
    got = _gemm_packed.matmul(a, b, c, relu=relu)
    assert got.dtype == np.float32 and got.shape == (m, n)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.sqrt(k))


@pytest.mark.parametrize("k", [_gemm_packed.KC, _gemm_packed.KC + 1, 2 * _gemm_packed.KC + 37])
def test_k_blocks_accumulate(k):
    rng = np.random.default_rng(k)
    a, b, c = rng.standard_normal((19, k)).astype(np.float32), _weight(rng, k, 45), np.ones(45, np.float32)
    got = _gemm_packed.matmul(a, b, c, relu=True)
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
       st.integers(1, 70), st.sampled_from(["", "Relu", "Gelu", "Sigmoid"]), st.booleans(), st.integers(0, 99))
def test_matmul_overrides_match_reference(lead, m, k, n, activation, bias, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((*lead, m, k)).astype(np.float32)
    b = _weight(rng, k, n)
    (got,), (want,) = _override("MatMul", "", 13, a, b)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.sqrt(k))
    c = rng.standard_normal(n).astype(np.float32) if bias else None
    (got,), (want,) = _override("FusedMatMul", RONN, 1, a, b, c, activation=activation)
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
    with intra_op_threads(2):
        assert fast(a, _weight(rng, 8, 8)) is NotImplemented  # OpenBLAS's parallel GEMM runs instead
