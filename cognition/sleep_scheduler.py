"""When the agent sleeps: every ``sleep_every_episodes`` episodes, every ``sleep_interval_s``, after
``sleep_idle_s`` without ``infer`` (docs/sleep.md, Triggers)."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from anyio.abc import TaskStatus

from .config import AgentConfig


class SleepScheduler:
    """Calls ``sleep(reason)`` every ``sleep_every_episodes`` episodes, every ``sleep_interval_s``, and after
    ``sleep_idle_s`` without ``infer`` (once per idle spell with new episodes). Start :meth:`run` in the
    agent's task group; the agent reports episodes with :meth:`episode`. A failed sleep is kept in
    :attr:`failure` (the agent raises it from its next call) and stops the scheduler."""

    def __init__(self, config: AgentConfig, sleep: Callable[[str], Awaitable[Any]]) -> None:
        self.every = config.sleep_every_episodes
        self.interval = config.sleep_interval_s
        self.idle = config.sleep_idle_s
        self._sleep = sleep
        self._since = 0
        self._last_activity = self._last_sleep = time.monotonic()
        self._wake = anyio.Event()
        self.failure: BaseException | None = None

    @property
    def enabled(self) -> bool:
        return self.every is not None or self.interval is not None or self.idle is not None

    def episode(self) -> bool:
        """One more episode (called by ``infer``); True when it woke the scheduler's task (a sleep is due,
        or the idle timer starts): the caller should then let the loop run it."""
        self._since += 1
        self._last_activity = time.monotonic()
        if (self.every is not None and self._since >= self.every) or (self.idle is not None and self._since == 1):
            self._wake.set()  # due now, or the idle timer starts
            return True
        return False

    def starting(self) -> int:
        """A sleep starts (whoever started it): the episodes it will count as handled."""
        return self._since

    def slept(self, handled: int) -> None:
        """A sleep ended; the episodes that arrived while it ran count toward the next one."""
        self._since = max(self._since - handled, 0)
        self._last_sleep = time.monotonic()

    def due(self) -> str | None:
        now = time.monotonic()
        if self.every is not None and self._since >= self.every:
            return "episodes"
        if self.interval is not None and now - self._last_sleep >= self.interval:
            return "interval"
        if self.idle is not None and self._since and now - self._last_activity >= self.idle:
            return "idle"
        return None

    def _timeout(self) -> float:
        now, wait = time.monotonic(), math.inf
        if self.interval is not None:
            wait = min(wait, self._last_sleep + self.interval - now)
        if self.idle is not None and self._since:
            wait = min(wait, self._last_activity + self.idle - now)
        return max(wait, 0.0)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            with anyio.move_on_after(self._timeout()):
                await self._wake.wait()
            self._wake = anyio.Event()
            reason = self.due()
            if reason is None:
                continue
            try:
                await self._sleep(reason)
            except Exception as exc:  # sticky: the agent's next call raises it
                self.failure = exc
                return


__all__ = ["SleepScheduler"]
