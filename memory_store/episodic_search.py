"""Nearest-episode search: exact distances over a selective filter's rows, or the index with over-fetch.

A bounded count (``LIMIT EXACT_SEARCH_LIMIT + 1``) decides: at most :data:`EXACT_SEARCH_LIMIT` matching rows
are ranked exactly in numpy; more are found by asking the index for ``4k`` points, ×4 until ``k`` survive the
SQL filter. The rows and the newest id come from one read snapshot, so rows the index lacks force a catch-up
and rows another process forgot are dropped from the results (and from the index).

:class:`EpisodeSearch` is the search part of :class:`~memory_store.episodic.EpisodicMemory`.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from sqlalchemy import Connection, func, select

from . import codec
from .episodic_index import BY_IDS, FULL, NEWEST, IndexedEpisodes
from .errors import InvalidQueryError
from .records import Episode, episode_filter, episode_from_row, padded, positive_int
from .schema import episodes

#: Below this many rows matching a filter, a search computes exact distances instead of asking the index.
EXACT_SEARCH_LIMIT = 2048


class EpisodeSearch(IndexedEpisodes):
    """``search``: the ``k`` nearest episodes to a vector, optionally filtered."""

    def search(
        self,
        vector: Any,
        k: int = 10,
        *,
        since: float | None = None,
        until: float | None = None,
        ef: int | None = None,
        with_payload: bool = False,
        **filters: Any,
    ) -> list[Episode]:
        """The ``k`` episodes nearest to ``vector``, nearest first, with ``distance`` set.

        Distance is Euclidean for ``space="l2"`` and ``1 - cosine`` for ``"cosine"``. ``since``/``until`` and
        ``filters`` (``route``, ``label``, ``consolidation``, ``min_importance``) restrict the candidates: a
        selective filter is answered exactly from the rows, a broad one by over-fetching from the index.
        """
        k = positive_int(k, "k")
        if self._dim is None:
            return []
        query = codec.check_vectors(vector, self._dim, what="query vector", round16=False)
        if query.shape[0] != 1:
            raise InvalidQueryError(f"search takes one query vector, got {query.shape[0]}")
        where = episode_filter(since, until, **filters)
        index = self._index
        assert index is not None
        if where:
            # count at most EXACT_SEARCH_LIMIT + 1 matches: enough to choose, cheap when the filter is broad
            sample = select(episodes.c.id).where(*where).limit(EXACT_SEARCH_LIMIT + 1).subquery()
            count = select(func.count()).select_from(sample)
            matching = self._db.read(lambda c: c.execute(count).scalar()) or 0
            if not matching:
                return []
            if matching <= EXACT_SEARCH_LIMIT:
                return self._exact(query[0], k, where, with_payload)
            fetch = min(index.live, 4 * k)
        else:
            fetch = k
        stmt = BY_IDS[with_payload] if not where else BY_IDS[with_payload].where(*where)

        def fetch_rows(conn: Connection, *, ids: list[int]) -> tuple[int, dict[int, Any]]:
            newest = conn.execute(NEWEST).scalar() or 0
            return newest, {r.id: r for r in conn.execute(stmt, {"ids": padded(ids)})}

        while True:
            labels, dist = index.query(query, fetch, ef)
            ids = labels.tolist()
            # the rows and the newest id come from one snapshot; rows the index lacks force a catch-up
            newest, found = self._db.read(functools.partial(fetch_rows, ids=ids))
            if newest > index.known_max:
                self.sync()
                continue
            if not where and len(found) < len(ids):  # rows another process forgot: drop their points
                index.remove([i for i in ids if i not in found])
            hits = [(d, found[i]) for i, d in zip(ids, dist.tolist(), strict=True) if i in found]
            if len(hits) >= k or fetch >= index.live:
                break
            fetch = min(index.live, fetch * 4)
        return [episode_from_row(r, with_payload, self._distance(d)) for d, r in hits[:k]]

    def _exact(self, query: np.ndarray, k: int, where: list[Any], with_payload: bool) -> list[Episode]:
        rows = self._db.read(lambda c: c.execute(select(*FULL).where(*where)).all())
        matrix = codec.blobs_to_matrix([r.vector for r in rows], query.shape[0])
        if self.space == "cosine":
            norms = np.linalg.norm(matrix, axis=1) * float(np.linalg.norm(query))
            dist = 1.0 - (matrix @ query) / np.where(norms == 0, 1.0, norms)
        else:
            dist = ((matrix - query) ** 2).sum(axis=1)
        order = np.argsort(dist, kind="stable")[:k]
        return [episode_from_row(rows[i], with_payload, self._distance(float(dist[i]))) for i in order]

    def _distance(self, raw: float) -> float:
        return math.sqrt(max(raw, 0.0)) if self.space == "l2" else raw
