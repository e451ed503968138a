"""GRU: one-layer gated recurrent unit (gates z, r, h), all directions, layouts, sequence lengths,
activations, clip and ``linear_before_reset`` (which applies r after the recurrent projection
and keeps Rbh inside it)."""

from __future__ import annotations

import numpy as np

from engine.ops._extra import activations as activation_funcs
from engine.ops._extra import clipper, run_recurrent
from engine.ops.registry import register


@register("GRU", since=7)
def gru(
    x: np.ndarray,
    w: np.ndarray,
    r: np.ndarray,
    b: np.ndarray | None = None,
    sequence_lens: np.ndarray | None = None,
    initial_h: np.ndarray | None = None,
    *,
    activation_alpha: list[float] | None = None,
    activation_beta: list[float] | None = None,
    activations: list[str] | None = None,
    clip: float | None = None,
    direction: str = "forward",
    hidden_size: int | None = None,
    layout: int = 0,
    linear_before_reset: int = 0,
) -> tuple[np.ndarray, ...]:
    num_dir = w.shape[0]
    hs = r.shape[-1]
    funcs = activation_funcs(activations, ["Sigmoid", "Tanh"], num_dir, activation_alpha, activation_beta)
    cut = clipper(clip)
    cdt = np.float32 if x.dtype == np.float16 else x.dtype
    r = r.astype(cdt, copy=False)
    r_zr = [r[d, :2 * hs].T for d in range(num_dir)]
    r_h = [r[d, 2 * hs:].T for d in range(num_dir)]
    if b is None:
        bias = None
        rb_h = np.zeros((num_dir, hs), dtype=cdt)
    else:
        b = b.astype(cdt, copy=False)
        wb, rb = b[:, :3 * hs], b[:, 3 * hs:]
        bias = wb + np.concatenate([rb[:, :2 * hs], np.zeros_like(rb[:, 2 * hs:])], axis=1)
        rb_h = rb[:, 2 * hs:]

    def step(xw, states, d):
        (h,) = states
        f, g = funcs[d]
        zr = f(cut(xw[:, :2 * hs] + h @ r_zr[d]))
        z, rg = zr[:, :hs], zr[:, hs:]
        if linear_before_reset:
            cand = g(cut(xw[:, 2 * hs:] + rg * (h @ r_h[d] + rb_h[d])))
        else:
            cand = g(cut(xw[:, 2 * hs:] + (rg * h) @ r_h[d] + rb_h[d]))
        return ((1 - z) * cand + z * h,)

    return run_recurrent(x, w, bias, sequence_lens, [initial_h], direction=direction, layout=layout,
                         hidden_size=hs, step=step)
