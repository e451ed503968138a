"""The input's side of an episode, done in a worker thread while the model runs on the event loop.

A lone ``infer`` on a model of a few milliseconds or more runs the model on the loop in slices
(:meth:`~cognition.systems.ModelRunner.run`). Everything about the episode that needs only the input is
independent of the answer: its digest (BLAKE2b over the whole input: ~120 µs for 110 KB), its statistics, its
encoding and its commit (:meth:`memory_store.EpisodicMemory.store_input`, its own transaction: ~250 µs for a
110 KB input, whose overflow pages SQLite would otherwise write into the WAL with the row). An
:class:`InputJob` does that on the other core meanwhile, so after the run only the small episode row is left
to commit. Under deferred durability the job encodes the input but commits nothing: the writer's batch stores
the inputs with their rows in one transaction. Only inputs that cannot be in the exact cache get a job (their
fingerprint matches no cache entry: :meth:`~cognition.systems.System1.may_hold`); the others are hashed first,
on the loop, and looked up.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

import anyio.to_thread
import numpy as np

from memory_store import EpisodicMemory, StoredInput

from .perception import Percept, Perception


class InputJob:
    """Percept (digest, statistics) and stored input of one checked sample, built in a worker thread.

    :meth:`start` hands it to an :class:`InputThread` at once (not to a task: a task would start only at
    the loop's next checkpoint, after the run's first slice); ``await`` :meth:`result` for the outcome (it
    raises what the thread raised). :attr:`finished` is a plain flag the thread sets last.
    """

    __slots__ = (
        "_feeds", "_episodic", "_store", "_commit", "_project", "_done", "finished", "percept", "stored",
        "features", "error",
    )  # fmt: skip

    def __init__(
        self,
        feeds: dict[str, np.ndarray],
        episodic: EpisodicMemory,
        *,
        store: bool,
        commit: bool = True,
        project: Callable[[dict[str, np.ndarray]], np.ndarray] | None = None,
    ) -> None:
        self._feeds = feeds
        self._episodic = episodic
        self._project = project  # the features of a model without penultimate activations: from the input
        self._store = store and len(feeds) == 1  # an episode stores its first input; the digest is of all
        # False: the input is encoded but not committed ahead (deferred durability: the batch's transaction
        # stores it with its row, one transaction for many inputs instead of one each)
        self._commit = commit
        self._done = threading.Lock()  # held until the work is done (cheaper to make than an Event)
        self._done.acquire()
        self.finished = False
        self.percept: Percept | None = None
        self.stored: StoredInput | None = None
        self.features: np.ndarray | None = None
        self.error: BaseException | None = None

    def start(self, thread: InputThread) -> InputJob:
        thread.submit(self._work)
        return self

    def _work(self) -> None:
        try:
            if self._project is not None:
                self.features = self._project(self._feeds)
            percept = Perception.percept(self._feeds)
            if self._store:
                first = next(iter(self._feeds.values()))
                if not self._commit:
                    self.stored = StoredInput.encode(first, digest=percept.digest)
                else:
                    try:
                        self.stored = self._episodic.store_input(first, digest=percept.digest)
                    except Exception:  # the row carries the input instead; its commit reports a lasting failure
                        self.stored = None
            self.percept = percept
        except BaseException as exc:  # handed to the infer call that waits for it
            self.error = exc
        finally:
            self.finished = True
            self._done.release()

    async def result(self) -> tuple[Percept, StoredInput | None]:
        """The percept and the stored input (None when not stored; encoded but not committed when the job was
        made with ``commit=False``), once the thread is done; :attr:`features` then holds the input's
        projection when the job was given one."""
        if not self.finished:  # rare: the job outlasted the run; wait for it in a worker thread
            await anyio.to_thread.run_sync(self._wait)
        if self.error is not None:
            raise self.error
        assert self.percept is not None
        return self.percept, self.stored

    def _wait(self) -> None:
        with self._done:
            pass


class InputThread:
    """One daemon thread running input jobs in order (a queue hand-off: ~1 µs, against ~10 µs for a
    ``ThreadPoolExecutor.submit``; this runs on every lone call). :meth:`close` waits for the jobs queued."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="ronn-input", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()  # InputJob._work keeps its own errors
