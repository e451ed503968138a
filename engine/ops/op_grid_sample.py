"""GridSample: sample X (N, C, *D) at normalized grid locations (last grid axis ordered x, y, z = innermost
spatial axis first) with nearest/linear/cubic interpolation and zeros/border/reflection padding, following
the ONNX reference (float32 coordinates, round-half-even for nearest); opset 16 names bilinear/bicubic."""

from __future__ import annotations

import itertools
import math

import numpy as np

from engine.ops.registry import register

_MODES = {
    "bilinear": "linear", "bicubic": "cubic", "linear": "linear", "cubic": "cubic", "nearest": "nearest",
}


def _reflect(x, lo, hi):
    rng = hi - lo
    below, above = x < lo, x > hi
    dx = np.where(below, lo - x, x - hi)
    n = np.trunc(dx / rng)
    r = dx - n * rng
    even = (n % 2) == 0
    res_below = np.where(even, lo + r, hi - r)
    res_above = np.where(even, hi - r, lo + r)
    return np.where(below, res_below, np.where(above, res_above, x))


def _cubic(t):
    a = -0.75
    t = np.abs(t)
    return [
        ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
        ((a + 2) * t - (a + 3)) * t * t + 1,
        ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
        ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a,
    ]


@register("GridSample", since=16)
def grid_sample(x, grid, *, align_corners: int = 0, mode: str = "linear",
                padding_mode: str = "zeros") -> tuple[np.ndarray]:
    if mode not in _MODES:
        raise ValueError(f"GridSample: unknown mode {mode!r}")
    mode = _MODES[mode]
    n, c = x.shape[:2]
    dims = list(x.shape[2:])
    nd = len(dims)
    out_sp = list(grid.shape[1:-1])
    if grid.shape[-1] != nd or grid.shape[0] != n:
        raise ValueError("GridSample: grid shape does not match X")
    p = math.prod(out_sp)
    g = grid.reshape(n, p, nd).astype(np.float32)
    f32 = np.float32
    coords, lo, hi = [], [], []
    for i, length in enumerate(dims):
        v = g[:, :, nd - 1 - i]
        if align_corners:
            xi = (v + f32(1)) / f32(2.0) * f32(length - 1)
            lo.append(0.0)
            hi.append(length - 1.0)
        else:
            xi = ((v + f32(1)) * f32(length) - f32(1)) / f32(2.0)
            lo.append(-0.5)
            hi.append(length - 0.5)
        if mode == "nearest":
            xi = np.rint(xi)
        out = (xi < lo[i]) | (xi > hi[i])
        if padding_mode == "border":
            xi = np.where(out, np.clip(xi, 0, length - 1), xi)
        elif padding_mode == "reflection":
            xi = np.where(out, _reflect(xi, f32(lo[i]), f32(hi[i])), xi).astype(np.float32)
        elif padding_mode != "zeros":
            raise ValueError(f"GridSample: unknown padding_mode {padding_mode!r}")
        coords.append(xi.astype(np.float32))

    ct = np.float64 if x.dtype == np.float64 else np.float32

    def taps(i):
        """Per-dim (indices, weights) lists for the interpolation taps."""
        xi = coords[i]
        if mode == "nearest":
            return [xi.astype(np.int64)], [np.ones(xi.shape, dtype=ct)]
        x0 = np.floor(xi)
        t = (xi - x0).astype(ct)
        x0 = x0.astype(np.int64)
        if mode == "linear":
            return [x0, x0 + 1], [1 - t, t]
        return [x0 - 1, x0, x0 + 1, x0 + 2], _cubic(t)

    def fix(idx, i):
        """Index into the input plus a validity mask, applying the padding mode to one tap."""
        length = dims[i]
        if padding_mode == "zeros":
            valid = (idx >= 0) & (idx < length)
            return np.clip(idx, 0, length - 1), valid
        if padding_mode == "border":
            return np.clip(idx, 0, length - 1), None
        r = _reflect(idx.astype(np.float64), lo[i], hi[i])
        return np.clip(np.trunc(r).astype(np.int64), 0, length - 1), None

    per_dim = [taps(i) for i in range(nd)]
    fixed = [[fix(idx, i) for idx in per_dim[i][0]] for i in range(nd)]
    xf = x.reshape(n, c, -1).astype(ct, copy=False)
    strides = [math.prod(dims[i + 1:]) for i in range(nd)]
    y = np.zeros((n, c, p), dtype=ct)
    for combo in itertools.product(*[range(len(per_dim[i][0])) for i in range(nd)]):
        flat = np.zeros((n, p), dtype=np.int64)
        w = np.ones((n, p), dtype=ct)
        for i, k in enumerate(combo):
            idx, valid = fixed[i][k]
            flat += idx * strides[i]
            w = w * per_dim[i][1][k]
            if valid is not None:
                w = np.where(valid, w, 0)
        vals = np.take_along_axis(xf, flat[:, None, :], axis=2)
        y += vals * w[:, None, :].astype(ct, copy=False)
    return (y.reshape(n, c, *out_sp).astype(x.dtype, copy=False),)
