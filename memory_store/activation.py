"""ACT-R activation of concepts: use history, base-level activation and spreading activation.

- Base-level activation B_i = ln Σ_j (t − t_j)^(−d), d = 0.5, over the concept's uses. The newest
  ``history`` uses are kept exactly; older ones are summarised by a count and the first use's time and enter
  through Petrov's (2006) closed-form approximation, so the history table stays bounded.
- Spreading activation from context concepts j: S_ji = S − ln(fan_j), weighted W_j = W / len(context), where
  fan_j counts the relations touching j.

:class:`Activation` is the activation part of :class:`~memory_store.semantic.SemanticMemory`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, delete, func, select, text, update

from .database import Database
from .errors import InvalidMemoryInputError, UnknownIdError
from .graph_queries import require_concepts
from .records import finite, id_list, now, padded
from .schema import concept_uses, concepts


class Activation:
    """``record_use``, ``base_level``, ``spreading`` and ``activation`` (B_i + spreading)."""

    _db: Database
    #: Uses kept exactly per concept; older ones are summarised.
    history: int
    #: The base-level decay d.
    d: float

    def record_use(self, ids: int | Iterable[int], *, time: float | None = None) -> None:
        """Record that concepts were used (retrieved or matched) at ``time`` (default now)."""
        ids = id_list(ids, "concept")
        when = now() if time is None else finite(time, "time", InvalidMemoryInputError)
        trim = delete(concept_uses).where(
            concept_uses.c.concept_id == bindparam("cid"),
            concept_uses.c.id.not_in(
                select(concept_uses.c.id)
                .where(concept_uses.c.concept_id == bindparam("cid"))
                .order_by(concept_uses.c.time.desc(), concept_uses.c.id.desc())
                .limit(self.history)
                .scalar_subquery()
            ),
        )
        bump = (
            update(concepts)
            .where(concepts.c.id == bindparam("cid"))
            .values(
                use_count=concepts.c.use_count + 1,
                first_use=func.min(func.coalesce(concepts.c.first_use, when), when),
            )
        )

        def write(conn: Connection) -> None:
            require_concepts(conn, ids)
            conn.execute(concept_uses.insert(), [{"concept_id": i, "time": when} for i in ids])
            conn.execute(bump, [{"cid": i} for i in ids])
            conn.execute(trim, [{"cid": i} for i in set(ids)])

        self._db.write(write)

    def base_level(self, ids: int | Iterable[int], *, now_s: float | None = None) -> dict[int, float]:
        """B_i = ln Σ (t − t_j)^(−d) per concept (−inf for a concept never used)."""
        ids = id_list(ids, "concept")
        t = now() if now_s is None else finite(now_s, "now_s")
        stmt = select(concept_uses.c.concept_id, concept_uses.c.time).where(
            concept_uses.c.concept_id.in_(bindparam("ids", expanding=True))
        )
        summary = select(concepts.c.id, concepts.c.use_count, concepts.c.first_use).where(
            concepts.c.id.in_(bindparam("ids", expanding=True))
        )

        def read(conn: Connection) -> tuple[Sequence[Any], Sequence[Any]]:
            return conn.execute(summary, {"ids": padded(ids)}).all(), conn.execute(stmt, {"ids": padded(ids)}).all()

        heads, uses = self._db.read(read)
        if missing := set(ids) - {h.id for h in heads}:
            raise UnknownIdError("concept id", missing)
        times: dict[int, list[float]] = {}
        for cid, when in uses:
            times.setdefault(cid, []).append(when)
        return {h.id: self._base_level(t, times.get(h.id, []), h.use_count, h.first_use) for h in heads}

    def _base_level(self, t: float, kept: list[float], n: int, first: float | None) -> float:
        ages = t - np.asarray(kept, dtype=np.float64)
        ages = np.maximum(ages[ages >= 0], 1e-3)  # uses after t do not count; one "now" is 1 ms old
        if not len(ages):
            return -math.inf
        total = float(np.sum(ages ** (-self.d)))
        k = len(ages)
        if n > k and first is not None:
            t_n, t_k = max(t - first, 1e-3), float(ages.max())
            if t_n > t_k:  # Petrov (2006): the n - k older uses, spread evenly over [t_k, t_n]
                total += (n - k) * (t_n ** (1 - self.d) - t_k ** (1 - self.d)) / ((1 - self.d) * (t_n - t_k))
        return math.log(total)

    def spreading(self, context: Iterable[int], *, S: float = 2.0, W: float = 1.0) -> dict[int, float]:
        """Σ_j W_j S_ji for every concept linked to a context concept j, with S_ji = S − ln(fan_j)."""
        sources = sorted(set(id_list(context, "concept")))
        if not sources:
            return {}
        stmt = text(
            "WITH links(j, i) AS ("
            " SELECT source_id, target_id FROM relations WHERE source_id IN :src"
            " UNION ALL SELECT target_id, source_id FROM relations WHERE target_id IN :src)"
            " SELECT j, i, count(*) OVER (PARTITION BY j) FROM links"
        ).bindparams(bindparam("src", expanding=True))
        rows = self._db.read(lambda c: c.execute(stmt, {"src": padded(sources)}).all())
        w_j = W / len(sources)
        out: dict[int, float] = {}
        for _j, i, fan in rows:
            out[i] = out.get(i, 0.0) + w_j * (S - math.log(fan))
        return out

    def activation(
        self,
        ids: int | Iterable[int],
        *,
        context: Iterable[int] = (),
        now_s: float | None = None,
        S: float = 2.0,
        W: float = 1.0,
    ) -> dict[int, float]:
        """A_i = B_i + Σ_j W_j S_ji: how relevant each concept is now, given the context concepts."""
        base = self.base_level(ids, now_s=now_s)
        spread = self.spreading(context, S=S, W=W)
        return {i: b + spread.get(i, 0.0) for i, b in base.items()}
