"""The cascade for one percept: System 1 runs, the HRM judges, and System 2 (or a near-duplicate of one of its
answers) takes over when System 1 should not answer. docs/agent.md, "One infer", steps 3-4."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .models import Models
from .perception import Percept
from .router import HRM
from .systems import Answer, ModelRunner, System1
from .vectors import Projection, VectorWindow


@dataclass(frozen=True, slots=True)
class Routed:
    """The answer for one percept, the route that gave it and why, and its episode vector."""

    answer: Answer
    route: str
    reason: str
    vector: np.ndarray
    complexity_rank: float = 0.0
    novelty_rank: float = 0.0
    #: System 1's (confidence, prediction) and the route taken, for calibration from feedback; None from cache
    system1: tuple[float, int, str] | None = None


class Cascade:
    """System 1's run, the HRM's decision and the escalation; counts escalations and budget-limited calls."""

    def __init__(
        self, hrm: HRM, system1: System1, models: Models, window: VectorWindow, projection: Projection
    ) -> None:
        self.hrm = hrm
        self.system1 = system1
        self._system2: ModelRunner = models.system2
        self.window = window
        self.projection = projection
        self.escalations = 0
        self.budget_limited = 0

    async def run_system1(
        self, feeds: dict[str, np.ndarray], *, alone: bool, budget: float | None, input_features: bool = True
    ) -> tuple[Answer, bool]:
        """System 1's answer, and whether no route fitted ``budget`` (System 1 alone is already too slow).
        ``input_features``: as for :meth:`ModelRunner.run`."""
        hrm = self.hrm
        limited = budget is not None and hrm.system1_latency.value > budget
        start = time.perf_counter()
        answer = await self.system1.runner.run(feeds, alone=alone, input_features=input_features)
        hrm.system1_latency.add(time.perf_counter() - start)
        return answer, limited

    def cached(self, answer: Answer) -> Routed:
        """The route of an exact cache hit."""
        return Routed(answer, "cache", "exact cache hit", self.projection(answer.features))

    async def route(
        self,
        s1: Answer,
        percept: Percept,
        feeds: dict[str, np.ndarray],
        *,
        remaining: float | None,
        budget: float | None,
        limited: bool,
        alone: bool,
        fingerprint: int | None,
    ) -> Routed:
        """Score the percept, keep System 1's answer or escalate, and remember the answer in the caches.

        ``remaining``: what is left of the call's ``budget`` (None: no budget); ``alone``: whether System 2 may
        run on the event loop; ``fingerprint``: the input's, for the exact cache.
        """
        hrm, system1 = self.hrm, self.system1
        vector = self.projection(s1.features)
        c_rank, n_rank = hrm.score(percept.complexity, self.window.observe(vector))
        decision = hrm.decide(s1.confidence, c_rank, n_rank, remaining)
        reason = decision.reason
        if decision.escalate:
            self.escalations += 1
            near = system1.near(vector)
            if near is not None:
                answer, route = with_features(near, s1.features), "cache"
                reason += "; near-duplicate of a System 2 answer in working memory"
            else:
                start = time.perf_counter()
                s2 = await self._system2.run(feeds, alone=alone)
                hrm.system2_latency.add(time.perf_counter() - start)
                answer, route = with_features(s2, s1.features), "system2"
        else:
            answer, route = s1, "system1"
        system1.remember(
            percept.digest, answer, from_system2=decision.escalate, vector=vector, fingerprint=fingerprint
        )
        if limited and budget is not None:
            reason = f"no route fits the budget ({budget * 1e3:.3g} ms): ran the cheapest; " + reason
        self.budget_limited += limited or decision.budget_limited
        return Routed(answer, route, reason, vector, c_rank, n_rank, (s1.confidence, s1.prediction, route))


def with_features(answer: Answer, features: np.ndarray) -> Answer:
    """``answer`` with other features (System 2's answer carries System 1's; a job computed them)."""
    return Answer(answer.output, answer.probabilities, answer.prediction, answer.confidence, features)
