"""Episodic memory: one row per episode in SQLite, one point per episode in an hnswlib index.

The row is committed first and is the truth; the index point is added after the commit and may lag (a killed
process loses the unsaved index, never a returned episode). On open, and before every search, the index
catches up with rows it lacks; a missing, stale or damaged index file is rebuilt from the rows.

This module holds the writes; :class:`EpisodicMemory` inherits the row reads from
:mod:`memory_store.episodic_reads`, ``search`` from :mod:`memory_store.episodic_search` and the index upkeep
(``sync``, ``save_index``, repair on open) from :mod:`memory_store.episodic_index`.

Example::

    memory = memory_store.open_memory(":memory:", dim=4)
    [eid] = memory.episodic.add_many([NewEpisode(vector=[0, 1, 0, 0], route="system1", label=2)])
    memory.episodic.search([0, 1, 0, 0.1], k=5)   # [Episode(id=eid, distance=0.1, ...)]
"""

from __future__ import annotations

import sqlite3
import time as _time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, select

from . import bulk, codec
from . import episode_writes as sql
from .database import Database
from .episodic_reads import EpisodeReads
from .errors import InvalidMemoryInputError, InvalidVectorError, UnknownIdError
from .hnsw_index import EpisodeIndex, HnswParams, Space
from .records import (
    UNSET,
    Consolidation,
    EncodedEpisode,
    NewEpisode,
    StoredInput,
    Unset,
    encode_episode,
    finite,
    id_list,
    padded,
)
from .schema import episodes


class EpisodicMemory(EpisodeReads):
    """Episodes in one database; the vector dimension is fixed per database on first use.

    Use it through :func:`memory_store.open_memory`. Every method is synchronous and thread-safe; writes
    go through the database's single writer.
    """

    def __init__(self, db: Database, *, dim: int | None, space: Space, params: HnswParams) -> None:
        self._db = db
        self._params = params
        self._index_path: Path | None = None if db.path is None else db.path.with_name(db.path.name + ".hnsw")
        self._index: EpisodeIndex | None = None
        #: Why the index was repaired on open ("" when it loaded intact); tests and logs read it.
        self.index_repair = ""
        stored_dim, stored_space = db.read(lambda c: (db.get_meta(c, "episode_dim"), db.get_meta(c, "episode_space")))
        if stored_space is not None and stored_space != space:
            space = stored_space  # type: ignore[assignment]  # the database decides, like the dimension
        self.space: Space = space
        if stored_dim is not None:
            self._dim: int | None = int(stored_dim)
            if dim is not None and dim != self._dim:
                raise InvalidVectorError(f"this database stores {self._dim}-d episode vectors, not {dim}-d")
        else:
            self._dim = None
            if dim is not None:
                if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
                    raise InvalidVectorError(f"dim must be a positive int, got {dim!r}")
                self._dim = db.write(lambda c: self._claim_dim(c, dim))
        # another process's input committed ahead of its episode may be swept too: that commit stores it again
        db.write_dbapi(lambda c: c.execute(sql.SWEEP_INPUTS))
        if self._dim is not None:
            self._open_index()

    @property
    def dim(self) -> int | None:
        """The vector dimension of this database, or None before the first episode."""
        return self._dim

    # -- writes ------------------------------------------------------------------------------------

    def add(self, vector: Any, **fields: Any) -> int:
        """Store one episode and return its id; ``fields`` are those of :class:`NewEpisode`."""
        return self.add_many([NewEpisode(vector=vector, **fields)])[0]

    def store_input(
        self, value: codec.Payload, *, digest: bytes | None = None, wait: bool | float = True
    ) -> StoredInput:
        """Commit an episode's input ahead of the episode, in its own transaction; give the result as
        ``NewEpisode(input=...)`` to :meth:`commit` or :meth:`add_many` later.

        An agent knows the input long before the answer: committing a large input (100 KB+) here, from a
        worker thread while the model runs, takes its pages off the answer's commit (110 KB: this call ~200 µs,
        then the episode's commit ~65 µs against ~255 µs with the input in its row). The
        input is stored once per distinct value (by :func:`codec.digest`) and lives while an episode refers to
        it: forgetting the last such episode deletes it, and so does the next open if no episode ever came.

        Arguments:
            value: the input, an array or bytes (as ``NewEpisode.input``).
            digest: ``codec.digest(value)`` when the caller has it (skips hashing; not checked).
            wait: as for :meth:`commit`.

        Raises:
            InvalidMemoryInputError: None, an array that cannot be stored without a pickle, a digest that is
                not 16 bytes; nothing is written.
            DatabaseBusyError: the write lock stayed taken (per ``wait``).

        Example::

            stored = memory.episodic.store_input(x)            # while the model runs
            memory.episodic.commit([NewEpisode(vector=v, input=stored, output=y)])
        """
        stored = StoredInput.encode(value, digest=digest)
        self._db.write_dbapi(lambda c: c.execute(sql.STORE_INPUT, (stored.digest, stored.blob)), wait=wait)
        return stored

    def add_many(self, new: Sequence[NewEpisode | EncodedEpisode]) -> list[int]:
        """Store episodes in one transaction, add their index points, and return their ids in order.

        Every episode is checked first (vector size, finite float16 values); a bad one raises
        InvalidVectorError / InvalidMemoryInputError and nothing is written.
        """
        encoded = self._encode_all(new)
        if not encoded:
            return []
        ids = self._insert(encoded, wait=True)
        vectors = codec.blobs_to_matrix([e.values[-1] for e in encoded], encoded[0].dim)
        self._index_add(np.asarray(ids, dtype=np.int64), vectors)
        return ids

    def encode(self, new: NewEpisode) -> EncodedEpisode:
        """Check and encode one episode now (InvalidVectorError / InvalidMemoryInputError), to commit later:
        a writer that batches episodes from many callers rejects a bad one alone, not its whole batch."""
        if not isinstance(new, NewEpisode):
            raise InvalidMemoryInputError(f"expected a NewEpisode, got {type(new).__name__}")
        return new.encode(self._dim, _time.time())

    def encode_fields(
        self,
        vector: Any,
        *,
        input: codec.Payload | StoredInput = None,  # noqa: A002 - NewEpisode's field
        output: codec.Payload = None,
        route: str = "",
        confidence: float | None = None,
        input_digest: bytes | None = None,
    ) -> EncodedEpisode:
        """:meth:`encode` of ``NewEpisode(vector, input=..., ...)`` without building the record (an agent encodes
        one per ``infer``); same checks and errors."""
        return encode_episode(
            self._dim, _time.time(), vector, input, output, route, confidence, input_digest=input_digest
        )

    def commit(self, new: Sequence[NewEpisode | EncodedEpisode], *, wait: bool | float = True) -> list[int]:
        """Store episodes in one transaction *without* adding index points; return their ids in order.

        The fast path for a writer on the hot path: one DB-API ``executemany`` under the database's writer
        lock (~30 µs for one episode, against ~400 µs for :meth:`add_many` with its SQLAlchemy transaction
        and HNSW insert). When this returns, the rows are committed (durable per ``synchronous``); the index
        catches up on :meth:`sync`, on the next search, or on the next open. Checks as :meth:`add_many`:
        a bad episode raises and nothing is written. An episode whose input is a :class:`StoredInput` costs one
        more primary-key probe (its input is written again if it was deleted since :meth:`store_input`).

        ``wait=False``: raise DatabaseBusyError at once rather than wait while another thread or process
        holds the write lock; ``wait=seconds``: wait that long at most for another thread of this process
        (:meth:`Database.write_dbapi`).
        """
        encoded = self._encode_all(new)
        if not encoded:
            return []
        return self._insert(encoded, wait=wait)

    def _encode_all(self, new: Sequence[NewEpisode | EncodedEpisode]) -> list[EncodedEpisode]:
        if len(new) == 1 and type(new[0]) is EncodedEpisode and new[0].dim == self._dim:
            return [new[0]]  # an agent's one episode, encoded by the caller against this database's dimension
        now = _time.time()
        out = []
        for e in new:
            if isinstance(e, EncodedEpisode):
                out.append(e)
            elif isinstance(e, NewEpisode):
                out.append(e.encode(None, now))  # sizes are compared below, for the batch's message
            else:
                raise InvalidMemoryInputError(f"expected NewEpisode records, got {type(e).__name__}")
        sizes = {e.dim for e in out}
        if len(sizes) > 1:
            raise InvalidVectorError(f"episode vectors differ in size within one batch: {sorted(sizes)}")
        if self._dim is not None and sizes and sizes != {self._dim}:
            raise InvalidVectorError(
                f"episode vectors have {sizes.pop()} components but this database stores {self._dim}-d vectors"
            )
        return out

    def _insert(self, encoded: list[EncodedEpisode], *, wait: bool | float) -> list[int]:
        dim = encoded[0].dim
        if self._dim is None:  # the first episode of this database fixes the dimension
            self._db.write(lambda c: self._claim_dim(c, dim))
            self._dim = dim
        self._ensure_index()
        if len(encoded) == 1:  # one statement, SQLite's own transaction
            row = encoded[0].values
            statement, params = (
                (sql.INSERT, row) if encoded[0].stored_input is None else (sql.INSERT_IF_STORED, sql.if_stored(row))
            )
            ids = self._db.write_dbapi(lambda c: sql.inserted(c.execute(statement, params)), wait=wait, single=True)
            if ids:
                return ids
            # its stored input is gone: the transaction below stores it again with the row
        values = [e.values for e in encoded]
        stored = {e.stored_input.digest: e.stored_input.blob for e in encoded if e.stored_input is not None}

        def insert(conn: sqlite3.Connection) -> list[int]:
            for digest, blob in stored.items():  # deleted since store_input (a forget, a sweep): store it again
                if conn.execute(sql.HAS_INPUT, (digest,)).fetchone() is None:
                    conn.execute(sql.STORE_INPUT, (digest, blob))
            if len(values) == 1:
                last = sql.row_id(conn.execute(sql.INSERT, values[0]))
            else:
                conn.executemany(sql.INSERT, values)
                last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            # each row's id is one more than the last inside our write transaction: consecutive, ending at ``last``
            return list(range(last - len(values) + 1, last + 1))

        return self._db.write_dbapi(insert, wait=wait)

    def touch(self, ids: Iterable[int], *, time: float | None = None) -> None:
        """Record an access: ``access_count += 1`` and ``last_access = time`` (default now)."""
        ids = id_list(ids)
        when = _time.time() if time is None else float(time)
        rows = [(when, i) for i in ids]
        sql = "UPDATE episodes SET access_count = access_count + 1, last_access = ? WHERE id = ?"
        if rows:
            self._db.write_dbapi(lambda c: self._require_changed(c, ids, c.executemany(sql, rows).rowcount))

    def update(
        self,
        ids: Iterable[int],
        *,
        label: int | None | Unset = UNSET,
        reward: float | None | Unset = UNSET,
        importance: float | Unset = UNSET,
        consolidation: Consolidation | Unset = UNSET,
    ) -> None:
        """Set feedback and bookkeeping fields on episodes; fields left out keep their values."""
        ids = id_list(ids)
        values: dict[str, Any] = {}
        if not isinstance(label, Unset):
            values["label"] = None if label is None else int(label)
        if not isinstance(reward, Unset):
            values["reward"] = None if reward is None else finite(reward, "reward", InvalidMemoryInputError)
        if not isinstance(importance, Unset):
            values["importance"] = finite(importance, "importance", InvalidMemoryInputError)
        if not isinstance(consolidation, Unset):
            try:
                values["consolidation"] = int(Consolidation(consolidation))
            except ValueError:
                raise InvalidMemoryInputError(f"unknown consolidation state {consolidation!r}") from None
        if not values:
            return
        stmt = episodes.update().where(episodes.c.id.in_(bindparam("ids", expanding=True))).values(**values)
        self._db.write(lambda c: (self._require(c, ids), c.execute(stmt, {"ids": padded(ids)})))

    def feedback(
        self,
        episode_id: int,
        *,
        label: int | None | Unset = UNSET,
        reward: float | None | Unset = UNSET,
        wait: bool = True,
    ) -> None:
        """Set one episode's label and/or reward: the fast path of :meth:`update` for an agent's feedback
        (one DB-API transaction, ~20 µs). ``wait=False`` raises DatabaseBusyError at once instead of waiting
        for another thread's or process's write lock. UnknownIdError if there is no such episode."""
        [eid] = id_list([episode_id])
        sets: list[str] = []
        params: list[Any] = []
        if not isinstance(label, Unset):
            sets.append("label = ?")
            params.append(None if label is None else int(label))
        if not isinstance(reward, Unset):
            sets.append("reward = ?")
            params.append(None if reward is None else finite(reward, "reward", InvalidMemoryInputError))
        if not sets:
            return
        sql = f"UPDATE episodes SET {', '.join(sets)} WHERE id = ?"

        def write(conn: sqlite3.Connection) -> int:
            return conn.execute(sql, (*params, eid)).rowcount

        if self._db.write_dbapi(write, wait=wait) == 0:
            raise UnknownIdError("episode id", {eid})

    def set_importance(
        self,
        importance: Mapping[int, float],
        *,
        consolidation: Consolidation | Unset = UNSET,
        wait: bool | float = True,
    ) -> None:
        """Give each episode its own importance (one transaction); ``consolidation`` sets every one's state.
        Unknown ids raise and nothing is written. ``wait``: as for :meth:`commit`."""
        ids = id_list(importance.keys())
        values = [
            {"eid": i, "imp": finite(v, "importance", InvalidMemoryInputError)}
            for i, v in zip(ids, importance.values(), strict=True)
        ]
        if not values:
            return
        extra: dict[str, Any] = {}
        if not isinstance(consolidation, Unset):
            try:
                extra["consolidation"] = int(Consolidation(consolidation))
            except ValueError:
                raise InvalidMemoryInputError(f"unknown consolidation state {consolidation!r}") from None
        sets = "importance = ?" + ("" if not extra else ", consolidation = ?")
        rows = [(v["imp"], *extra.values(), v["eid"]) for v in values]
        sql = f"UPDATE episodes SET {sets} WHERE id = ?"  # DB-API: ~2 µs a row, against ~40 through SQLAlchemy
        self._db.write_dbapi(lambda c: self._require_changed(c, ids, c.executemany(sql, rows).rowcount), wait=wait)

    def forget(self, ids: Iterable[int], *, wait: bool | float = True) -> None:
        """Delete episodes: their rows and the stored inputs no other episode refers to, then their index
        points. Unknown ids raise and delete nothing. ``wait``: as for :meth:`commit`."""
        ids = id_list(ids)
        if not ids:
            return
        param = bulk.ids_param(ids)

        def delete(conn: sqlite3.Connection) -> None:
            conn.execute(sql.RAISE_FLOOR, (param,))
            conn.execute(sql.DROP_INPUTS, (param, param))
            self._require_changed(conn, ids, conn.execute(sql.DELETE, (param,)).rowcount, distinct=True)

        self._db.write_dbapi(delete, wait=wait)
        if self._index is not None:
            self._index.remove(ids)

    # -- helpers -----------------------------------------------------------------------------------

    def _claim_dim(self, conn: Connection, dim: int) -> int:
        """Record the database's vector dimension on first use (inside the writing transaction)."""
        stored = self._db.get_meta(conn, "episode_dim")
        if stored is None:
            self._db.set_meta(conn, "episode_dim", str(dim))
            self._db.set_meta(conn, "episode_space", self.space)
        elif int(stored) != dim:
            raise InvalidVectorError(f"this database stores {stored}-d episode vectors, not {dim}-d")
        return dim

    def _require_changed(
        self, conn: sqlite3.Connection, ids: list[int], changed: int, *, distinct: bool = False
    ) -> None:
        """Raise UnknownIdError (inside a DB-API write, so it rolls back) unless a statement over ``ids``
        changed one row per id (per distinct id when ``distinct``)."""
        if changed == (len(set(ids)) if distinct else len(ids)):
            return
        found = {r[0] for r in conn.execute(sql.EXISTING, (bulk.ids_param(ids),))}
        raise UnknownIdError("episode id", set(ids) - found)

    def _require(self, conn: Connection, ids: list[int]) -> list[int]:
        """Raise UnknownIdError (inside the transaction, so nothing is written) unless every id exists."""
        stmt = select(episodes.c.id).where(episodes.c.id.in_(bindparam("ids", expanding=True)))
        missing = set(ids) - set(conn.execute(stmt, {"ids": padded(ids)}).scalars())
        if missing:
            raise UnknownIdError("episode id", missing)
        return ids
