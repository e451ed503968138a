"""Per-node timing of a session's runs, shaped like onnxruntime's profiler.

    >>> options = SessionOptions(); options.enable_profiling = True          # doctest: +SKIP
    >>> session = InferenceSession("model.onnx", options)                   # doctest: +SKIP
    >>> session.run(None, feeds)                                            # doctest: +SKIP
    >>> print(session.get_profile().table(top=15))                          # doctest: +SKIP
    >>> session.end_profiling()   # writes ronn_profile_<time>.json (Chrome trace), returns its path

A profiled run walks the plan itself (the same steps :meth:`engine.plan.Plan.execute` runs) and times each
kernel call with ``perf_counter_ns``; the timer costs well under a microsecond per node. Time between kernels
(list indexing, freeing) is reported as ``overhead``: the whole run minus the sum of its kernels.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.plan import run_step


@dataclass(frozen=True)
class NodeTime:
    node: str
    op_type: str
    calls: int
    total_ms: float

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class Profile:
    """Times summed over ``runs`` profiled runs: per node (execution order) and per op type."""

    runs: int
    run_ms: float
    nodes: list[NodeTime]

    @property
    def kernel_ms(self) -> float:
        return sum(n.total_ms for n in self.nodes)

    @property
    def overhead_ms(self) -> float:
        """Run time not spent inside kernels (plan walking, argument lists, frees)."""
        return self.run_ms - self.kernel_ms

    def by_op(self) -> list[tuple[str, int, float]]:
        """(op type, node count, ms per run), slowest first."""
        totals: dict[str, list[float]] = {}
        for n in self.nodes:
            entry = totals.setdefault(n.op_type, [0, 0.0])
            entry[0] += 1
            entry[1] += n.total_ms
        per_run = max(self.runs, 1)
        rows = [(op, int(count), ms / per_run) for op, (count, ms) in totals.items()]
        return sorted(rows, key=lambda r: -r[2])

    def table(self, top: int = 12) -> str:
        """A markdown table: per-op share of the mean run, then the ``top`` slowest nodes."""
        per_run = max(self.runs, 1)
        run = self.run_ms / per_run
        lines = [f"mean run {run:.3f} ms over {self.runs} runs; kernels {self.kernel_ms / per_run:.3f} ms, "
                 f"overhead {self.overhead_ms / per_run:.3f} ms", "",
                 "| op | nodes | ms/run | share |", "|---|---|---|---|"]  # fmt: skip
        for op, count, ms in self.by_op():
            lines.append(f"| {op} | {count} | {ms:.3f} | {100 * ms / run if run else 0:.0f}% |")
        lines += ["", "| slowest nodes | op | ms/run |", "|---|---|---|"]
        for n in sorted(self.nodes, key=lambda n: -n.total_ms)[:top]:
            lines.append(f"| {n.node} | {n.op_type} | {n.total_ms / per_run:.3f} |")
        return "\n".join(lines)


class Profiler:
    """Collects kernel times of the runs it executes; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._start_ns = time.perf_counter_ns()
        self._wall_start_us = time.time() * 1e6
        self._runs = 0
        self._run_ns = 0
        self._totals: dict[int, list[Any]] = {}  # step index -> [node name, op, calls, ns]
        self._events: list[dict[str, Any]] = []

    def execute(self, plan: Any, inputs: Sequence[Any], template: list[Any] | None,
                output_slots: Sequence[int] | None) -> list[Any]:  # fmt: skip
        """:meth:`engine.plan.Plan.execute`, timing every step."""
        slots = list(plan.template if template is None else template)
        for s, value in zip(plan.input_slots, inputs, strict=False):
            slots[s] = value
        times: list[int] = []
        clock = time.perf_counter_ns
        run_start = clock()
        for step in plan.steps:
            t0 = clock()
            run_step(step, slots)
            times.append(clock() - t0)
        run_ns = clock() - run_start
        self._record(plan, run_start, run_ns, times)
        wanted = plan.output_slots if output_slots is None else output_slots
        return [slots[s] for s in wanted]

    def _record(self, plan: Any, run_start: int, run_ns: int, times: list[int]) -> None:
        with self._lock:
            self._runs += 1
            self._run_ns += run_ns
            ts = self._wall_start_us + (run_start - self._start_ns) / 1e3
            self._events.append({"cat": "Session", "name": "model_run", "ph": "X", "ts": ts, "dur": run_ns / 1e3,
                                 "pid": 0, "tid": threading.get_ident() % 2**31})  # fmt: skip
            for index, (step, ns) in enumerate(zip(plan.steps, times, strict=False)):
                entry = self._totals.get(index)
                if entry is None:
                    name = step.node.name or step.node.outputs[0]
                    entry = self._totals[index] = [name, step.node.op_type, 0, 0]
                entry[2] += 1
                entry[3] += ns
                if len(self._events) < 200_000:
                    self._events.append({"cat": "Node", "name": f"{entry[0]}_kernel_time", "ph": "X",
                                         "ts": ts, "dur": ns / 1e3, "pid": 0, "tid": 0,
                                         "args": {"op_name": entry[1], "provider": step.provider}})  # fmt: skip
                ts += ns / 1e3

    def profile(self) -> Profile:
        with self._lock:
            nodes = [NodeTime(name, op, calls, ns / 1e6) for _, (name, op, calls, ns) in sorted(self._totals.items())]
            return Profile(self._runs, self._run_ns / 1e6, nodes)

    def write_trace(self, path: str | None = None) -> str:
        """Write the Chrome-trace events (chrome://tracing, Perfetto) to ``path`` and return it."""
        if path is None:
            path = f"ronn_profile_{time.strftime('%Y-%m-%d_%H-%M-%S')}.json"
        with self._lock:
            events = list(self._events)
        with open(path, "w") as f:
            json.dump(events, f)
        return path
