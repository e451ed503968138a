"""SQLAlchemy Core tables of the memory store, as they stand at the newest migration (head).

The schema changes only through alembic revisions in ``migrations/versions``; a test checks that a database
upgraded to head matches this metadata exactly. Times are Unix seconds (float). Vectors are little-endian
float16 blobs; inputs and outputs are compressed by :mod:`memory_store.codec`.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

#: The partial index ``ix_episodes_settled_importance`` holds the settled episodes only (an insert, a new
#: episode, leaves it alone): SQLite reads it for a query whose ``WHERE`` carries this very term, literally.
SETTLED = "consolidation != 0"

#: Key/value facts: ``application`` (always ``"ronn"``), ``episode_dim``, ``episode_space``.
ronn_meta = Table(
    "ronn_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

episodes = Table(
    "episodes",
    metadata,
    # ids are never reused (the HNSW label is the id): an insert takes one more than the larger of the highest
    # id and ronn_meta episode_id_floor, which a forget raises to the highest id it deletes (revision 0005)
    Column("id", Integer, primary_key=True),
    Column("time", Float, nullable=False),
    Column("input_digest", LargeBinary(16), nullable=False, index=True),
    Column("input", LargeBinary, nullable=True),
    Column("output", LargeBinary, nullable=True),
    Column("vector", LargeBinary, nullable=False),
    Column("route", String(32), nullable=False, server_default=""),
    Column("confidence", Float, nullable=True),
    Column("label", Integer, nullable=True),
    Column("importance", Float, nullable=False, server_default=text("1.0")),
    Column("access_count", Integer, nullable=False, server_default=text("0")),
    Column("last_access", Float, nullable=True),
    # added by revision 0002
    Column("reward", Float, nullable=True),
    Column("consolidation", SmallInteger, nullable=False, server_default=text("0")),
    # revision 0006: the indexes an insert keeps are this one and input_digest's (each costs a commit ~6 µs)
    Index("ix_episodes_consolidation_time", "consolidation", "time"),
    Index("ix_episodes_settled_importance", "consolidation", "importance", sqlite_where=text(SETTLED)),
)

#: Inputs committed ahead of their episodes (added by revision 0004), one row per distinct input: an episode
#: whose ``input`` is NULL reads its input here by ``input_digest``. A rowid table keyed by an automatic
#: unique index on ``digest``, not WITHOUT ROWID: with rows of 100 KB+ a WITHOUT ROWID b-tree carries the
#: rows' local parts in its interior pages, and a probe measured 87 µs against 7 µs here.
episode_inputs = Table(
    "episode_inputs",
    metadata,
    Column("digest", LargeBinary(16), primary_key=True),  # codec.digest of the input, as episodes.input_digest
    Column("input", LargeBinary, nullable=False),  # codec.encode_payload bytes, as episodes.input
)

concepts = Table(
    "concepts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("prototype", LargeBinary, nullable=True),
    Column("created", Float, nullable=False),
    # use history beyond the kept uses, for the base-level activation approximation (Petrov 2006)
    Column("use_count", Integer, nullable=False, server_default=text("0")),
    Column("first_use", Float, nullable=True),
    sqlite_autoincrement=True,
)

concept_uses = Table(
    "concept_uses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("concept_id", Integer, ForeignKey("concepts.id", ondelete="CASCADE"), nullable=False),
    Column("time", Float, nullable=False),
    Index("ix_concept_uses_concept_id_time", "concept_id", "time"),
)

relations = Table(
    "relations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source_id", Integer, ForeignKey("concepts.id", ondelete="CASCADE"), nullable=False),
    Column("target_id", Integer, ForeignKey("concepts.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(64), nullable=False),
    Column("weight", Float, nullable=False, server_default=text("1.0")),
    Column("updated", Float, nullable=False),
    UniqueConstraint("source_id", "target_id", "type", name="uq_relations_source_target_type"),
    Index("ix_relations_target_id", "target_id"),
)

#: Blobs by key (added by revision 0003): what the agent learned (weights, Fisher, anchors, System 1).
learner_state = Table(
    "learner_state",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("value", LargeBinary, nullable=False),
    Column("updated", Float, nullable=False),
)

__all__ = [
    "NAMING_CONVENTION",
    "concept_uses",
    "concepts",
    "episode_inputs",
    "episodes",
    "learner_state",
    "metadata",
    "relations",
    "ronn_meta",
]
