"""Initial schema: meta facts, episodes, concepts with their use history, relations.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ronn_meta",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_ronn_meta"),
    )
    op.create_table(
        "episodes",
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
        sa.PrimaryKeyConstraint("id", name="pk_episodes"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_episodes_time", "episodes", ["time"])
    op.create_index("ix_episodes_input_digest", "episodes", ["input_digest"])
    op.create_table(
        "concepts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("prototype", sa.LargeBinary(), nullable=True),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("use_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("first_use", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_concepts"),
        sa.UniqueConstraint("name", name="uq_concepts_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "concept_uses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("concept_id", sa.Integer(), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["concept_id"], ["concepts.id"], name="fk_concept_uses_concept_id_concepts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_concept_uses"),
    )
    op.create_index("ix_concept_uses_concept_id_time", "concept_uses", ["concept_id", "time"])
    op.create_table(
        "relations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False, server_default=sa.text("1.0")),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["concepts.id"], name="fk_relations_source_id_concepts", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["concepts.id"], name="fk_relations_target_id_concepts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_relations"),
        sa.UniqueConstraint("source_id", "target_id", "type", name="uq_relations_source_target_type"),
    )
    op.create_index("ix_relations_target_id", "relations", ["target_id"])


def downgrade() -> None:
    for table in ("relations", "concept_uses", "concepts", "episodes", "ronn_meta"):
        op.drop_table(table)
