"""Episode ids: the table's highest id and a recorded floor instead of AUTOINCREMENT.

AUTOINCREMENT keeps ids from being reused by writing its counter (a row of ``sqlite_sequence``) in every
insert: one more page per commit, ~5-7 µs of an agent's ~50 µs one-row commit. Ids are reused only when the
rows holding the highest ids are deleted and new rows follow; so a forget now records the highest id it
deletes (ronn_meta ``episode_id_floor``), and an insert takes one more than the larger of the table's highest
id and that floor (``memory_store.episodic``). The rebuild copies every row with its id; the floor starts at
what ``sqlite_sequence`` had handed out, so no id given before the upgrade comes back either.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FLOOR = "episode_id_floor"
_COLUMNS = (
    "id, time, input_digest, input, output, vector, route, confidence, label, importance, access_count,"
    " last_access, reward, consolidation"
)


def _rebuild(autoincrement: bool) -> None:
    """Copy ``episodes`` into a table with or without AUTOINCREMENT, ids kept, and put its indexes back."""
    op.create_table(
        "_episodes_0005",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("input_digest", sa.LargeBinary(16), nullable=False),
        sa.Column("input", sa.LargeBinary(), nullable=True),
        sa.Column("output", sa.LargeBinary(), nullable=True),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("route", sa.String(32), nullable=False, server_default=""),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("label", sa.Integer(), nullable=True),
        sa.Column("importance", sa.Float(), nullable=False, server_default=sa.text("1.0")),
        sa.Column("access_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("last_access", sa.Float(), nullable=True),
        sa.Column("reward", sa.Float(), nullable=True),
        sa.Column("consolidation", sa.SmallInteger(), nullable=False, server_default=sa.text("0")),
        sa.PrimaryKeyConstraint("id", name="pk_episodes"),
        sqlite_autoincrement=autoincrement,
    )
    op.execute(f"INSERT INTO _episodes_0005 ({_COLUMNS}) SELECT {_COLUMNS} FROM episodes")
    op.drop_table("episodes")  # its indexes go with it
    op.rename_table("_episodes_0005", "episodes")
    op.create_index("ix_episodes_time", "episodes", ["time"])
    op.create_index("ix_episodes_input_digest", "episodes", ["input_digest"])
    op.create_index("ix_episodes_consolidation_importance", "episodes", ["consolidation", "importance"])


def upgrade() -> None:
    conn = op.get_bind()
    handed_out = conn.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'episodes'")).scalar()
    _rebuild(autoincrement=False)
    op.execute("DELETE FROM sqlite_sequence WHERE name = 'episodes'")
    if handed_out:
        conn.execute(
            sa.text("INSERT OR REPLACE INTO ronn_meta (key, value) VALUES (:key, :value)"),
            {"key": FLOOR, "value": str(int(handed_out))},
        )


def downgrade() -> None:
    conn = op.get_bind()
    floor = conn.execute(sa.text("SELECT CAST(value AS INTEGER) FROM ronn_meta WHERE key = :key"), {"key": FLOOR})
    floor_id = floor.scalar() or 0
    _rebuild(autoincrement=True)  # the copy sets sqlite_sequence to the highest id copied
    if floor_id:
        params = {"floor": int(floor_id)}
        conn.execute(sa.text("UPDATE sqlite_sequence SET seq = max(seq, :floor) WHERE name = 'episodes'"), params)
        conn.execute(
            sa.text(
                "INSERT INTO sqlite_sequence (name, seq) SELECT 'episodes', :floor"
                " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'episodes')"
            ),
            params,
        )
    conn.execute(sa.text("DELETE FROM ronn_meta WHERE key = :key"), {"key": FLOOR})
