"""Episodes in bulk for a sleep, through the DB-API and decoded into arrays: no SQLAlchemy rows, no
:class:`~memory_store.Episode` per row.

A sleep reads thousands of rows at a time. Decoding them through SQLAlchemy into records is pure Python that
holds the GIL for tens of milliseconds, which an agent's event loop would feel. These functions take a
:data:`Source`: the database file's path (they open their own read connection; under WAL a reader never
blocks the writer nor waits for it, so a worker *process* can run them), or a function
``(sql, params) -> rows`` (:meth:`EpisodicMemory.query`, for an in-memory database or a caller in the same
process). Every statement has one SQL text whatever the number of ids (``json_each``), so SQLite's statement
cache does not grow with id lists of new lengths.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import codec
from .schema import SETTLED

Rows = list[tuple[Any, ...]]
Source = str | Path | Callable[[str, Sequence[Any]], Rows]

#: An episode's input: its own column, or, when that is NULL, the ``episode_inputs`` row of its digest (an input
#: committed ahead by ``EpisodicMemory.store_input``; one primary-key probe).
INPUT = (
    "COALESCE(episodes.input,"
    " (SELECT i.input FROM episode_inputs AS i WHERE i.digest = episodes.input_digest))"
)
#: The oldest new (not consolidated) episodes, with what importance scoring needs and the payloads.
NEW_EPISODES = (
    f"SELECT id, time, confidence, label, reward, access_count, vector, {INPUT}, output FROM episodes"
    " WHERE consolidation = 0 ORDER BY time, id LIMIT ?"
)
#: Labelled episodes in a state (``{state}``: :func:`in_state`), most important first (replay's candidates).
LABELLED_BY_IMPORTANCE = (
    "SELECT id, label, importance FROM episodes WHERE {state} AND label IS NOT NULL"
    " ORDER BY importance DESC, id LIMIT ?"
)
#: Episodes in a state (``{state}``: :func:`in_state`), least important first (forgetting's candidates).
LEAST_IMPORTANT = "SELECT id, importance FROM episodes WHERE {state} ORDER BY importance, id LIMIT ?"
#: Concepts whose name matches a ``LIKE`` pattern (escape character ``\\``), by id.
CONCEPTS_LIKE = "SELECT id, name, prototype FROM concepts WHERE name LIKE ? ESCAPE '\\' ORDER BY id"
#: The stored inputs of episodes by id (a JSON list of ids).
INPUTS = f"SELECT id, {INPUT} FROM episodes WHERE id IN (SELECT value FROM json_each(?))"


def query(source: Source, sql: str, params: Sequence[Any] = ()) -> Rows:
    """``sql`` on ``source``: a path (a connection of its own, opened and closed here) or a query function."""
    if not isinstance(source, str | Path):
        return source(sql, params)
    with closing(sqlite3.connect(source, isolation_level=None, check_same_thread=False)) as conn:
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA query_only = ON")
        return conn.execute(sql, tuple(params)).fetchall()


def ids_param(ids: Sequence[int]) -> str:
    """Ids as the one parameter of a ``json_each(?)`` statement."""
    return json.dumps([int(i) for i in ids])


@dataclass(frozen=True)
class EpisodeArrays:
    """Rows of :data:`NEW_EPISODES` as arrays (NaN for a missing confidence or reward, -1 for no label)."""

    ids: np.ndarray
    time: np.ndarray
    confidence: np.ndarray
    label: np.ndarray
    reward: np.ndarray
    access_count: np.ndarray
    vectors: np.ndarray
    inputs: list[Any]
    outputs: list[Any]

    def __len__(self) -> int:
        return len(self.ids)


def new_episodes(source: Source, limit: int, dim: int) -> EpisodeArrays:
    """The oldest ``limit`` new episodes, decoded."""
    return decode(query(source, NEW_EPISODES, (int(limit),)), dim)


def decode(rows: Rows, dim: int) -> EpisodeArrays:
    """Rows of :data:`NEW_EPISODES` as :class:`EpisodeArrays`."""
    if not rows:
        empty = np.empty(0)
        return EpisodeArrays(
            np.empty(0, np.int64), empty, empty, np.empty(0, np.int64), empty, np.empty(0, np.int64),
            np.empty((0, dim), np.float32), [], [],
        )
    ids, times, conf, label, reward, access, vectors, inputs, outputs = zip(*rows, strict=True)
    return EpisodeArrays(
        ids=np.array(ids, np.int64),
        time=np.array(times, np.float64),
        confidence=np.array([np.nan if c is None else c for c in conf], np.float64),
        label=np.array([-1 if v is None else v for v in label], np.int64),
        reward=np.array([np.nan if r is None else r for r in reward], np.float64),
        access_count=np.array(access, np.int64),
        vectors=codec.blobs_to_matrix(list(vectors), dim),
        inputs=[codec.decode_payload(b) for b in inputs],
        outputs=[codec.decode_payload(b) for b in outputs],
    )


def in_state(consolidation: int) -> str:
    """The ``WHERE`` term for episodes in a consolidation state (one parameter): a settled state's carries
    :data:`~memory_store.schema.SETTLED` too, so that SQLite reads the partial (state, importance) index."""
    return "consolidation = ?" if int(consolidation) == 0 else f"consolidation = ? AND {SETTLED}"


def labelled_by_importance(source: Source, consolidation: int, limit: int) -> tuple[np.ndarray, ...]:
    """(ids, labels, importance) of the most important labelled episodes in a consolidation state."""
    sql = LABELLED_BY_IMPORTANCE.format(state=in_state(consolidation))
    rows = query(source, sql, (int(consolidation), int(limit)))
    if not rows:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    ids, labels, importance = zip(*rows, strict=True)
    return np.array(ids, np.int64), np.array(labels, np.int64), np.array(importance, np.float64)


def least_important(source: Source, consolidation: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, importance) of the least important episodes in a consolidation state, least important first."""
    rows = query(source, LEAST_IMPORTANT.format(state=in_state(consolidation)), (int(consolidation), int(limit)))
    if not rows:
        return np.empty(0, np.int64), np.empty(0)
    ids, importance = zip(*rows, strict=True)
    return np.array(ids, np.int64), np.array(importance, np.float64)


def inputs(source: Source, ids: Sequence[int]) -> dict[int, Any]:
    """The decoded stored inputs of episodes by id (ids no longer stored are left out)."""
    return {int(i): codec.decode_payload(blob) for i, blob in query(source, INPUTS, (ids_param(ids),))}


def concepts_named(source: Source, prefix: str) -> list[tuple[int, str, np.ndarray | None]]:
    """(id, name, prototype) of every concept whose name starts with ``prefix``, by id."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return [
        (int(i), name, None if blob is None else codec.blob_to_vector(blob))
        for i, name, blob in query(source, CONCEPTS_LIKE, (escaped + "%",))
    ]


__all__ = [
    "concepts_named",
    "EpisodeArrays",
    "Rows",
    "Source",
    "decode",
    "ids_param",
    "in_state",
    "inputs",
    "labelled_by_importance",
    "least_important",
    "new_episodes",
    "query",
]
