"""RONN's memory tiers: episodic (SQLite rows + an hnswlib index), semantic (a knowledge graph) and working.

This package knows nothing of cognition. Its core is synchronous; ``memory.aio`` offers the same calls as
awaitables that run in worker threads (one writer). Example::

    import memory_store
    with memory_store.open_memory(":memory:", dim=128) as memory:
        eid = memory.episodic.add(vector, input=x, route="system1", confidence=0.9)
        nearest = memory.episodic.search(vector, k=5)
        cat = memory.semantic.add_concept("cat")
        memory.working.put("goal", vector, payload="find the cat")
        memory.state.put({"learner": blob})       # named blobs, one transaction
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .aio import AsyncMemory
from .database import Database, Synchronous, default_path
from .episodic import EpisodicMemory
from .errors import (
    DatabaseBusyError,
    DatabaseVersionError,
    InvalidMemoryInputError,
    InvalidQueryError,
    InvalidVectorError,
    MemoryStoreError,
    NotARonnDatabaseError,
    UnknownIdError,
)
from .hnsw_index import HnswParams, Space
from .records import UNSET, Consolidation, EncodedEpisode, Episode, NewEpisode, StoredInput
from .semantic import Concept, Relation, SemanticMemory
from .state import StateStore
from .working import WorkingItem, WorkingMemory


class Memory:
    """The three tiers over one database, and ``state`` (named blobs: what a learner keeps); close it (or
    use ``with``) to save the episodic index."""

    def __init__(
        self, db: Database, episodic: EpisodicMemory, semantic: SemanticMemory, working: WorkingMemory
    ):
        self.db = db
        self.episodic = episodic
        self.semantic = semantic
        self.working = working
        self.state = StateStore(db)
        self.aio = AsyncMemory(self)
        self._closed = False

    @property
    def path(self) -> Path | None:
        """The database file, or None in memory."""
        return self.db.path

    def close(self) -> None:
        """Save the episodic index beside the database and release every connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self.episodic.close()
        finally:
            self.db.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_memory(
    path_or_url: str | Path | None = None,
    *,
    dim: int | None = None,
    space: Space = "l2",
    synchronous: Synchronous = "NORMAL",
    busy_timeout_s: float = 30.0,
    hnsw: HnswParams | None = None,
    working_capacity: int = 64,
    concept_history: int = 32,
    autocheckpoint: int = 1000,
) -> Memory:
    """Open (creating and migrating as needed) the memory store at ``path_or_url``.

    Arguments:
        path_or_url: a file path, an ``sqlite:///`` URL, ``":memory:"`` (nothing persists), or None for
            :func:`~memory_store.database.default_path` (``$RONN_HOME``, ``$XDG_DATA_HOME/ronn`` or
            ``~/.local/share/ronn``, then ``memory.db``).
        dim: the episode vector size; fixed per database on first use (given here or by the first episode).
        space: ``"l2"`` or ``"cosine"``; a database keeps the space it was created with.
        synchronous: ``"NORMAL"`` survives a killed process; ``"FULL"`` also survives power loss.
        busy_timeout_s: how long a write waits for another process's write lock before DatabaseBusyError.
        hnsw: HNSW parameters (:class:`HnswParams`); the defaults are measured in docs/memory_store.md.
        autocheckpoint: WAL pages after which a commit also checkpoints (SQLite's default, 1000); 0: never,
            the caller runs ``memory.db.checkpoint()`` itself (off the thread whose commits must stay fast).

    Raises:
        NotARonnDatabaseError: the file is not SQLite, or an SQLite database RONN did not make (untouched).
        DatabaseVersionError: the database was made by a newer RONN.
        InvalidVectorError: ``dim`` contradicts the database's dimension.
    """
    if space not in ("l2", "cosine"):
        raise InvalidMemoryInputError(f"space must be 'l2' or 'cosine', got {space!r}")
    db = Database(
        _resolve(path_or_url), synchronous=synchronous, busy_timeout_s=busy_timeout_s, autocheckpoint=autocheckpoint
    )
    try:
        episodic = EpisodicMemory(db, dim=dim, space=space, params=hnsw or HnswParams())
        semantic = SemanticMemory(db, history=concept_history)
        working = WorkingMemory(working_capacity, dim=episodic.dim)
    except BaseException:
        db.close()
        raise
    return Memory(db, episodic, semantic, working)


def _resolve(path_or_url: str | Path | None) -> Path | None:
    if path_or_url is None:
        return default_path()
    if isinstance(path_or_url, Path):
        return path_or_url.expanduser().resolve()
    if not isinstance(path_or_url, str):
        raise InvalidMemoryInputError(
            f"the memory must be a path, an SQLite URL or ':memory:', got {type(path_or_url).__name__}"
        )
    if path_or_url in (":memory:", "sqlite://", "sqlite:///:memory:"):
        return None
    if "://" in path_or_url:
        try:
            url = make_url(path_or_url)
        except ArgumentError as exc:
            raise InvalidMemoryInputError(f"not a database URL: {path_or_url!r} ({exc})") from None
        if url.get_backend_name() != "sqlite":
            raise InvalidMemoryInputError(
                f"the memory store runs on SQLite (its index lives beside the file), got {url.drivername!r}"
            )
        return None if not url.database or url.database == ":memory:" else _resolve(Path(url.database))
    return Path(path_or_url).expanduser().resolve()


__all__ = [
    "UNSET",
    "AsyncMemory",
    "Concept",
    "Consolidation",
    "DatabaseBusyError",
    "DatabaseVersionError",
    "EncodedEpisode",
    "Episode",
    "EpisodicMemory",
    "HnswParams",
    "InvalidMemoryInputError",
    "InvalidQueryError",
    "InvalidVectorError",
    "Memory",
    "MemoryStoreError",
    "NewEpisode",
    "NotARonnDatabaseError",
    "Relation",
    "SemanticMemory",
    "StateStore",
    "StoredInput",
    "UnknownIdError",
    "WorkingItem",
    "WorkingMemory",
    "default_path",
    "open_memory",
]
