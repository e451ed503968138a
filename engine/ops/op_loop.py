"""Loop: run ``body`` while the trip count and the condition allow; carried values and stacked scan
outputs."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.ops.registry import register


@register("Loop", since=1)
def loop(
    trip_count: np.ndarray | None = None,
    cond: np.ndarray | None = None,
    *carried_initial: np.ndarray,
    body: Any,
    _scope: dict | None = None,
) -> tuple:
    max_trips = None if trip_count is None else int(np.asarray(trip_count).reshape(-1)[0])
    keep_going = True if cond is None else bool(np.asarray(cond).reshape(-1)[0])
    carried = list(carried_initial)
    n_carried = len(carried)
    n_scan = len(body.graph.outputs) - 1 - n_carried
    scans: list[list[np.ndarray]] = [[] for _ in range(n_scan)]
    scope = _scope or {}
    i = 0
    while keep_going and (max_trips is None or i < max_trips):
        outs = body([np.array(i, dtype=np.int64), np.array(keep_going), *carried], scope)
        keep_going = bool(np.asarray(outs[0]).reshape(-1)[0])
        carried = list(outs[1:1 + n_carried])
        for k in range(n_scan):
            scans[k].append(np.asarray(outs[1 + n_carried + k]))
        i += 1
    stacked = []
    for k, values in enumerate(scans):
        if values:
            stacked.append(np.stack(values))
        else:
            declared = body.graph.outputs[1 + n_carried + k].dtype
            stacked.append(np.zeros((0,), dtype=declared or np.float32))
    return (*carried, *stacked)
