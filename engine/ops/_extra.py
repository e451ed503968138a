"""Shared helpers of the family-E operators: the recurrent driver (RNN/GRU/LSTM) and its activations."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from engine.ops._elementwise import sigmoid

# name -> (function(x, alpha, beta), default alpha or None when unused, default beta or None when unused)
_ACTIVATIONS: dict[str, tuple[Callable, float | None, float | None]] = {
    "relu": (lambda x, a, b: np.maximum(x, 0), None, None),
    "tanh": (lambda x, a, b: np.tanh(x), None, None),
    "sigmoid": (lambda x, a, b: sigmoid(x), None, None),
    "affine": (lambda x, a, b: a * x + b, 1.0, 0.0),
    "leakyrelu": (lambda x, a, b: np.where(x >= 0, x, a * x), 0.01, None),
    "thresholdedrelu": (lambda x, a, b: np.where(x >= a, x, 0), 1.0, None),
    "scaledtanh": (lambda x, a, b: a * np.tanh(b * x), 1.0, 1.0),
    "hardsigmoid": (lambda x, a, b: np.clip(a * x + b, 0, 1), 0.2, 0.5),
    "elu": (lambda x, a, b: np.where(x >= 0, x, a * np.expm1(np.minimum(x, 0))), 1.0, None),
    "softsign": (lambda x, a, b: x / (1 + np.abs(x)), None, None),
    "softplus": (lambda x, a, b: np.logaddexp(x, 0), None, None),
}

Activation = Callable[[np.ndarray], np.ndarray]


def _bind(fn: Callable, a: float, b: float) -> Activation:
    """``fn`` with its alpha and beta fixed."""
    return lambda x: fn(x, a, b)


def activations(
    names: Sequence[str] | None,
    defaults: Sequence[str],
    num_directions: int,
    alphas: Sequence[float] | None,
    betas: Sequence[float] | None,
) -> list[list[Activation]]:
    """Per direction, the activation functions of a recurrent op. ``alphas``/``betas`` are consumed in order
    by the functions that take a parameter (as onnxruntime reads them); a list given for one direction only
    is reused for the other."""
    names = list(names) if names else list(defaults) * num_directions
    if len(names) == len(defaults) and num_directions == 2:
        names = names * 2
    if len(names) != len(defaults) * num_directions:
        raise ValueError(f"expected {len(defaults) * num_directions} activations, got {len(names)}")
    alpha_iter, beta_iter = iter(alphas or ()), iter(betas or ())
    funcs: list[Activation] = []
    for name in names:
        key = name.decode() if isinstance(name, bytes) else name
        try:
            fn, alpha, beta = _ACTIVATIONS[key.lower()]
        except KeyError:
            raise ValueError(f"unsupported activation {key!r}") from None
        a = float(next(alpha_iter, alpha)) if alpha is not None else 0.0
        b = float(next(beta_iter, beta)) if beta is not None else 0.0
        funcs.append(_bind(fn, a, b))
    k = len(defaults)
    return [funcs[d * k:(d + 1) * k] for d in range(num_directions)]


def clipper(clip: float | None) -> Activation:
    """Clipping of gate pre-activations to [-clip, clip] (identity when clip is not set)."""
    if clip is None:
        return lambda x: x
    c = float(clip)
    return lambda x: np.clip(x, -c, c)


# step(projected input [batch, G*H], states tuple, direction index) -> new states tuple (hidden state first)
Step = Callable[[np.ndarray, tuple[np.ndarray, ...], int], tuple[np.ndarray, ...]]


def run_recurrent(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    sequence_lens: np.ndarray | None,
    initial_states: Sequence[np.ndarray | None],
    *,
    direction: str,
    layout: int,
    hidden_size: int,
    step: Step,
) -> tuple[np.ndarray, ...]:
    """Drive a one-layer recurrent op over time: returns (Y, final states...) in the op's layout and dtype.

    ``w`` is [num_directions, G*H, input]; ``bias`` [num_directions, G*H] is added to the input projection,
    which is precomputed for all steps; ``initial_states`` each [num_directions, batch, H]
    (``layout`` 0) or [batch, num_directions, H] (``layout`` 1), None meaning zeros. Steps past a batch
    entry's sequence length leave its state unchanged and write zeros to Y; the reverse direction starts at
    each entry's last valid step."""
    dtype = x.dtype
    cdt = np.float32 if dtype == np.float16 else dtype
    if layout:
        x = x.swapaxes(0, 1)  # -> [seq, batch, input]
    seq, batch = x.shape[0], x.shape[1]
    x = x.astype(cdt, copy=False)
    num_dir = 2 if direction == "bidirectional" else 1
    if direction not in ("forward", "reverse", "bidirectional"):
        raise ValueError(f"unknown direction {direction!r}")
    lens = (np.full(batch, seq, dtype=np.int64) if sequence_lens is None
            else np.asarray(sequence_lens, dtype=np.int64).reshape(batch))
    t_idx = np.arange(seq)[:, None]
    valid = t_idx < lens  # [seq, batch]
    states0 = []
    for s in initial_states:
        if s is None:
            states0.append(np.zeros((num_dir, batch, hidden_size), dtype=cdt))
        else:
            s = s.astype(cdt, copy=False)
            states0.append(s.swapaxes(0, 1) if layout else s)
    y = np.zeros((seq, num_dir, batch, hidden_size), dtype=cdt)
    finals: list[list[np.ndarray]] = [[] for _ in initial_states]
    cols = np.arange(batch)
    for d in range(num_dir):
        reverse = direction == "reverse" or d == 1
        xw = x @ w[d].astype(cdt, copy=False).T  # [seq, batch, G*H]
        if bias is not None:
            xw += bias[d].astype(cdt, copy=False)
        src = None
        if reverse:
            src = np.where(valid, lens - 1 - t_idx, t_idx)  # per-entry time reversal (an involution)
            xw = xw[src, cols]
        states = tuple(s[d] for s in states0)
        yd = y[:, d]
        for t in range(int(lens.max(initial=0))):
            new = step(xw[t], states, d)
            m = valid[t][:, None]
            if m.all():
                states = new
                yd[t] = new[0]
            else:
                states = tuple(np.where(m, n, s) for n, s in zip(new, states, strict=True))
                yd[t] = np.where(m, new[0], 0)
        if reverse:
            y[:, d] = yd[src, cols]
        for f, s in zip(finals, states, strict=True):
            f.append(s)
    outs = [np.stack(f) for f in finals]  # each [num_dir, batch, H]
    if layout:
        y = y.transpose(2, 0, 1, 3)  # [batch, seq, num_dir, H]
        outs = [o.swapaxes(0, 1) for o in outs]
    return tuple(np.ascontiguousarray(a).astype(dtype, copy=False) for a in (y, *outs))
