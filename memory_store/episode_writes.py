"""The DB-API statements of the episodic tier's writes (:mod:`memory_store.episodic`): episode ids that are
never reused, one-statement commits, and the stored inputs' upkeep.

Every placeholder is a plain ``?`` (parameters by position, a value repeated where a statement uses it
twice): Python's ``sqlite3`` takes numbered ones (``?1``) as named, which a sequence of parameters may not
fill from Python 3.14 on (a ``DeprecationWarning`` since 3.12; ``ProgrammingError`` then).
"""

from __future__ import annotations

import sqlite3

from .records import ENCODED_COLUMNS

DELETE = "DELETE FROM episodes WHERE id IN (SELECT value FROM json_each(?))"
EXISTING = "SELECT id FROM episodes WHERE id IN (SELECT value FROM json_each(?))"
#: ids are never reused (the HNSW label is the id): one more than the larger of the highest id and the floor
#: that forgetting raises (below); inside the write transaction, so ids ascend in commit order. (AUTOINCREMENT
#: did this by writing its counter on every insert: a page more per commit; revision 0005.)
ID_FLOOR = "episode_id_floor"
NEXT_ID = (
    "max(coalesce((SELECT max(id) FROM episodes), 0),"
    f" coalesce((SELECT CAST(value AS INTEGER) FROM ronn_meta WHERE key = '{ID_FLOOR}'), 0)) + 1"
)
INSERT = (
    f"INSERT INTO episodes (id, {', '.join(ENCODED_COLUMNS)})"
    f" VALUES ({NEXT_ID}, {', '.join('?' * len(ENCODED_COLUMNS))})"
)
#: before a forget deletes rows: the floor rises to the highest id deleted (the parameter: the ids)
RAISE_FLOOR = (
    f"INSERT INTO ronn_meta (key, value) SELECT '{ID_FLOOR}', CAST(max(id) AS TEXT) FROM episodes"
    " WHERE id IN (SELECT value FROM json_each(?)) HAVING max(id) IS NOT NULL"
    " ON CONFLICT (key) DO UPDATE"
    " SET value = CAST(max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)"
)
#: one episode whose input was stored ahead: inserted only while that input is there (a forget or a sweep may
#: have taken it since), in one statement instead of a probe in a transaction; parameters: :func:`if_stored`
INSERT_IF_STORED = (
    f"INSERT INTO episodes (id, {', '.join(ENCODED_COLUMNS)}) SELECT {NEXT_ID},"
    f" {', '.join('?' * len(ENCODED_COLUMNS))}"
    " WHERE EXISTS (SELECT 1 FROM episode_inputs WHERE digest = ?)"
)
_DIGEST = ENCODED_COLUMNS.index("input_digest")
STORE_INPUT = "INSERT OR IGNORE INTO episode_inputs (digest, input) VALUES (?, ?)"
HAS_INPUT = "SELECT 1 FROM episode_inputs WHERE digest = ?"
#: The stored inputs that only the episodes about to be deleted (their ids, given twice) refer to: run before
#: deleting them, in the same transaction (the digest's index makes each NOT EXISTS a probe).
DROP_INPUTS = (
    "DELETE FROM episode_inputs WHERE digest IN"
    " (SELECT input_digest FROM episodes WHERE id IN (SELECT value FROM json_each(?)))"
    " AND NOT EXISTS (SELECT 1 FROM episodes AS e WHERE e.input_digest = episode_inputs.digest"
    " AND e.id NOT IN (SELECT value FROM json_each(?)))"
)
#: Stored inputs no episode refers to: a process that stopped between ``store_input`` and the episode's commit
SWEEP_INPUTS = (
    "DELETE FROM episode_inputs WHERE NOT EXISTS"
    " (SELECT 1 FROM episodes AS e WHERE e.input_digest = episode_inputs.digest)"
)


def if_stored(row: tuple[object, ...]) -> tuple[object, ...]:
    """:data:`INSERT_IF_STORED`'s parameters for an encoded row: its values, then its digest again."""
    return (*row, row[_DIGEST])


def row_id(cursor: sqlite3.Cursor) -> int:
    """The id an ``INSERT`` just gave its row."""
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def inserted(cursor: sqlite3.Cursor) -> list[int]:
    """The id of the row a one-row ``INSERT`` gave, or nothing when its condition (``WHERE EXISTS``) held none."""
    return [row_id(cursor)] if cursor.rowcount == 1 else []
