"""Episode row reads: by id, by time, by importance, by input; raw rows for :mod:`memory_store.bulk`; the count.

:class:`EpisodeReads` sits between the search (:mod:`memory_store.episodic_search`) and the writes
(:class:`memory_store.episodic.EpisodicMemory`, which inherits it).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Select, bindparam, select, text, union_all
from sqlalchemy.sql.elements import ColumnElement

from . import bulk, codec
from .database import driver
from .episodic_index import COUNT, FULL, SUMMARY
from .episodic_search import EpisodeSearch
from .errors import UnknownIdError
from .records import (
    Consolidation,
    Episode,
    episode_filter,
    episode_from_row,
    filter_term,
    filter_values,
    id_list,
    positive_int,
)
from .schema import SETTLED, episodes


def by_time(columns: Sequence[Any], where: list[Any], one_state: bool, newest_first: bool, limit: Any) -> Select[Any]:
    """``columns`` of the episodes matching ``where`` in time order (ties by id), at most ``limit``.

    The index by time leads with the consolidation state (an insert keeps one index fewer, revision 0006):
    unless ``where`` fixes the state (``one_state``), one arm per state, each an index range in order cut at
    ``limit``, merged, and the chosen rows read by id (not a sort of every episode for the newest few).
    A row whose state is none of :class:`Consolidation`'s (only raw SQL writes one) is not found."""

    def order(table: Any) -> tuple[ColumnElement[Any], ...]:
        return (table.c.time.desc(), table.c.id.desc()) if newest_first else (table.c.time, table.c.id)

    if one_state:
        stmt = select(*columns).where(*where).order_by(*order(episodes))
        return stmt if limit is None else stmt.limit(limit)
    arms = []
    for state in Consolidation:  # (time, id) from the index alone, then each chosen row by id
        arm = select(episodes.c.time, episodes.c.id).where(*where, episodes.c.consolidation == int(state))
        arm = arm.order_by(*order(episodes))
        arms.append(select(*(arm if limit is None else arm.limit(limit)).subquery().c))
    merged = union_all(*arms).subquery()
    chosen = select(*merged.c).order_by(*order(merged))
    chosen = (chosen if limit is None else chosen.limit(limit)).subquery()
    return select(*columns).select_from(chosen.join(episodes, episodes.c.id == chosen.c.id)).order_by(*order(chosen))


# The statements by time are built once per shape, the values bound at each call: building the merged select
# took ~1 ms of Python a call, SQLite's run of it ~0.04 ms.
@functools.lru_cache(maxsize=128)
def _between(names: tuple[str, ...], newest_first: bool, with_payload: bool) -> Select[Any]:
    """:meth:`EpisodeReads.between`'s statement for the filters ``names`` (and ``limit``), bound by name."""
    where = [filter_term(name, bindparam(name)) for name in names if name != "limit"]
    limit = bindparam("limit") if "limit" in names else None
    return by_time(FULL if with_payload else SUMMARY, where, "consolidation" in names, newest_first, limit)


@functools.lru_cache(maxsize=1)
def _recent_vectors() -> Select[Any]:
    return by_time([episodes.c.vector], [], False, True, bindparam("limit"))


class EpisodeReads(EpisodeSearch):
    """The row reads of :class:`~memory_store.episodic.EpisodicMemory`."""

    def get(self, ids: Iterable[int], *, with_payload: bool = True) -> list[Episode]:
        """Episodes by id, in the order given (with vector, input and output unless told otherwise)."""
        ids = id_list(ids)
        found = self._db.read(lambda c: self._rows(c, ids, with_payload))
        missing = set(ids) - found.keys()
        if missing:
            raise UnknownIdError("episode id", missing)
        return [episode_from_row(found[i], with_payload) for i in ids]

    def between(
        self,
        since: float | None = None,
        until: float | None = None,
        *,
        limit: int | None = None,
        newest_first: bool = False,
        with_payload: bool = False,
        **filters: Any,
    ) -> list[Episode]:
        """Episodes with ``since <= time < until`` in time order.

        ``filters``: ``route``, ``label``, ``consolidation`` (equality) and ``min_importance``. Reads the
        (consolidation, time) index: one range per consolidation state, merged, unless ``consolidation`` is
        given.
        """
        values = filter_values(since, until, **filters)
        if limit is not None:
            values["limit"] = positive_int(limit, "limit")
        stmt = _between(tuple(values), newest_first, with_payload)
        rows = self._db.read(lambda c: c.execute(stmt, values).all())
        return [episode_from_row(r, with_payload) for r in rows]

    def recent_vectors(self, limit: int) -> np.ndarray:
        """The vectors of the newest ``limit`` episodes (by time), oldest first, as a float32 (n, dim) matrix: the
        vector column alone (``between(with_payload=True)`` would read and decode every input too: 1,024
        episodes of 300 KB images took 1.2 s and 850 MB)."""
        values = {"limit": positive_int(limit, "limit")}
        blobs = self._db.read(lambda c: c.execute(_recent_vectors(), values).scalars().all())
        if self._dim is None or not blobs:
            return np.empty((0, self._dim or 0), np.float32)
        return codec.blobs_to_matrix(blobs[::-1], self._dim)

    def by_importance(
        self, consolidation: Consolidation, *, limit: int, lowest_first: bool = False, labelled: bool = False
    ) -> list[Episode]:
        """The most important episodes in a consolidation state, most important first (sleep's choice);
        ``lowest_first``: the least important first (forgetting's choice); ``labelled``: only episodes with
        a label. A settled state reads the partial (state, importance) index; the new episodes are sorted."""
        order = episodes.c.importance if lowest_first else episodes.c.importance.desc()
        where = episode_filter(consolidation=consolidation)
        if Consolidation(consolidation) != Consolidation.NEW:
            where.append(text(SETTLED))  # literally: a bound 0 would not let SQLite match the partial index
        if labelled:
            where.append(episodes.c.label.is_not(None))
        stmt = select(*SUMMARY).where(*where).order_by(order, episodes.c.id).limit(positive_int(limit, "limit"))
        return [episode_from_row(r, False) for r in self._db.read(lambda c: c.execute(stmt).all())]

    def find_input(self, value: codec.Payload) -> list[int]:
        """Ids of episodes whose input equals ``value`` (by digest), oldest first."""
        d = codec.digest(value)
        stmt = select(episodes.c.id).where(episodes.c.input_digest == d).order_by(episodes.c.id)
        return list(self._db.read(lambda c: c.execute(stmt).scalars().all()))

    def query(self, sql: str, params: Sequence[Any] = ()) -> bulk.Rows:
        """Raw rows of one DB-API ``SELECT`` in a read transaction (:mod:`memory_store.bulk`'s source for an
        in-memory database)."""
        return self._db.read(lambda c: driver(c).execute(sql, tuple(params)).fetchall())

    @property
    def source(self) -> bulk.Source:
        """Where :mod:`memory_store.bulk` reads these episodes: the database file (a worker process can open
        it), or :meth:`query` for an in-memory database."""
        return str(self._db.path) if self._db.path is not None else self.query

    def count(self) -> int:
        return int(self._db.read(lambda c: c.execute(COUNT).scalar_one()))

    def __len__(self) -> int:
        return self.count()
