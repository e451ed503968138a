"""The episodic index kept in step with the rows: catch-up, rebuild, reconciliation, saving.

SQLite is the truth and the hnswlib index a cache. On open, a missing, foreign or damaged index file is rebuilt
from the rows, rows above the highest covered id are added, and a live count that differs from the row count is
reconciled by set difference. Before every search (and on :meth:`~IndexedEpisodes.sync`) the index catches up
with rows any process committed since it last looked.

:class:`IndexedEpisodes` is the part of :class:`~memory_store.episodic.EpisodicMemory` that owns the index; the
row queries both share are defined here too.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, func, select

from . import codec
from .database import Database, driver
from .hnsw_index import EpisodeIndex, HnswParams, Space, remove_stale_temporaries
from .records import padded
from .schema import episode_inputs, episodes

_REBUILD_CHUNK = 20_000

#: An episode's input: its own column, or, when that is NULL, the ``episode_inputs`` row of its digest (an input
#: committed ahead by ``store_input``; one primary-key probe, skipped for rows that hold their input).
INPUT = func.coalesce(
    episodes.c.input,
    select(episode_inputs.c.input).where(episode_inputs.c.digest == episodes.c.input_digest).scalar_subquery(),
).label("input")
SUMMARY = [c for c in episodes.c if c.name not in ("input", "output", "vector")]
FULL = [INPUT if c.name == "input" else c for c in episodes.c]
NEWEST = select(func.max(episodes.c.id))
#: A catch-up's chunk, the rows with ``? < id < ?`` in id order, at most ``?``, as one row: their ids (JSON) and
#: their vectors' bytes joined. One step of SQLite's, so the reading thread gives the GIL up and takes it back
#: once, not once a row (an agent's event loop waited at those hand-offs: 20-45 ms of them every catch-up).
CHUNK = (
    "SELECT json_group_array(id), CAST(group_concat(vector, '') AS BLOB)"
    " FROM (SELECT id, vector FROM episodes WHERE id > ? AND id < ? ORDER BY id LIMIT ?)"
)
#: no upper bound for CHUNK (SQLite's largest rowid is 2**63 - 1)
NO_BOUND = 2**63 - 1
COUNT = select(func.count()).select_from(episodes)
BY_IDS = {
    payload: select(*(FULL if payload else SUMMARY)).where(episodes.c.id.in_(bindparam("ids", expanding=True)))
    for payload in (False, True)
}


class IndexedEpisodes:
    """The episodes' hnswlib index: opened (or rebuilt) with the dimension, caught up with the rows, saved."""

    _db: Database
    _dim: int | None
    _params: HnswParams
    _index_path: Path | None
    _index: EpisodeIndex | None
    space: Space
    index_repair: str

    def sync(self) -> None:
        """Add index points for rows committed since the index last looked (by any process), up to the newest
        row at the call: rows committed meanwhile wait for the next call (an indexer that chased a busy writer
        ran one query per new row, for hundreds of milliseconds, taking the GIL from the writer's thread)."""
        if self._index is None:
            return
        newest = self._db.read(lambda c: c.execute(NEWEST).scalar()) or 0
        if newest > self._index.known_max:
            with self._index.lock:
                self._catch_up(self._index.known_max, newest + 1)

    def in_index(self, episode_id: int) -> bool:
        """True when the episode is a live point of the index (after catching up with the rows)."""
        self.sync()
        return self._index is not None and self._index.contains(episode_id)

    def save_index(self) -> None:
        """Write the index file beside the database if it changed (also done by ``close``)."""
        if self._index is not None and self._index_path is not None and self._index.dirty:
            self._index.save(self._index_path)

    def close(self) -> None:
        self.save_index()

    def _index_add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        assert self._index is not None
        with self._index.lock:
            if len(ids) and ids[0] > self._index.known_max + 1:  # rows committed by others in between
                self._catch_up(self._index.known_max, int(ids[0]))
            self._index.add(ids, vectors)

    def _catch_up(self, above: int, below: int | None, *, threads: int | None = None) -> int:
        """Add the rows with ``above < id < below`` to the index, in chunks; return how many."""
        assert self._index is not None
        added = 0
        bound = NO_BOUND if below is None else below
        while True:
            params = (above, bound, _REBUILD_CHUNK)
            listed, joined = self._db.read(lambda c: driver(c).execute(CHUNK, params).fetchone())  # noqa: B023
            ids = np.asarray(json.loads(listed), dtype=np.int64)
            if not len(ids):
                return added
            vectors = codec.joined_to_matrix(joined, len(ids), self._index.dim)
            if (np.diff(ids) <= 0).any():  # the aggregates follow the subquery's order here; SQL does not promise it
                order = np.argsort(ids)
                ids, vectors = ids[order], vectors[order]
            self._index.add(ids, vectors, threads=threads)
            above, added = int(ids[-1]), added + len(ids)

    def _ensure_index(self) -> None:
        if self._index is None:
            self._open_index()

    def _open_index(self) -> None:
        """Load the index file, or rebuild it from the rows; then catch up and reconcile counts."""
        assert self._dim is not None
        index, why = (
            (None, "in-memory database")
            if self._index_path is None
            else EpisodeIndex.load(self._index_path, self._dim, self.space, self._params)
        )
        if self._index_path is not None:
            remove_stale_temporaries(self._index_path)
        rows = int(self._db.read(lambda c: c.execute(COUNT).scalar_one()))
        if index is None:
            index = EpisodeIndex(self._dim, self.space, self._params, capacity=rows + 1024)
            self._index = index
            self._catch_up(0, None, threads=-1)
            self.index_repair = f"rebuilt from {rows} rows: {why}" if rows else ""
            return
        self._index = index
        added = self._catch_up(index.known_max, None, threads=-1)
        self.index_repair = f"caught up with {added} rows" if added else ""
        if index.live != rows:
            self._reconcile()
            self.index_repair = f"reconciled with the rows: {index.live} points for {rows} rows"

    def _reconcile(self) -> None:
        """Make the index's live points exactly the table's ids (after another process forgot rows)."""
        assert self._index is not None
        ids = np.asarray(self._db.read(lambda c: c.execute(select(episodes.c.id)).scalars().all()), np.int64)
        labels = self._index.labels()
        self._index.remove(np.setdiff1d(labels, ids))
        lacking = np.setdiff1d(ids, labels).tolist()
        for start in range(0, len(lacking), _REBUILD_CHUNK):
            chunk = lacking[start : start + _REBUILD_CHUNK]
            found = self._db.read(functools.partial(self._rows, ids=chunk, with_payload=True))
            self._index.add_missing(
                np.asarray(chunk, np.int64),
                codec.blobs_to_matrix([found[i].vector for i in chunk], self._index.dim),
            )
        self._index.live = len(ids)

    def _rows(self, conn: Connection, ids: list[int], with_payload: bool) -> dict[int, Any]:
        return {r.id: r for r in conn.execute(BY_IDS[with_payload], {"ids": padded(ids)})}
