"""Learning wired into the running agent: fast weights on feedback, slow weights in sleep, persistence.

:class:`Adaptation` owns the agent's :class:`~cognition.learning.Learner` (the dense head of System 2) and
the sessions it feeds:

* ``feedback`` takes one SGD step of the fast weights on the episode's features and swaps the effective
  weights (slow + fast) into System 2, and into System 1 when System 1 is the same float head, with
  ``InferenceSession.update_weights`` (atomic between runs);
* sleep trains a *copy* of the learner in a worker process (:mod:`cognition.sleep_worker`) while feedback keeps
  updating the live one on the event loop; :meth:`install` then takes the copy's slow weights, Fisher and
  anchors and keeps the fast-weight steps that arrived meanwhile (the fast weights evolve linearly,
  ``f ← d f − lr g``, so what the snapshot held has shrunk to ``d^k f₀`` after ``k`` steps);
* a ternary System 1 is refreshed from the new weights (:meth:`refresh_system1`: ternarize, or distill with
  the straight-through estimator) and replaces the running one only if it agrees with System 2 at least as
  often on the replayed inputs;
* everything learned (weights, Fisher, anchors, System 1's latent weights) is written to
  ``memory.state`` in one transaction, under a key naming the head's parameters and shapes, and loaded back
  when an agent opens the same memory with the same model.

The learner is not thread-safe: every call that touches the live learner holds :attr:`lock`.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
from dataclasses import dataclass
from typing import Any

import anyio
import numpy as np

from engine import ir
from engine.errors import InvalidInputError
from engine.quantize import DOMAIN as TERNARY_DOMAIN
from engine.session import InferenceSession, get_available_providers

from . import sleep_worker
from .config import AgentConfig
from .distillation import agreement, system1_graph
from .gradients import HeadNotFoundError, Params
from .learning import ConsolidationStats, Learner
from .perception import expose_features
from .systems import ModelRunner

#: Heads with more parameters than this learn in a worker thread (a step of a bigger head costs > ~1 ms).
INLINE_MAX_PARAMETERS = 200_000


@dataclass(frozen=True)
class System1Refresh:
    """What :meth:`Adaptation.refresh_system1` found; ``session`` replaces System 1's when ``accepted``."""

    before: float
    after: float
    accepted: bool
    session: InferenceSession | None
    latent: Params | None


class Adaptation:
    """The learner of one agent and the sessions it updates (see the module docstring)."""

    def __init__(
        self,
        learner: Learner,
        *,
        source: ir.Graph,
        system1: ModelRunner,
        system2: ModelRunner,
        config: AgentConfig,
    ) -> None:
        self.learner = learner
        self.head = learner.head
        self.source = source
        self.system1 = system1
        self.system2 = system2
        self.config = config
        self.lock = anyio.Lock()
        names = self.head.parameter_names
        self.system1_kind = _system1_kind(system1, system2, learner)
        self.inline = sum(learner.slow[n].size for n in names) <= INLINE_MAX_PARAMETERS
        self.student: Params | None = None  # System 1's latent float weights, once distilled
        self.key = "learner/" + hashlib.sha256(
            repr([(n, learner.slow[n].shape) for n in names]).encode()
        ).hexdigest()[:16]
        inputs = [v.name for v in source.inputs]
        self._input = inputs[0]
        self._feature_session: InferenceSession | None = None
        if self.head.feature not in inputs:  # a frozen feature extractor in front of the head
            value = ir.Value(self.head.feature, np.dtype(np.float32), None)
            self._feature_session = InferenceSession(dataclasses.replace(source, outputs=[value]))

    @classmethod
    def build(cls, model: Any, system1: ModelRunner, system2: ModelRunner, config: AgentConfig) -> Adaptation:
        """The adaptation of System 2's dense head; HeadNotFoundError when the model ends in none."""
        source = _source_graph(model)
        learner = Learner.from_model(system2.session, config.learning)
        missing = [n for n in learner.head.parameter_names if n not in source.initializers]
        if missing:
            raise HeadNotFoundError(f"the model's initializers lack the head's parameters {missing}")
        return cls(learner, source=source, system1=system1, system2=system2, config=config)

    @property
    def description(self) -> str:
        names = ", ".join(self.head.parameter_names)
        return f"dense head ({names}), strategy {self.learner.config.strategy}, System 1: {self.system1_kind}"

    # -- features ----------------------------------------------------------------------------------

    def features(self, inputs: np.ndarray) -> np.ndarray:
        """The head's input for a batch of model inputs [n, ...] (the inputs themselves for an MLP)."""
        x = np.asarray(inputs, np.float32)
        if self._feature_session is None:
            return x.reshape(len(x), -1)
        try:
            out = self._feature_session.run([self.head.feature], {self._input: x})[0]
        except InvalidInputError:  # a model that takes one sample at a time
            out = np.concatenate(
                [self._feature_session.run([self.head.feature], {self._input: r[None]})[0] for r in x]
            )
        return np.asarray(out, np.float32).reshape(len(x), -1)

    # -- fast weights ------------------------------------------------------------------------------

    def feedback_sync(self, x: np.ndarray, label: int) -> float:
        """One fast-weight step on one input and its label, then the push. Hold :attr:`lock`."""
        loss = self.learner.feedback(self.features(x[None] if x.ndim == 1 else x[:1]), np.array([label]))
        self.push()
        return loss

    def push(self) -> None:
        """Swap the effective weights into System 2 (and a float System 1 that shares the head)."""
        sessions = [self.system2.session]
        if self.system1_kind == "float":
            sessions.append(self.system1.session)
        self.learner.push(*sessions)

    # -- slow weights (sleep) ----------------------------------------------------------------------

    def snapshot(self) -> tuple[Learner, int, Params]:
        """A copy to train in a thread, the feedback step count and the fast weights at this moment."""
        live = self.learner
        return copy.deepcopy(live), live.feedback_steps, {n: v.copy() for n, v in live.fast.items()}

    def trained_copy(
        self,
        snapshot: Learner,
        x: np.ndarray,
        labels: np.ndarray,
        replay: tuple[np.ndarray, np.ndarray] | None,
    ) -> ConsolidationStats:
        """Consolidate ``snapshot`` on new data ``(x, labels)`` and ``replay``, then refresh its Fisher on
        both (touches only the copy; the sleep runs it in a worker process, :mod:`cognition.sleep_worker`)."""
        return sleep_worker.consolidate(snapshot, x, labels, replay)

    def install(self, trained: Learner, steps_then: int, fast_then: Params) -> None:
        """Take the trained copy's slow weights, Fisher and anchors; keep the fast steps since the snapshot.
        Hold :attr:`lock`; then :meth:`push`."""
        live = self.learner
        shrink = np.float32(live.config.fast_decay ** max(live.feedback_steps - steps_then, 0))
        live.slow = trained.slow
        live.anchors = trained.anchors
        live.consolidations = trained.consolidations
        for name in self.head.parameter_names:
            live.fast[name] = live.fast[name] - shrink * fast_then[name]

    # -- System 1 ----------------------------------------------------------------------------------

    def refresh_system1(self, raw: np.ndarray, features: np.ndarray) -> System1Refresh | None:
        """A ternary System 1 from the slow weights (distilled on ``features`` unless configured to only
        ternarize), with agreement with System 2 before and after, measured by running both System 1
        sessions on the replayed ``raw`` inputs. None when System 1 is not ternary. All in the calling thread;
        the sleep runs :meth:`system1_teacher`, the distillation and :meth:`system1_candidate` apart."""
        teacher = self.system1_teacher(raw, features)
        if teacher is None:
            return None
        return self.system1_candidate(raw, self.system1_latent(teacher[0], features), *teacher[1:])

    def system1_teacher(self, raw: np.ndarray, features: np.ndarray) -> tuple[Params, np.ndarray, float] | None:
        """What a System 1 refresh starts from: System 2's slow weights, their logits on ``features`` and the
        running System 1's agreement with them on ``raw``; None when there is nothing to refresh."""
        if self.system1_kind != "ternary" or self.config.system1_refresh == "off" or not len(features):
            return None
        teacher = {n: v.copy() for n, v in self.learner.weights("slow").items()}
        logits = self.learner.logits(features, which="slow")
        return teacher, logits, agreement(_scores(self.system1, raw), logits)

    def system1_latent(self, teacher: Params, features: np.ndarray) -> Params:
        """The student's latent weights: distilled (pure arrays: the sleep runs it in a worker process), or
        the teacher's own when configured to only ternarize."""
        if self.config.system1_refresh != "distill":
            return teacher
        cfg = self.config
        return sleep_worker.student(self.head, teacher, features, self.student, cfg.distill_epochs, cfg.seed)

    def system1_candidate(
        self, raw: np.ndarray, latent: Params, teacher_logits: np.ndarray, before: float
    ) -> System1Refresh:
        """The ternary session of ``latent`` and its agreement with System 2 on ``raw``; accepted when it
        agrees at least as often as the running System 1 (``before``)."""
        graph, _ = expose_features(system1_graph(self.source, latent))
        session = InferenceSession(graph, providers=_ternary_providers())
        after = agreement(_scores(_with_session(self.system1, session), raw), teacher_logits)
        accepted = after >= before
        return System1Refresh(before, after, accepted, session if accepted else None, latent)

    def system1_from_student(self, latent: Params) -> InferenceSession:
        graph, _ = expose_features(system1_graph(self.source, latent))
        return InferenceSession(graph, providers=_ternary_providers())

    # -- persistence -------------------------------------------------------------------------------

    def state_blobs(self) -> dict[str, bytes]:
        """What :meth:`load` needs, as blobs for ``memory.state.put`` (one transaction). Hold :attr:`lock`."""
        blobs = {self.key: self.learner.state_dict()}
        if self.student is not None:
            buffer = io.BytesIO()
            np.savez(buffer, allow_pickle=False, **self.student)
            blobs[self.key + "/system1"] = buffer.getvalue()
        return blobs

    def load(self, blobs: dict[str, bytes]) -> bool:
        """Restore a stored state (no push); False when none was stored for this head."""
        state = blobs.get(self.key)
        if state is None:
            return False
        self.learner.load_state_dict(state)
        student = blobs.get(self.key + "/system1")
        if student is not None:
            with np.load(io.BytesIO(student), allow_pickle=False) as data:
                self.student = {n: np.array(data[n], np.float32) for n in self.head.parameter_names}
        return True


def _source_graph(model: Any) -> ir.Graph:
    from .models import graph_of

    return graph_of(model)


def _system1_kind(system1: ModelRunner, system2: ModelRunner, learner: Learner) -> str:
    """``same`` (one session), ``float`` (System 1 holds the head's parameters: fast weights reach it),
    ``ternary`` (System 1 runs ternary layers: refreshed in sleep) or ``other`` (left alone)."""
    if system1 is system2 or system1.session is system2.session:
        return "same"
    graph = system1.session.graph
    names = learner.head.parameter_names
    if all(n in graph.initializers and graph.initializers[n].shape == learner.slow[n].shape for n in names):
        return "float"
    if any(node.domain == TERNARY_DOMAIN for node in graph.nodes):
        return "ternary"
    return "other"


def _ternary_providers() -> list[str] | None:
    if "BitNetExecutionProvider" in get_available_providers():
        return ["BitNetExecutionProvider", "CPUExecutionProvider"]
    return None


def _with_session(runner: ModelRunner, session: InferenceSession) -> ModelRunner:
    clone = copy.copy(runner)
    clone.session = session
    return clone


def _scores(runner: ModelRunner, raw: np.ndarray) -> np.ndarray:
    """The runner's score output for each row of ``raw`` (one batched run, or one run per row)."""
    name = runner.score_output
    feeds_name = runner.session.get_inputs()[0].name
    try:
        out = runner.session.run([name], {feeds_name: raw})[0]
        if len(out) == len(raw):
            return np.asarray(out, np.float32).reshape(len(raw), -1)
    except InvalidInputError:
        pass
    return np.concatenate(
        [np.asarray(runner.session.run([name], {feeds_name: r[None]})[0], np.float32).reshape(1, -1) for r in raw]
    )
