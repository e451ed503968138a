"""Feedback and learning in the running agent: what ``infer`` keeps for a later ``feedback`` (System 1's
confidence and answer, for the escalation threshold; the input, for a fast-weight step), ``feedback`` itself,
and the learner's life with the agent (loaded from its memory on entering, saved on leaving)."""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from typing import Any

import anyio
import anyio.to_thread
import numpy as np

import memory_store
from engine.errors import InvalidInputError

from .adaptation import Adaptation
from .config import AgentConfig, Thought
from .episodes import EpisodeWriter, Ticket
from .gradients import HeadNotFoundError
from .models import Models
from .router import HRM
from .systems import System1

S1_RECORDS = 20_000
#: inputs kept in process for feedback: copies (a caller may refill its array for the next call), of inputs up to
#: INPUT_RECORD_BYTES (4,096 references to 300 KB images held 1.2 GB); the others are read back from the episode
INPUT_RECORDS = 4096
INPUT_RECORD_BYTES = 16 << 10


class Feedback:
    """The agent's feedback: records kept by ``infer`` (:meth:`remember`) and :meth:`give`."""

    def __init__(
        self,
        memory: memory_store.Memory,
        writer: EpisodeWriter,
        hrm: HRM,
        system1: System1,
        adaptation: Adaptation | None,
        limiter: anyio.CapacityLimiter,
        *,
        classes: int,
    ) -> None:
        self.memory = memory
        self.classes = classes  #: labels are 0 .. classes - 1 (the size of System 2's score output)
        self._writer = writer
        self._hrm = hrm
        self._system1 = system1
        self._adaptation = adaptation
        self._limiter = limiter
        self._s1_records: OrderedDict[Any, tuple[float, int, str]] = OrderedDict()
        self._inputs: OrderedDict[Any, tuple[np.ndarray, bytes]] = OrderedDict()
        self.count = 0

    def remember(self, key: Any, s1_record: tuple[float, int, str] | None, x: np.ndarray, digest: bytes) -> None:
        """What ``infer`` answered for episode ``key`` (its id, or its ticket until committed)."""
        if s1_record is not None:
            self._s1_records[key] = s1_record
            if len(self._s1_records) > S1_RECORDS:
                self._s1_records.popitem(last=False)
        if self._adaptation is not None and x.nbytes <= INPUT_RECORD_BYTES:
            self._inputs[key] = (x.copy(), digest)
            if len(self._inputs) > INPUT_RECORDS:
                self._inputs.popitem(last=False)

    async def give(self, thought_or_id: Thought | int, label: int | None, reward: float | None) -> None:
        """``Agent.feedback`` once the agent is known to run."""
        if label is None and reward is None:
            raise InvalidInputError("feedback needs a label or a reward")
        if label is not None and (isinstance(label, bool) or not isinstance(label, int | np.integer)):
            raise InvalidInputError(f"label must be an int, got {label!r}")
        if label is not None and not 0 <= label < self.classes:
            raise InvalidInputError(
                f"label must be a class of the model's score output, 0 to {self.classes - 1}, got {label}"
            )
        if reward is not None and (
            isinstance(reward, bool) or not isinstance(reward, int | float) or not math.isfinite(reward)
        ):
            raise InvalidInputError(f"reward must be a finite number, got {reward!r}")
        key: Any
        if isinstance(thought_or_id, Thought):
            ticket: Ticket = thought_or_id.ticket
            eid = thought_or_id.episode_id
            if eid is None:
                eid = await self._writer.committed_id(ticket)
            key = ticket if ticket in self._s1_records else eid
        elif isinstance(thought_or_id, int | np.integer) and not isinstance(thought_or_id, bool):
            eid = key = int(thought_or_id)
            if key not in self._s1_records:  # deferred mode keys records by ticket until asked
                key = next((t for t in self._s1_records if isinstance(t, Ticket) and t.id == eid), eid)
        else:
            raise InvalidInputError(
                f"feedback takes a Thought or an episode id, got {type(thought_or_id).__name__}"
            )
        fields: dict[str, Any] = {}
        if label is not None:
            fields["label"] = int(label)
        if reward is not None:
            fields["reward"] = float(reward)
        if eid is None:  # a flush marker's ticket, or one unpickled before its commit
            raise InvalidInputError(
                "this Thought has no stored episode id: it was pickled before its episode was committed "
                "(deferred durability); give feedback with the original Thought, or pickle it after agent.flush()"
            )
        try:  # on the event loop (~20 µs), unless another thread or process holds the write lock
            self.memory.episodic.feedback(eid, **fields, wait=False)
        except memory_store.DatabaseBusyError:
            await anyio.to_thread.run_sync(functools.partial(self.memory.episodic.feedback, eid, **fields))
        self.count += 1
        if self._adaptation is not None:
            target = label
            if target is None and reward is not None and reward > 0 and isinstance(thought_or_id, Thought):
                target = thought_or_id.prediction  # a rewarded answer
            if target is not None and target >= 0:
                await self._learn(thought_or_id, eid, int(target))
        record = self._s1_records.pop(key, None)
        if record is not None:
            conf, prediction, route = record
            if label is not None:
                self._hrm.calibrator.record(conf, prediction == int(label))
            elif route == "system1" and reward is not None:
                self._hrm.calibrator.record(conf, reward > 0)

    async def _learn(self, thought_or_id: Thought | int, eid: int, label: int) -> None:
        adaptation = self._adaptation
        assert adaptation is not None
        ticket = thought_or_id.ticket if isinstance(thought_or_id, Thought) else None
        record = self._inputs.pop(ticket, None) if ticket is not None else None
        if record is None:
            record = self._inputs.pop(eid, None)
        if record is None:  # an older episode: its stored input
            [stored] = await self.memory.aio.episodic.get([eid], with_payload=True)
            if not isinstance(stored.input, np.ndarray):
                return
            record = (stored.input, stored.input_digest)
        x, digest = record
        async with adaptation.lock:
            if adaptation.inline:
                adaptation.feedback_sync(x, label)
            else:
                await anyio.to_thread.run_sync(adaptation.feedback_sync, x, label, limiter=self._limiter)
        self._system1.forget(digest)  # the cached answer for this input predates the lesson



async def open_learning(
    model: Any, models: Models, memory: memory_store.Memory, config: AgentConfig
) -> tuple[Adaptation | None, str]:
    """The learner of System 2's dense head, with what ``memory`` kept of it (pushed into the sessions), and
    what ``statistics().learning`` says."""
    if not config.learn:
        return None, "off (AgentConfig.learn is False)"
    try:
        adaptation = await anyio.to_thread.run_sync(
            Adaptation.build, model, models.system1, models.system2, config
        )
    except HeadNotFoundError as exc:
        return None, f"off: {exc}"
    blobs = await memory.aio.state.get_many([adaptation.key, adaptation.key + "/system1"])
    if adaptation.load(blobs):
        adaptation.push()
        student = adaptation.student
        if student is not None and adaptation.system1_kind == "ternary":
            models.system1.session = await anyio.to_thread.run_sync(adaptation.system1_from_student, student)
    return adaptation, adaptation.description


async def save_learning(adaptation: Adaptation | None, memory: memory_store.Memory) -> None:
    """Write what the learner holds (the fast weights learned since the last sleep too) to ``memory``."""
    if adaptation is None:
        return
    async with adaptation.lock:
        blobs = adaptation.state_blobs()
    await memory.aio.state.put(blobs)
