"""Semantic memory: a knowledge graph of concepts and typed, weighted relations, with ACT-R activation.

- Multi-hop neighbourhoods come from one recursive CTE (indexed on both relation ends):
  :mod:`memory_store.graph_queries`.
- Base-level and spreading activation (ACT-R, with Petrov's (2006) approximation for old uses):
  :mod:`memory_store.activation`.
- Hebbian learning strengthens the association of concepts active together (w ← w + η(1 − w)); decay
  multiplies every weight and prunes the faint ones.

Example::

    graph = memory.semantic
    cat, animal = graph.add_concepts(["cat", "animal"])
    graph.relate(cat, animal, "is_a")
    graph.neighbourhood([cat], max_hops=3)        # {cat: 0, animal: 1}
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, delete, func, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from . import codec
from .activation import Activation
from .database import Database
from .errors import InvalidMemoryInputError, InvalidQueryError, UnknownIdError
from .graph_queries import MAX_HOPS as MAX_HOPS
from .graph_queries import Direction as Direction
from .graph_queries import GraphQueries, require_concepts
from .graph_queries import Relation as Relation
from .records import finite, id_list, now, padded, positive_int
from .schema import concepts, relations

MAX_HEBBIAN_GROUP = 256

_UPSERT_CONCEPT = (
    "INSERT INTO concepts (name, prototype, created, use_count) VALUES (?, ?, ?, 0)"
    " ON CONFLICT (name) DO UPDATE SET prototype = coalesce(excluded.prototype, prototype)"
)
_IDS_BY_NAME = "SELECT name, id FROM concepts WHERE name IN (SELECT value FROM json_each(?))"
_UPSERT_RELATION = (
    "INSERT INTO relations (source_id, target_id, type, weight, updated) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (source_id, target_id, type) DO UPDATE SET weight = excluded.weight, updated = excluded.updated"
)
_HEBBIAN = (
    "INSERT INTO relations (source_id, target_id, type, weight, updated) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (source_id, target_id, type) DO UPDATE SET weight = weight + ? * (1.0 - weight), updated = ?"
)
_USE = "INSERT INTO concept_uses (concept_id, time) VALUES (?, ?)"
_BUMP = (
    "UPDATE concepts SET use_count = use_count + 1, first_use = min(coalesce(first_use, ?), ?) WHERE id = ?"
)
_TRIM = (
    "DELETE FROM concept_uses WHERE concept_id = ? AND id NOT IN (SELECT id FROM concept_uses"
    " WHERE concept_id = ? ORDER BY time DESC, id DESC LIMIT ?)"
)


@dataclass(frozen=True, slots=True)
class Concept:
    id: int
    name: str
    prototype: np.ndarray | None
    created: float
    use_count: int
    first_use: float | None


class SemanticMemory(GraphQueries, Activation):
    """The knowledge graph of one database. Synchronous and thread-safe; writes go through one writer."""

    def __init__(self, db: Database, *, history: int = 32, decay: float = 0.5) -> None:
        self._db = db
        self.history = positive_int(history, "history")
        if not 0.0 < decay < 1.0:
            raise InvalidMemoryInputError(f"decay d must lie in (0, 1), got {decay}")
        self.d = decay

    # -- concepts ----------------------------------------------------------------------------------

    def add_concepts(
        self, names: Sequence[str], prototypes: Sequence[Any] | None = None, *, time: float | None = None
    ) -> list[int]:
        """Ids of the named concepts, creating the missing ones; a given prototype replaces the stored one."""
        if prototypes is not None and len(prototypes) != len(names):
            raise InvalidMemoryInputError(f"{len(names)} names but {len(prototypes)} prototypes")
        for name in names:
            if not isinstance(name, str) or not name:
                raise InvalidMemoryInputError(f"concept names must be non-empty str, got {name!r}")
        blobs = [_prototype_blob(p) for p in (prototypes or [None] * len(names))]
        when = now() if time is None else finite(time, "time", InvalidMemoryInputError)

        def write(conn: Connection) -> list[int]:
            rows = [{"name": n, "prototype": b, "created": when} for n, b in zip(names, blobs, strict=True)]
            stmt = sqlite_insert(concepts).on_conflict_do_nothing(index_elements=["name"])
            conn.execute(stmt, rows)
            for name, blob in zip(names, blobs, strict=True):
                if blob is not None:
                    conn.execute(update(concepts).where(concepts.c.name == name).values(prototype=blob))
            stmt_ids = select(concepts.c.name, concepts.c.id).where(concepts.c.name.in_(padded(names)))
            found = {name: cid for name, cid in conn.execute(stmt_ids)}
            return [found[n] for n in names]

        return self._db.write(write) if names else []

    def add_concept(self, name: str, prototype: Any = None, *, time: float | None = None) -> int:
        return self.add_concepts([name], None if prototype is None else [prototype], time=time)[0]

    def find(self, name: str) -> int | None:
        """The id of the concept called ``name``, or None."""
        return self._db.read(
            lambda c: c.execute(select(concepts.c.id).where(concepts.c.name == name)).scalar()
        )

    def concepts(self, ids: int | Iterable[int]) -> list[Concept]:
        """Concepts by id, in the order given."""
        ids = id_list(ids, "concept")
        stmt = select(concepts).where(concepts.c.id.in_(bindparam("ids", expanding=True)))
        rows = {r.id: r for r in self._db.read(lambda c: c.execute(stmt, {"ids": padded(ids)}).all())}
        if missing := set(ids) - rows.keys():
            raise UnknownIdError("concept id", missing)
        return [
            Concept(
                r.id,
                r.name,
                None if r.prototype is None else codec.blob_to_vector(r.prototype),
                r.created,
                r.use_count,
                r.first_use,
            )
            for r in (rows[i] for i in ids)
        ]

    def concepts_named(self, prefix: str) -> list[Concept]:
        """Every concept whose name starts with ``prefix``, by id (``LIKE`` with the prefix escaped)."""
        if not isinstance(prefix, str):
            raise InvalidMemoryInputError(f"a name prefix must be a str, got {prefix!r}")
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = select(concepts).where(concepts.c.name.like(escaped + "%", escape="\\")).order_by(concepts.c.id)
        rows = self._db.read(lambda c: c.execute(stmt).all())
        return [
            Concept(
                r.id,
                r.name,
                None if r.prototype is None else codec.blob_to_vector(r.prototype),
                r.created,
                r.use_count,
                r.first_use,
            )
            for r in rows
        ]

    def remove_concepts(self, ids: int | Iterable[int]) -> None:
        """Delete concepts with their relations and use history."""
        ids = id_list(ids, "concept")
        stmt = delete(concepts).where(concepts.c.id.in_(bindparam("ids", expanding=True)))
        self._db.write(lambda c: (require_concepts(c, ids), c.execute(stmt, {"ids": padded(ids)})))

    def count(self) -> int:
        return int(
            self._db.read(lambda c: c.execute(select(func.count()).select_from(concepts)).scalar_one())
        )

    # -- relations ---------------------------------------------------------------------------------

    def relate(self, source: int, target: int, type: str = "related", weight: float = 1.0) -> None:
        """Create or reweight the relation ``source -type-> target``."""
        self.relate_many([(source, target, type, weight)])

    def relate_many(self, triples: Iterable[tuple[int, int, str, float]]) -> None:
        """Create or reweight many relations in one transaction."""
        when = now()
        rows: list[dict[str, Any]] = []
        for source, target, rtype, weight in triples:
            if not isinstance(rtype, str) or not rtype:
                raise InvalidMemoryInputError(f"relation types must be non-empty str, got {rtype!r}")
            w = finite(weight, "weight", InvalidMemoryInputError)
            rows.append({"source_id": int(source), "target_id": int(target), "type": rtype, "weight": w})
        if not rows:
            return
        for row in rows:
            row["updated"] = when
        stmt = sqlite_insert(relations)
        stmt = stmt.on_conflict_do_update(
            index_elements=["source_id", "target_id", "type"],
            set_={"weight": stmt.excluded.weight, "updated": stmt.excluded.updated},
        )
        ends: list[int] = sorted({int(r["source_id"]) for r in rows} | {int(r["target_id"]) for r in rows})
        self._db.write(lambda c: (require_concepts(c, ends), c.execute(stmt, rows)))

    # -- learning ----------------------------------------------------------------------------------

    def strengthen(self, ids: Iterable[int], *, rate: float = 0.1, type: str = "associated") -> None:
        """Hebbian step for concepts active together: each pair's association w ← w + rate·(1 − w).

        A missing association starts at ``rate``. Pairs are stored once, from the smaller id to the larger.
        """
        group = sorted(set(id_list(ids, "concept")))
        if len(group) > MAX_HEBBIAN_GROUP:
            raise InvalidQueryError(f"at most {MAX_HEBBIAN_GROUP} co-active concepts, got {len(group)}")
        eta = finite(rate, "rate", InvalidMemoryInputError)
        if not 0.0 < eta <= 1.0:
            raise InvalidMemoryInputError(f"rate must lie in (0, 1], got {rate}")
        when = now()
        rows = [
            {"source_id": a, "target_id": b, "type": type, "weight": eta, "updated": when}
            for a, b in itertools.combinations(group, 2)
        ]
        if not rows:
            return
        stmt = sqlite_insert(relations)
        stmt = stmt.on_conflict_do_update(
            index_elements=["source_id", "target_id", "type"],
            set_={"weight": relations.c.weight + eta * (1.0 - relations.c.weight), "updated": when},
        )
        self._db.write(lambda c: (require_concepts(c, group), c.execute(stmt, rows)))

    def decay(self, factor: float = 0.95, *, prune_below: float = 0.01) -> int:
        """Multiply every relation weight by ``factor``, delete those below ``prune_below``, count them."""
        f = finite(factor, "factor", InvalidMemoryInputError)
        if not 0.0 < f <= 1.0:
            raise InvalidMemoryInputError(f"factor must lie in (0, 1], got {factor}")
        floor = finite(prune_below, "prune_below", InvalidMemoryInputError)

        def write(conn: Connection) -> int:
            conn.execute(update(relations).values(weight=relations.c.weight * f))
            return int(conn.execute(delete(relations).where(relations.c.weight < floor)).rowcount)

        return self._db.write(write)

    def merge(
        self,
        concepts: Mapping[str, Any],
        relations: Sequence[tuple[str, str, str, float]] = (),
        *,
        strengthen: Sequence[tuple[str, str]] = (),
        rate: float = 0.1,
        type: str = "associated",
        used: Sequence[str] = (),
        time: float | None = None,
    ) -> dict[str, int]:
        """Many graph updates in one DB-API transaction, by concept name (a sleep's knowledge-graph step:
        ~1 ms where the same through :meth:`add_concepts`, :meth:`relate_many`, :meth:`strengthen` and
        :meth:`record_use` costs ~15 ms of GIL-holding Python).

        ``concepts``: name → prototype (None keeps a stored one), created when missing; ``relations``:
        ``(source, target, type, weight)`` created or reweighted; ``strengthen``: pairs given one Hebbian
        step each, in order, as :meth:`strengthen` of the two; ``used``: concepts whose use is recorded at
        ``time``, as :meth:`record_use`. Every name in ``relations``, ``strengthen`` and ``used`` must be in
        ``concepts``. Returns the ids of ``concepts``."""
        names = list(concepts)
        for name in names:
            if not isinstance(name, str) or not name:
                raise InvalidMemoryInputError(f"concept names must be non-empty str, got {name!r}")
        blobs = [_prototype_blob(concepts[n]) for n in names]
        eta = finite(rate, "rate", InvalidMemoryInputError)
        if not 0.0 < eta <= 1.0:
            raise InvalidMemoryInputError(f"rate must lie in (0, 1], got {rate}")
        when = now() if time is None else finite(time, "time", InvalidMemoryInputError)
        links = []
        for source, target, rtype, weight in relations:
            if not isinstance(rtype, str) or not rtype:
                raise InvalidMemoryInputError(f"relation types must be non-empty str, got {rtype!r}")
            links.append((source, target, rtype, finite(weight, "weight", InvalidMemoryInputError)))
        known = set(names)
        unknown = {n for r in links for n in r[:2]} | {n for p in strengthen for n in p} | set(used)
        if unknown - known:
            raise InvalidMemoryInputError(f"concepts not in `concepts`: {sorted(unknown - known)[:5]}")

        def write(conn: sqlite3.Connection) -> dict[str, int]:
            conn.executemany(_UPSERT_CONCEPT, [(n, b, when) for n, b in zip(names, blobs, strict=True)])
            ids = dict(conn.execute(_IDS_BY_NAME, (json.dumps(names),)).fetchall())
            conn.executemany(_UPSERT_RELATION, [(ids[a], ids[b], t, w, when) for a, b, t, w in links])
            pairs = [sorted((ids[a], ids[b])) for a, b in strengthen if ids[a] != ids[b]]
            conn.executemany(_HEBBIAN, [(a, b, type, eta, when, eta, when) for a, b in pairs])
            uses = sorted({ids[n] for n in used})
            conn.executemany(_USE, [(i, when) for i in uses])
            conn.executemany(_BUMP, [(when, when, i) for i in uses])
            conn.executemany(_TRIM, [(i, i, self.history) for i in uses])
            return {n: ids[n] for n in names}

        return self._db.write_dbapi(write) if names else {}


def _prototype_blob(prototype: Any) -> bytes | None:
    if prototype is None:
        return None
    return codec.vector_to_blob(codec.check_vectors(prototype, None, what="prototype")[0])
