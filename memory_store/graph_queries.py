"""Read-only queries over the knowledge graph: a concept's relations and its multi-hop neighbourhood.

Multi-hop neighbourhoods come from one recursive CTE (indexed on both relation ends). :class:`GraphQueries` is
the traversal part of :class:`~memory_store.semantic.SemanticMemory`; :func:`require_concepts` is the
existence check every graph write runs inside its transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, bindparam, select, text

from .database import Database
from .errors import InvalidQueryError, UnknownIdError
from .records import finite, id_list, padded, positive_int
from .schema import concepts, relations

Direction = Literal["out", "in", "both"]
MAX_HOPS = 16

_STEP = {
    "out": "SELECT r.target_id, reach.hops + 1 FROM relations r JOIN reach ON r.source_id = reach.id {cond}",
    "in": "SELECT r.source_id, reach.hops + 1 FROM relations r JOIN reach ON r.target_id = reach.id {cond}",
}


@dataclass(frozen=True, slots=True)
class Relation:
    source_id: int
    target_id: int
    type: str
    weight: float
    updated: float


class GraphQueries:
    """``relations`` and ``neighbourhood`` over one database's graph."""

    _db: Database

    def relations(self, concept: int, direction: Direction = "out") -> list[Relation]:
        """The relations leaving (``out``), entering (``in``) or touching (``both``) a concept."""
        cond = {
            "out": relations.c.source_id == concept,
            "in": relations.c.target_id == concept,
            "both": (relations.c.source_id == concept) | (relations.c.target_id == concept),
        }[_direction(direction)]
        stmt = (
            select(
                relations.c.source_id,
                relations.c.target_id,
                relations.c.type,
                relations.c.weight,
                relations.c.updated,
            )
            .where(cond)
            .order_by(relations.c.id)
        )
        return [Relation(*r) for r in self._db.read(lambda c: c.execute(stmt).all())]

    def neighbourhood(
        self,
        start: int | Iterable[int],
        max_hops: int = 3,
        *,
        direction: Direction = "out",
        types: Sequence[str] | None = None,
        min_weight: float = 0.0,
    ) -> dict[int, int]:
        """Every concept within ``max_hops`` relations of ``start``, mapped to its fewest hops (starts: 0).

        One recursive CTE; ``types`` and ``min_weight`` restrict the relations followed.
        """
        starts = id_list(start, "concept")
        hops = positive_int(max_hops, "max_hops")
        if hops > MAX_HOPS:
            raise InvalidQueryError(f"max_hops must be at most {MAX_HOPS}, got {hops}")
        cond = "WHERE reach.hops < :max_hops AND r.weight >= :min_weight"
        params: dict[str, Any] = {
            "starts": padded(starts),
            "max_hops": hops,
            "min_weight": finite(min_weight, "min_weight"),
        }
        binds: list[Any] = [bindparam("starts", expanding=True)]
        if types is not None:
            cond += " AND r.type IN :types"
            params["types"] = list(types)
            binds.append(bindparam("types", expanding=True))
        steps = ["out", "in"] if _direction(direction) == "both" else [direction]
        sql = (
            "WITH RECURSIVE reach(id, hops) AS ("
            " SELECT id, 0 FROM concepts WHERE id IN :starts"
            + "".join(" UNION " + _STEP[s].format(cond=cond) for s in steps)
            + ") SELECT id, min(hops) FROM reach GROUP BY id"
        )
        stmt = text(sql).bindparams(*binds)
        found: dict[int, int] = {
            int(i): int(h) for i, h in self._db.read(lambda c: c.execute(stmt, params).all())
        }
        if missing := set(starts) - found.keys():
            raise UnknownIdError("concept id", missing)
        return found


def require_concepts(conn: Connection, ids: list[int]) -> list[int]:
    """Raise UnknownIdError (inside the transaction, so nothing is written) unless every concept id exists."""
    stmt = select(concepts.c.id).where(concepts.c.id.in_(bindparam("ids", expanding=True)))
    if missing := set(ids) - set(conn.execute(stmt, {"ids": padded(ids)}).scalars()):
        raise UnknownIdError("concept id", missing)
    return ids


def _direction(direction: str) -> str:
    if direction not in ("out", "in", "both"):
        raise InvalidQueryError(f"direction must be 'out', 'in' or 'both', got {direction!r}")
    return direction
