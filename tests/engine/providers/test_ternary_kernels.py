"""The packed ternary/binary kernels against the plain numpy reference of the same arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.kernels import _numba, ternary

shapes = st.tuples(st.integers(1, 6), st.integers(1, 70), st.integers(1, 150))  # (M, N, K)


def _layer(seed: int, m: int, n: int, k: int, bits: int):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((n, k)).astype(np.float32)
    x = (rng.standard_normal((m, k)) * rng.uniform(0.01, 100)).astype(np.float32)
    codes, scale = ternary.quantize_weights(w, bits)
    return x, codes, scale, rng.standard_normal(n).astype(np.float32)


@settings(max_examples=60, deadline=None)
@given(shapes, st.sampled_from([1, 2]), st.booleans(), st.booleans(), st.integers(0, 2**32 - 1))
def test_kernels_equal_reference(shape, bits, parallel, with_bias, seed) -> None:
    m, n, k = shape
    x, codes, scale, bias = _layer(seed, m, n, k, bits)
    packed = ternary.pack(codes, bits)
    b = bias if with_bias else None
    expected = ternary.reference_matmul(x, packed, scale, k, bits, b)
    got = ternary.matmul(x, packed, scale, k, bits, b, parallel=parallel)
    np.testing.assert_array_equal(got, expected)  # same integer sums, same float32 epilogue: bit for bit


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 200), st.sampled_from([1, 2]), st.integers(0, 2**32 - 1))
def test_pack_round_trip_and_size(n, k, bits, seed) -> None:
    rng = np.random.default_rng(seed)
    values = [-1, 1] if bits == 1 else [-1, 0, 1]
    codes = rng.choice(values, size=(n, k)).astype(np.int8)
    packed = ternary.pack(codes, bits)
    assert packed.dtype == np.uint8
    assert packed.shape == (n, -(-k // ternary.PER_BYTE[bits]))
    np.testing.assert_array_equal(ternary.unpack(packed, k, bits), codes)


@settings(max_examples=30, deadline=None)
@given(shapes, st.sampled_from([1, 2]), st.integers(0, 2**32 - 1))
def test_reference_is_the_dequantized_product(shape, bits, seed) -> None:
    # Independent of the packing: (int8 x * its scale) @ (codes * absmean scale).T in float64.
    m, n, k = shape
    x, codes, scale, _ = _layer(seed, m, n, k, bits)
    q, sx = ternary.quantize_activations(x)
    expected = (q * sx[:, None].astype(np.float64)) @ (codes * scale[:, None].astype(np.float64)).T
    got = ternary.reference_matmul(x, ternary.pack(codes, bits), scale, k, bits)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max(initial=1))


def test_weight_quantization_is_absmean_b158() -> None:
    w = np.array([[0.1, -2.0, 0.9, 0.0], [0.0, 0.0, 0.0, 0.0]], np.float32)
    codes, scale = ternary.quantize_weights(w, 2)
    np.testing.assert_allclose(scale, [0.75, 0.0])
    np.testing.assert_array_equal(codes, [[0, -1, 1, 0], [0, 0, 0, 0]])
    codes, _ = ternary.quantize_weights(w, 1)
    np.testing.assert_array_equal(codes, [[1, -1, 1, 1], [1, 1, 1, 1]])
    with pytest.raises(ValueError, match="bits"):
        ternary.quantize_weights(w, 3)


def test_activation_quantization_edge_rows() -> None:
    x = np.array([[0, 0, 0], [1, -2, 0.5]], np.float32)
    q, s = ternary.quantize_activations(x)
    np.testing.assert_array_equal(q, [[0, 0, 0], [64, -127, 32]])
    np.testing.assert_allclose(s, [0, 2 / 127])
    packed = ternary.pack(np.ones((3, 3), np.int8))
    np.testing.assert_array_equal(ternary.matmul(x, packed, np.ones(3, np.float32), 3),
                                  ternary.reference_matmul(x, packed, np.ones(3, np.float32), 3))


def test_matmul_rejects_wrong_width() -> None:
    packed = ternary.pack(np.ones((2, 8), np.int8))
    with pytest.raises(ValueError, match="8 features"):
        ternary.matmul(np.ones((1, 7), np.float32), packed, np.ones(2, np.float32), 8)


def test_cache_dir_choice(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    assert _numba.choose_cache_dir() == str(tmp_path / "numba")
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(blocked / "x"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked / "y"))
    assert _numba.choose_cache_dir() is None
