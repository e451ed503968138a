"""DFT: discrete Fourier transform of a [..., n, 1|2] real/complex signal along an axis, optionally padded or
truncated to ``dft_length``, inverse, or one-sided (n // 2 + 1 bins; with inverse: one-sided spectrum to real
signal of length 2 * (bins - 1)); ``axis`` is an input from opset 20."""

from __future__ import annotations

import numpy as np

from engine.ops._reduce import dft as dft_impl
from engine.ops.registry import register


def _length(dft_length: np.ndarray | None) -> int | None:
    if dft_length is None or np.asarray(dft_length).size == 0:
        return None
    return int(np.asarray(dft_length).reshape(-1)[0])


@register("DFT", since=17)
def dft_17(
    input: np.ndarray,
    dft_length: np.ndarray | None = None,
    *,
    axis: int = 1,
    inverse: int = 0,
    onesided: int = 0,
) -> tuple[np.ndarray]:
    return (dft_impl(input, axis, _length(dft_length), inverse, onesided),)


@register("DFT", since=20)
def dft_20(
    input: np.ndarray,
    dft_length: np.ndarray | None = None,
    axis: np.ndarray | None = None,
    *,
    inverse: int = 0,
    onesided: int = 0,
) -> tuple[np.ndarray]:
    ax = -2 if axis is None else int(np.asarray(axis).reshape(-1)[0])
    return (dft_impl(input, ax, _length(dft_length), inverse, onesided),)
