"""The routes an agent took and its latest ``infer`` latencies per route, for ``statistics()``."""

from __future__ import annotations

from collections import deque

import numpy as np

from .config import ROUTES, LatencySummary

#: latencies kept per route (the percentiles describe the most recent calls)
LATENCY_WINDOW = 10_000


class RouteLog:
    """Counts of the routes taken, and the last :data:`LATENCY_WINDOW` latencies of each."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = dict.fromkeys(ROUTES, 0)
        self._latencies: dict[str, deque[float]] = {r: deque(maxlen=LATENCY_WINDOW) for r in ROUTES}

    def record(self, route: str, latency_s: float) -> None:
        self.counts[route] += 1
        self._latencies[route].append(latency_s)

    def latency(self) -> dict[str, LatencySummary]:
        """p50/p95/p99 of the kept latencies, for each route taken."""
        out = {}
        for route, values in self._latencies.items():
            if values:
                p50, p95, p99 = np.percentile(np.fromiter(values, np.float64), [50, 95, 99])
                out[route] = LatencySummary(len(values), float(p50), float(p95), float(p99))
        return out
