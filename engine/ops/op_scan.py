"""Scan (opset 9+): iterate ``body`` over slices of the scan inputs, threading state; stack scan outputs."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.ops.registry import register


@register("Scan", since=9)  # opset 8 form below
def scan(
    *inputs: np.ndarray,
    body: Any,
    num_scan_inputs: int,
    scan_input_axes: list[int] | None = None,
    scan_input_directions: list[int] | None = None,
    scan_output_axes: list[int] | None = None,
    scan_output_directions: list[int] | None = None,
    _scope: dict | None = None,
) -> tuple:
    n_state = len(inputs) - num_scan_inputs
    states = list(inputs[:n_state])
    xs = inputs[n_state:]
    in_axes = [a % x.ndim for a, x in zip(scan_input_axes or [0] * len(xs), xs, strict=True)]
    in_dirs = scan_input_directions or [0] * len(xs)
    steps = xs[0].shape[in_axes[0]] if xs else 0
    scope = _scope or {}
    per_step: list[list[np.ndarray]] = []
    for t in range(steps):
        slices = [
            np.take(x, steps - 1 - t if d else t, axis=a)
            for x, a, d in zip(xs, in_axes, in_dirs, strict=True)
        ]
        outs = body([*states, *slices], scope)
        states = list(outs[:n_state])
        per_step.append([np.asarray(o) for o in outs[n_state:]])
    n_out = len(body.graph.outputs) - n_state
    out_axes = scan_output_axes or [0] * n_out
    out_dirs = scan_output_directions or [0] * n_out
    results = []
    for k in range(n_out):
        values = [step[k] for step in per_step]
        if out_dirs[k]:
            values.reverse()
        stacked = np.stack(values) if values else np.zeros((0,), np.float32)
        axis = out_axes[k] % stacked.ndim
        results.append(np.moveaxis(stacked, 0, axis) if axis else stacked)
    return (*states, *results)


@register("Scan", since=8)
def scan_batched(
    sequence_lens: np.ndarray | None,
    *inputs: np.ndarray,
    body: Any,
    num_scan_inputs: int,
    directions: list[int] | None = None,
    _scope: dict | None = None,
) -> tuple:
    """Opset 8 form: every input has a leading batch axis; scan runs along axis 1 of each batch entry."""
    if sequence_lens is not None:
        raise ValueError("Scan-8 with sequence_lens is not supported")
    batch = inputs[0].shape[0]
    per_batch = [
        scan(*[x[b] for x in inputs], body=body, num_scan_inputs=num_scan_inputs,
             scan_input_directions=directions, _scope=_scope)
        for b in range(batch)
    ]
    return tuple(np.stack([r[k] for r in per_batch]) for k in range(len(per_batch[0])))
