"""Named blobs in the database: where a learner keeps its weights, Fisher estimates and anchors.

The store knows nothing of what the blobs mean; the agent writes every blob of one learner state in one
transaction (:meth:`StateStore.put`), so a crash leaves the previous state or the new one, never a mix.

Example::

    memory.state.put({"learner": blob, "system1": other})
    memory.state.get("learner")          # bytes, or None when never stored
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .database import Database
from .errors import InvalidMemoryInputError
from .records import now
from .schema import learner_state

MAX_KEY = 128


class StateStore:
    """Blobs by key in one database. Synchronous and thread-safe; writes go through the database's writer."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def put(self, blobs: Mapping[str, bytes]) -> None:
        """Store (or replace) every blob in ``blobs`` in one transaction."""
        rows = []
        when = now()
        for key, value in blobs.items():
            if not isinstance(key, str) or not key or len(key) > MAX_KEY:
                raise InvalidMemoryInputError(f"state keys must be non-empty str of at most {MAX_KEY}, got {key!r}")
            if not isinstance(value, bytes | bytearray | memoryview):
                raise InvalidMemoryInputError(f"state {key!r} must be bytes, got {type(value).__name__}")
            rows.append({"key": key, "value": bytes(value), "updated": when})
        if not rows:
            return
        stmt = sqlite_insert(learner_state)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"], set_={"value": stmt.excluded.value, "updated": stmt.excluded.updated}
        )
        self._db.write(lambda c: c.execute(stmt, rows))

    def get(self, key: str) -> bytes | None:
        """The blob stored under ``key``, or None."""
        stmt = select(learner_state.c.value).where(learner_state.c.key == key)
        value = self._db.read(lambda c: c.execute(stmt).scalar())
        return None if value is None else bytes(value)

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """The stored blobs among ``keys`` (read in one snapshot; absent keys are left out)."""
        wanted = list(keys)
        stmt = select(learner_state.c.key, learner_state.c.value).where(
            learner_state.c.key.in_(bindparam("keys", expanding=True))
        )
        return {k: bytes(v) for k, v in self._db.read(lambda c: c.execute(stmt, {"keys": wanted}).all())}

    def keys(self) -> list[str]:
        return list(
            self._db.read(lambda c: c.execute(select(learner_state.c.key).order_by(learner_state.c.key)).scalars())
        )

    def delete(self, keys: Iterable[str]) -> None:
        wanted = list(keys)
        stmt = delete(learner_state).where(learner_state.c.key.in_(bindparam("keys", expanding=True)))

        def write(conn: Connection) -> None:
            conn.execute(stmt, {"keys": wanted})

        self._db.write(write)
