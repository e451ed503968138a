"""LSTM: one-layer long short-term memory (gates i, o, f, c), all directions, layouts, sequence lengths,
activations, clip, peepholes P (i and f see Ct-1, o sees Ct) and ``input_forget`` (ft = 1 - it)."""

from __future__ import annotations

import numpy as np

from engine.ops._extra import activations as activation_funcs
from engine.ops._extra import clipper, run_recurrent
from engine.ops.registry import register


@register("LSTM", since=7)
def lstm(
    x: np.ndarray,
    w: np.ndarray,
    r: np.ndarray,
    b: np.ndarray | None = None,
    sequence_lens: np.ndarray | None = None,
    initial_h: np.ndarray | None = None,
    initial_c: np.ndarray | None = None,
    p: np.ndarray | None = None,
    *,
    activation_alpha: list[float] | None = None,
    activation_beta: list[float] | None = None,
    activations: list[str] | None = None,
    clip: float | None = None,
    direction: str = "forward",
    hidden_size: int | None = None,
    input_forget: int = 0,
    layout: int = 0,
) -> tuple[np.ndarray, ...]:
    num_dir = w.shape[0]
    hs = r.shape[-1]
    funcs = activation_funcs(activations, ["Sigmoid", "Tanh", "Tanh"], num_dir, activation_alpha,
                             activation_beta)
    cut = clipper(clip)
    cdt = np.float32 if x.dtype == np.float16 else x.dtype
    rt = [r[d].astype(cdt, copy=False).T for d in range(num_dir)]
    bias = None if b is None else b[:, :4 * hs] + b[:, 4 * hs:]
    peep = None if p is None else p.astype(cdt, copy=False)

    def step(xw, states, d):
        h, c = states
        f, g, hact = funcs[d]
        gates = xw + h @ rt[d]
        gi, go, gf, gc = (gates[:, k * hs:(k + 1) * hs] for k in range(4))
        if peep is not None:
            gi = gi + peep[d, :hs] * c
            gf = gf + peep[d, 2 * hs:] * c
        i = f(cut(gi))
        fg = 1 - i if input_forget else f(cut(gf))
        c_new = fg * c + i * g(cut(gc))
        if peep is not None:
            go = go + peep[d, hs:2 * hs] * c_new
        return (f(cut(go)) * hact(c_new), c_new)

    y, y_h, y_c = run_recurrent(x, w, bias, sequence_lens, [initial_h, initial_c], direction=direction,
                                layout=layout, hidden_size=hs, step=step)
    return y, y_h, y_c
