"""RNN: one-layer simple recurrent network Ht = f(Xt Wi^T + Ht-1 Ri^T + Wbi + Rbi), all directions, layouts,
sequence lengths (zeros past the end, reverse starting at each entry's last step), activations and clip."""

from __future__ import annotations

import numpy as np

from engine.ops._extra import activations as activation_funcs
from engine.ops._extra import clipper, run_recurrent
from engine.ops.registry import register


@register("RNN", since=7)
def rnn(
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
) -> tuple[np.ndarray, ...]:
    num_dir = w.shape[0]
    hidden = r.shape[-1]
    funcs = activation_funcs(activations, ["Tanh"], num_dir, activation_alpha, activation_beta)
    cut = clipper(clip)
    cdt = np.float32 if x.dtype == np.float16 else x.dtype
    rt = [r[d].astype(cdt, copy=False).T for d in range(num_dir)]
    bias = None if b is None else b[:, :hidden] + b[:, hidden:]

    def step(xw, states, d):
        (h,) = states
        return (funcs[d][0](cut(xw + h @ rt[d])),)

    return run_recurrent(x, w, bias, sequence_lens, [initial_h], direction=direction, layout=layout,
                         hidden_size=hidden, step=step)
