"""AffineGrid: sampling grid theta @ [x, y(, z), 1] over an evenly spaced [-1, 1] lattice of size H x W
(or D x H x W); ``align_corners`` puts -1/1 at corner pixel centers instead of their outer edges."""

from __future__ import annotations

import numpy as np

from engine.ops.registry import register


def _lin(n: int, align_corners: int, dtype) -> np.ndarray:
    if align_corners:
        return np.linspace(-1.0, 1.0, n, dtype=dtype) if n > 1 else np.zeros(n, dtype=dtype)  # torch: 0
    return ((2.0 * np.arange(n) + 1.0) / n - 1.0).astype(dtype)


@register("AffineGrid", since=20)
def affine_grid(theta: np.ndarray, size: np.ndarray, *, align_corners: int = 0) -> tuple[np.ndarray]:
    dims = [int(v) for v in np.asarray(size).reshape(-1)]
    spatial = dims[2:]
    if len(spatial) not in (2, 3):
        raise ValueError(f"AffineGrid: size must have 4 or 5 entries, got {dims}")
    ct = np.float32 if theta.dtype == np.float16 else theta.dtype
    # coordinates ordered (x, y[, z]) = reversed spatial axes
    axes = [_lin(n, align_corners, ct) for n in spatial]
    mesh = np.meshgrid(*axes, indexing="ij")  # each spatial-shaped, in (d,) h, w order
    base = np.stack([*mesh[::-1], np.ones(spatial, dtype=ct)], axis=-1)  # [..., k+1]
    flat = base.reshape(-1, base.shape[-1])
    grid = np.einsum("pk,njk->npj", flat, theta.astype(ct, copy=False))
    return (grid.reshape(theta.shape[0], *spatial, len(spatial)).astype(theta.dtype, copy=False),)
