"""Errors raised by the memory store.

They derive from the project's root :class:`ronn_errors.RonnError`, so a user catches everything RONN
raises on purpose with one ``except RonnError``. ``ronn_errors`` is a leaf package that imports nothing, shared
with ``engine``; ``memory_store`` imports nothing from ``engine``::

    RonnError (ronn_errors)
    └── MemoryStoreError            base of everything the memory store raises on purpose
        ├── InvalidMemoryInputError  a call's arguments are wrong; also InvalidInputError and ValueError
        │   ├── InvalidVectorError   wrong vector size, NaN or infinity, a value float16 cannot hold
        │   └── InvalidQueryError    a bad k, time range, filter or traversal depth
        ├── UnknownIdError           episode or concept ids that are not in the database; also KeyError
        ├── NotARonnDatabaseError    the file is not SQLite, or is an SQLite database RONN did not make
        ├── DatabaseVersionError     the database was made by a newer RONN (an unknown migration revision)
        └── DatabaseBusyError        another writer held the database past the busy timeout

Every check runs before anything is written: a call that raises leaves the database as it was.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from ronn_errors import InvalidInputError, RonnError


class MemoryStoreError(RonnError):
    """Base class of every error the memory store raises on purpose."""


class InvalidMemoryInputError(MemoryStoreError, InvalidInputError):
    """An argument is wrong: the message names it, what was expected and what was received."""


class InvalidVectorError(InvalidMemoryInputError):
    """A vector has the wrong size, or holds NaN, infinity or a value beyond float16's range."""


class InvalidQueryError(InvalidMemoryInputError):
    """A query argument (k, time range, filter, depth) is out of range."""


class UnknownIdError(MemoryStoreError, KeyError):
    """Some of the given ids (or working-memory keys) are unknown; ``ids`` lists them, sorted."""

    def __init__(self, kind: str, ids: Iterable[Hashable]) -> None:
        self.kind = kind
        try:
            self.ids: list[Hashable] = sorted(ids)  # type: ignore[type-var]
        except TypeError:  # keys of mixed types
            self.ids = list(ids)
        shown = ", ".join(str(i) for i in self.ids[:10]) + (" ..." if len(self.ids) > 10 else "")
        super().__init__(f"unknown {kind}(s): {shown} ({len(self.ids)} in all); nothing was changed")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class NotARonnDatabaseError(MemoryStoreError):
    """The file is not an SQLite database, or one that RONN did not create; it was left untouched."""


class DatabaseVersionError(MemoryStoreError):
    """The database is at a migration revision this RONN does not know (made by a newer version)."""


class DatabaseBusyError(MemoryStoreError):
    """Another process kept the database locked for longer than the configured busy timeout."""


__all__ = [
    "DatabaseBusyError",
    "DatabaseVersionError",
    "InvalidMemoryInputError",
    "InvalidQueryError",
    "InvalidVectorError",
    "MemoryStoreError",
    "NotARonnDatabaseError",
    "UnknownIdError",
]
