"""System 1 (exact response cache, near-duplicate cache over working memory, the fast model) and System 2
(the full-precision session), each behind a :class:`ModelRunner` that runs inline or in worker threads."""

from __future__ import annotations

import time
import zlib
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import numpy as np

from engine.session import InferenceSession
from memory_store import WorkingMemory

from .config import ConfidenceMeasure
from .perception import RandomProjection
from .router import judge

_NO_FEATURES = np.zeros(0, np.float32)


@dataclass(frozen=True, slots=True)
class Answer:
    """What a system (or a cache) says about one percept."""

    output: np.ndarray  # the score output, one sample
    probabilities: np.ndarray
    prediction: int
    confidence: float
    features: np.ndarray  # float32 [dim]


class ModelRunner:
    """One session, the output that holds scores, and where the feature vector comes from.

    ``inline`` runners call ``session.run`` on the event loop; the others go through
    ``anyio.to_thread.run_sync`` under the shared ``limiter``. Learning replaces ``session`` with one of
    the same graph and new weights (one reference swap: a run in flight finishes on the old one).
    """

    def __init__(
        self,
        session: InferenceSession,
        *,
        score_output: str,
        feature_output: str | None,
        projection: RandomProjection | None,
        measure: ConfidenceMeasure,
        description: str,
    ) -> None:
        self.session = session
        self.description = description
        self.measure = measure
        self._names = [score_output] + ([feature_output] if feature_output else [])
        self.score_output = score_output
        self.input_projection = projection  # features from the input itself (no penultimate activations)
        self.probabilities_out = True  # decided by probe()
        self.classes = 0  # the score output's size, set by probe()
        self.inline = True
        self.inline_alone = False  # also inline while no other call is in flight (AgentConfig.inline_alone_max_s)
        self.slice_s = 0.02  # AgentConfig.inline_slice_s
        self.checkpoints = 0  # taken between slices, all runs together
        self.limiter: anyio.CapacityLimiter | None = None

    def probe(self, feeds: dict[str, np.ndarray], repeats: int = 5) -> tuple[float, int]:
        """Warm the session up; return its median run time and the feature size. Decides whether the score
        output already holds probabilities (non-negative, summing to one) or logits needing a softmax."""
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            outs = self.session.run(self._names, feeds)
            times.append(time.perf_counter() - start)
        scores = np.asarray(outs[0], np.float64).reshape(-1)
        self.classes = int(scores.size)
        self.probabilities_out = bool((scores >= 0).all() and abs(scores.sum() - 1.0) < 1e-3)
        dim = self._answer(outs, feeds).features.size  # (the answer's kernels compiled now, not in a first infer)
        return float(np.median(times)), int(dim)

    def run_sync(self, feeds: dict[str, np.ndarray], input_features: bool = True) -> Answer:
        return self._answer(self.session.run(self._names, feeds), feeds, input_features)

    def _answer(self, outs: list[Any], feeds: dict[str, np.ndarray], input_features: bool = True) -> Answer:
        output = outs[0][0] if outs[0].ndim > 1 else outs[0]
        p = output.astype(np.float32, copy=False).reshape(-1)
        if not self.probabilities_out:
            e = np.exp(p - p.max())
            p = e / e.sum()
        skip = not input_features and self.input_projection is not None  # computed elsewhere (an input job)
        features = _NO_FEATURES if skip else self._features(outs, feeds)
        prediction, conf = judge(p, self.measure)
        return Answer(output, p, prediction, conf, features)

    def in_slices(self, alone: bool) -> bool:
        """Whether a call (``alone``: the only one in flight) runs on the event loop in slices."""
        return alone and self.inline_alone and not self.inline

    async def run(self, feeds: dict[str, np.ndarray], *, alone: bool = False, input_features: bool = True) -> Answer:
        """On the event loop when ``inline``; also when ``inline_alone`` and this is the only call in flight, in
        slices of ``slice_s`` with a checkpoint between them (the loop serves its other tasks, and a cancelled
        call stops between two slices); else in a worker thread under the shared limiter.

        ``input_features=False``: the answer's features are left empty when they would come from the input's
        projection (:attr:`input_projection`): the caller computes them elsewhere (an input job)."""
        if self.inline:
            return self.run_sync(feeds, input_features)
        if alone and self.inline_alone:
            steps = self.session.run_in_slices(self._names, feeds, self.slice_s)
            while True:
                try:
                    next(steps)
                except StopIteration as done:
                    return self._answer(done.value, feeds, input_features)
                self.checkpoints += 1
                await anyio.lowlevel.checkpoint()
        return await anyio.to_thread.run_sync(self.run_sync, feeds, input_features, limiter=self.limiter)

    def _features(self, outs: list[Any], feeds: dict[str, np.ndarray]) -> np.ndarray:
        if self.input_projection is not None:
            return self.input_projection(feeds)
        if len(outs) > 1:
            return np.asarray(outs[1], np.float32).reshape(-1)
        return _NO_FEATURES


class System1:
    """The fast path: an exact response cache (LRU by input digest), a near-duplicate cache over working
    memory (System 2 answers only), and the fast model.

    Entries may carry the input's :func:`fingerprint`: :meth:`may_hold` then says, before the input's digest
    is known, whether the cache can hold it (no false negatives), so a call can start its model at once
    and hash the input meanwhile.
    """

    def __init__(
        self, runner: ModelRunner, working: WorkingMemory, *, cache_size: int, near_duplicate: float | None
    ) -> None:
        self.runner = runner
        self.working = working
        self.cache_size = cache_size
        self.near_duplicate = near_duplicate
        self._cache: OrderedDict[bytes, Answer] = OrderedDict()
        self._fingerprint_of: dict[bytes, int] = {}
        self._fingerprints: Counter[int] = Counter()
        self.lookups = self.hits = self.near_hits = 0

    def forget(self, digest: bytes) -> None:
        """Drop the cached answer for one input (its label just taught the model something)."""
        if self._cache.pop(digest, None) is not None:
            self._drop_fingerprint(digest)

    def clear(self) -> None:
        """Drop every cached answer and the System 2 answers in working memory (the weights changed)."""
        self._cache.clear()
        self._fingerprint_of.clear()
        self._fingerprints.clear()
        self.working.clear()

    def may_hold(self, fingerprint: int) -> bool:
        """False when no cached input has this :func:`fingerprint` (then the input is not cached)."""
        return fingerprint in self._fingerprints

    def cached(self, digest: bytes) -> Answer | None:
        if not self.cache_size:
            return None
        self.lookups += 1
        answer = self._cache.get(digest)
        if answer is None:
            return None
        self.hits += 1
        self._cache.move_to_end(digest)
        return _handed_out(answer)

    def remember(
        self,
        digest: bytes,
        answer: Answer,
        *,
        from_system2: bool,
        vector: np.ndarray,
        fingerprint: int | None = None,
    ) -> None:
        """Cache ``answer``; a System 2 answer also goes to working memory under its episode ``vector``.
        ``fingerprint``: the input's :func:`fingerprint` (an entry without one is invisible to
        :meth:`may_hold`: a caller relying on it always passes it)."""
        if self.cache_size or (from_system2 and self.near_duplicate is not None):
            answer = _kept(answer)
        if self.cache_size:
            if digest in self._cache:
                self._drop_fingerprint(digest)
            self._cache[digest] = answer
            self._cache.move_to_end(digest)
            if fingerprint is not None:
                self._fingerprint_of[digest] = fingerprint
                self._fingerprints[fingerprint] += 1
            if len(self._cache) > self.cache_size:
                evicted, _ = self._cache.popitem(last=False)
                self._drop_fingerprint(evicted)
        if from_system2 and self.near_duplicate is not None:
            self.working.put(digest, vector, payload=answer, attention=1.0)

    def _drop_fingerprint(self, digest: bytes) -> None:
        fingerprint = self._fingerprint_of.pop(digest, None)
        if fingerprint is not None:
            self._fingerprints[fingerprint] -= 1
            if not self._fingerprints[fingerprint]:
                del self._fingerprints[fingerprint]

    def near(self, vector: np.ndarray) -> Answer | None:
        """A System 2 answer for a near-duplicate of episode ``vector`` held in working memory, if any."""
        if self.near_duplicate is None or not len(self.working):
            return None
        best = self.working.search(vector, k=1)
        if best and best[0].similarity is not None and best[0].similarity >= self.near_duplicate:
            self.near_hits += 1
            answer = best[0].payload
            return _handed_out(answer) if isinstance(answer, Answer) else None
        return None


def _kept(answer: Answer) -> Answer:
    """The copy a cache holds: its own read-only arrays (a caller may change a Thought's output in place)."""
    output, probabilities = answer.output.copy(), answer.probabilities.copy()
    output.flags.writeable = probabilities.flags.writeable = False
    return Answer(output, probabilities, answer.prediction, answer.confidence, answer.features)


def _handed_out(answer: Answer) -> Answer:
    """A cached answer for one more Thought: an output array of its own."""
    return Answer(answer.output.copy(), answer.probabilities, answer.prediction, answer.confidence, answer.features)


#: elements of an input read by :func:`fingerprint`
FINGERPRINT_SAMPLE = 256


def fingerprint(x: np.ndarray) -> int:
    """A cheap 32-bit fingerprint of an input (CRC-32 of its dtype, shape and ``FINGERPRINT_SAMPLE`` evenly
    spaced elements: ~3 µs at any size, against ~120 µs for a 110 KB input's BLAKE2b digest). Equal inputs
    have equal fingerprints; different ones may share one, so it only rules a cache entry out."""
    flat = x.reshape(-1)
    if flat.size > FINGERPRINT_SAMPLE:
        flat = flat[:: flat.size // FINGERPRINT_SAMPLE][:FINGERPRINT_SAMPLE]
    head = zlib.crc32(f"{x.dtype.str}{x.shape}".encode())
    return zlib.crc32(flat.tobytes(), head)  # at most 256 elements: the copy is ~1 KB
