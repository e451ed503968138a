"""Async edge of the memory store: the same operations, run in worker threads for trio or asyncio.

``anyio.to_thread.run_sync`` moves each call off the event loop. Writes share a capacity limiter of one, so
one worker thread at a time writes (SQLite's single writer) and waiting writers queue in the event loop
rather than as blocked threads; reads use their own limiter. A cancelled caller waits for a started write to
finish: an episode whose ``add`` began is committed, never half-written.

Example (trio)::

    memory = memory_store.open_memory(path)
    ids = await memory.aio.episodic.add_many(batch)
    nearest = await memory.aio.episodic.search(vector, k=5)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import anyio
import anyio.to_thread

from .records import EncodedEpisode, Episode, NewEpisode, StoredInput

if TYPE_CHECKING:
    from . import Memory
    from .episodic import EpisodicMemory
    from .semantic import SemanticMemory
    from .state import StateStore

P = ParamSpec("P")
T = TypeVar("T")


class _Limiters:
    """Limiters are made on first use, inside the event loop that will use them."""

    def __init__(self, readers: int) -> None:
        self._readers = readers
        self._write: anyio.CapacityLimiter | None = None
        self._read: anyio.CapacityLimiter | None = None

    def get(self, write: bool) -> anyio.CapacityLimiter:
        if write:
            if self._write is None:
                self._write = anyio.CapacityLimiter(1)
            return self._write
        if self._read is None:
            self._read = anyio.CapacityLimiter(self._readers)
        return self._read


async def _run(limiters: _Limiters, write: bool, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=limiters.get(write))


class AsyncEpisodic:
    """Awaitable :class:`~memory_store.episodic.EpisodicMemory` (same arguments, same results)."""

    def __init__(self, sync: EpisodicMemory, limiters: _Limiters) -> None:
        self.sync = sync
        self._limiters = limiters

    async def add_many(self, new: Sequence[NewEpisode | EncodedEpisode]) -> list[int]:
        return await _run(self._limiters, True, self.sync.add_many, new)

    async def commit(self, new: Sequence[NewEpisode | EncodedEpisode]) -> list[int]:
        return await _run(self._limiters, True, self.sync.commit, new)

    async def store_input(self, value: Any, *, digest: bytes | None = None) -> StoredInput:
        return await _run(self._limiters, True, self.sync.store_input, value, digest=digest)

    async def add(self, vector: Any, **fields: Any) -> int:
        return await _run(self._limiters, True, self.sync.add, vector, **fields)

    async def touch(self, ids: Iterable[int], *, time: float | None = None) -> None:
        await _run(self._limiters, True, self.sync.touch, ids, time=time)

    async def update(self, ids: Iterable[int], **fields: Any) -> None:
        await _run(self._limiters, True, self.sync.update, ids, **fields)

    async def forget(self, ids: Iterable[int]) -> None:
        await _run(self._limiters, True, self.sync.forget, ids)

    async def save_index(self) -> None:
        await _run(self._limiters, True, self.sync.save_index)

    async def search(self, vector: Any, k: int = 10, **options: Any) -> list[Episode]:
        return await _run(self._limiters, False, self.sync.search, vector, k, **options)

    async def get(self, ids: Iterable[int], *, with_payload: bool = True) -> list[Episode]:
        return await _run(self._limiters, False, self.sync.get, ids, with_payload=with_payload)

    async def between(
        self, since: float | None = None, until: float | None = None, **options: Any
    ) -> list[Episode]:
        return await _run(self._limiters, False, self.sync.between, since, until, **options)

    async def count(self) -> int:
        return await _run(self._limiters, False, self.sync.count)


class AsyncSemantic:
    """Awaitable :class:`~memory_store.semantic.SemanticMemory`: every public method, in a worker thread."""

    _WRITES = frozenset(
        {
            "add_concepts",
            "add_concept",
            "remove_concepts",
            "relate",
            "relate_many",
            "record_use",
            "strengthen",
            "decay",
        }
    )
    _READS = frozenset(
        {
            "find",
            "concepts",
            "concepts_named",
            "count",
            "relations",
            "neighbourhood",
            "base_level",
            "spreading",
            "activation",
        }
    )

    def __init__(self, sync: SemanticMemory, limiters: _Limiters) -> None:
        self.sync = sync
        self._limiters = limiters

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name not in self._WRITES and name not in self._READS:
            raise AttributeError(name)
        fn = getattr(self.sync, name)
        write = name in self._WRITES

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await _run(self._limiters, write, fn, *args, **kwargs)

        call.__name__ = call.__qualname__ = name
        call.__doc__ = fn.__doc__
        return call


class AsyncState:
    """Awaitable :class:`~memory_store.state.StateStore`."""

    def __init__(self, sync: StateStore, limiters: _Limiters) -> None:
        self.sync = sync
        self._limiters = limiters

    async def put(self, blobs: Mapping[str, bytes]) -> None:
        await _run(self._limiters, True, self.sync.put, blobs)

    async def get(self, key: str) -> bytes | None:
        return await _run(self._limiters, False, self.sync.get, key)

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        return await _run(self._limiters, False, self.sync.get_many, list(keys))


class AsyncMemory:
    """``memory.aio``: the episodic and semantic tiers and the state store as awaitables; working memory
    needs no thread."""

    def __init__(self, memory: Memory, *, readers: int = 4) -> None:
        limiters = _Limiters(readers)
        self.memory = memory
        self.episodic = AsyncEpisodic(memory.episodic, limiters)
        self.semantic = AsyncSemantic(memory.semantic, limiters)
        self.state = AsyncState(memory.state, limiters)
        self._limiters = limiters

    async def close(self) -> None:
        """Save the index and release the database, in a worker thread (after queued writes)."""
        await _run(self._limiters, True, self.memory.close)
