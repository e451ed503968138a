"""Dynamic batching: concurrent ``await session.run_async(...)`` calls joined into one run along the batch axis.

    >>> batcher = session.enable_batching(max_batch=8, max_wait_s=0.002)   # doctest: +SKIP
    >>> (y,) = await session.run_async(None, {"x": x})                     # doctest: +SKIP

How a request travels:

1. Its feeds are validated on the caller's task (:meth:`InferenceSession._validate_feeds`), so a bad input
   raises to its own caller and never joins a batch.
2. It joins the open *group* of its key: the requested outputs plus every input's dtype and non-batch shape.
   Requests with different keys are never mixed. The first request of a group leads it.
3. The leader waits until the group holds ``max_batch`` rows or ``max_wait_s`` has passed, then for the run
   slot (``max_concurrent`` batches run at once, default 1; the group keeps filling while it waits), closes
   the group, concatenates the inputs along axis 0 and runs the session once in a worker thread.
4. Each output is split back by row ranges. If the batched run raises, every request of the group is run on
   its own, so an error reaches exactly the callers whose inputs cause it.

A model is batchable when the first dimension of every input and every output is symbolic (not a number);
otherwise every request runs on its own (still in a worker thread, ``max_concurrent`` at a time). A batched
output whose first dimension does not come back as the total row count also makes that group run one by one.

Works under trio and asyncio (anyio). One batcher serves the tasks of one event loop at a time. A leader that
is cancelled still finishes its group's run for the others (the run is shielded) and then raises.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import numpy as np

if TYPE_CHECKING:
    from engine.session import InferenceSession


@dataclass
class _Request:
    feeds: list[np.ndarray]
    rows: int
    result: list[np.ndarray] | None = None
    error: BaseException | None = None


@dataclass(eq=False)
class _Group:
    key: tuple[Any, ...]
    output_names: list[str] | None
    requests: list[_Request] = field(default_factory=list)
    rows: int = 0
    closed: bool = False
    full: anyio.Event = field(default_factory=anyio.Event)
    done: anyio.Event = field(default_factory=anyio.Event)


@dataclass
class BatcherStats:
    """Counters since the batcher was made: requests served, session runs made, rows per batched run."""

    requests: int = 0
    runs: int = 0
    batched_runs: int = 0
    batched_rows: int = 0
    fallbacks: int = 0

    @property
    def mean_batch(self) -> float:
        return self.batched_rows / self.batched_runs if self.batched_runs else 0.0


def batch_axis_free(session: InferenceSession) -> bool:
    """Whether every input and output of the session's model has a symbolic (free) first dimension."""
    args = [*session.get_inputs(), *session.get_outputs()]
    return bool(args) and all(a.shape is not None and len(a.shape) >= 1 and not isinstance(a.shape[0], int)
                              for a in args)  # fmt: skip


class DynamicBatcher:
    """Joins concurrent requests to one session into batched runs. See the module docstring.

    Args:
        session: the session to run.
        max_batch: most rows (sum of the requests' first dimensions) in one run; a request larger than this
            runs in a group of its own.
        max_wait_s: how long a group's first request waits for others before the group runs.
        max_concurrent: batched runs in flight at once (worker threads).
    """

    def __init__(self, session: InferenceSession, max_batch: int = 8, max_wait_s: float = 0.002,
                 max_concurrent: int = 1) -> None:  # fmt: skip
        if not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch must be an int >= 1, got {max_batch!r}")
        if not (isinstance(max_wait_s, int | float) and max_wait_s >= 0 and math.isfinite(max_wait_s)):
            raise ValueError(f"max_wait_s must be a finite number >= 0, got {max_wait_s!r}")
        if not isinstance(max_concurrent, int) or max_concurrent < 1:
            raise ValueError(f"max_concurrent must be an int >= 1, got {max_concurrent!r}")
        self.session = session
        self.max_batch = max_batch
        self.max_wait_s = float(max_wait_s)
        self.max_concurrent = max_concurrent
        self.batchable = batch_axis_free(session)
        self.stats = BatcherStats()
        self._open: dict[tuple[Any, ...], _Group] = {}
        self._limiter: anyio.CapacityLimiter | None = None

    def _slot(self) -> anyio.CapacityLimiter:
        # Made lazily, inside the event loop that first uses it (asyncio needs a running loop).
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.max_concurrent)
        return self._limiter

    async def run(self, output_names: Sequence[str] | None, input_feed: Mapping[str, Any]) -> list[np.ndarray]:
        """Like :meth:`InferenceSession.run`, awaited; may share one run with concurrent requests."""
        session = self.session
        feeds = session._validate_feeds(input_feed)  # raises to this caller alone
        names = None if output_names is None else list(output_names)
        if names is not None:
            for name in names:
                session._output_slot(name)  # unknown output names fail here, not in the batch
        self.stats.requests += 1
        rows = _rows(feeds) if self.batchable else None
        if rows is None or rows > self.max_batch:
            async with self._slot():
                self.stats.runs += 1
                return await anyio.to_thread.run_sync(self._run_one, names, feeds)

        key = (None if names is None else tuple(names),
               tuple((f.dtype.str, f.shape[1:]) for f in feeds))  # fmt: skip
        group = self._open.get(key)
        if group is not None and group.rows + rows > self.max_batch:
            self._close(group)
            group = None
        request = _Request(feeds, rows)
        leader = group is None
        if group is None:
            group = _Group(key, names)
            self._open[key] = group
        group.requests.append(request)
        group.rows += rows
        if group.rows >= self.max_batch:
            self._close(group)

        if leader:
            with anyio.CancelScope(shield=True):  # the others depend on this task: finish their run
                with anyio.move_on_after(self.max_wait_s):
                    await group.full.wait()
                async with self._slot():
                    self._close(group)
                    await anyio.to_thread.run_sync(self._run_group, group)
                group.done.set()
            await anyio.lowlevel.checkpoint_if_cancelled()
        else:
            await group.done.wait()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    # --- worker-thread side ----------------------------------------------------------------------------------

    def _close(self, group: _Group) -> None:
        group.closed = True
        group.full.set()
        if self._open.get(group.key) is group:
            del self._open[group.key]

    def _run_one(self, names: list[str] | None, feeds: list[np.ndarray]) -> list[np.ndarray]:
        return self.session._run_validated(names, feeds)

    def _run_group(self, group: _Group) -> None:
        requests = group.requests
        if len(requests) == 1:
            self._run_each(group)
            return
        try:
            n_inputs = len(requests[0].feeds)
            joined = [np.concatenate([r.feeds[i] for r in requests], axis=0) for i in range(n_inputs)]
            outputs = self.session._run_validated(group.output_names, joined)
        except Exception:
            self.stats.fallbacks += 1
            self._run_each(group)  # find out whose input fails: each caller gets its own result or error
            return
        if any(not isinstance(o, np.ndarray) or o.ndim == 0 or o.shape[0] != group.rows for o in outputs):
            self.stats.fallbacks += 1
            self._run_each(group)  # an output not batched along axis 0: results cannot be split
            return
        self.stats.runs += 1
        self.stats.batched_runs += 1
        self.stats.batched_rows += group.rows
        start = 0
        for r in requests:
            stop = start + r.rows
            r.result = [o[start:stop] if len(requests) == 1 else o[start:stop].copy() for o in outputs]
            start = stop

    def _run_each(self, group: _Group) -> None:
        for r in group.requests:
            self.stats.runs += 1
            try:
                r.result = self.session._run_validated(group.output_names, r.feeds)
            except Exception as exc:
                r.error = exc


def _rows(feeds: Sequence[Any]) -> int | None:
    """The common first dimension of the feeds, or None when they have none or disagree."""
    rows = None
    for f in feeds:
        if not isinstance(f, np.ndarray) or f.ndim == 0:
            return None
        if rows is None:
            rows = f.shape[0]
        elif f.shape[0] != rows:
            return None
    return rows
