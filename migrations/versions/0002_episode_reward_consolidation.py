"""Episodes gain a reward and a consolidation state, indexed for the sleep engine's selection.

Feedback may come as a reward instead of a label, and sleep must find unconsolidated, important episodes
without scanning the table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ALTER TABLE ADD COLUMN, not a batch rebuild: a rebuilt table would lose AUTOINCREMENT (episode
    # ids must never be reused, they are the HNSW labels)
    op.add_column("episodes", sa.Column("reward", sa.Float(), nullable=True))
    op.add_column(
        "episodes", sa.Column("consolidation", sa.SmallInteger(), nullable=False, server_default=sa.text("0"))
    )
    op.create_index("ix_episodes_consolidation_importance", "episodes", ["consolidation", "importance"])


def downgrade() -> None:
    op.drop_index("ix_episodes_consolidation_importance", table_name="episodes")
    with op.batch_alter_table("episodes") as batch:
        batch.drop_column("consolidation")
        batch.drop_column("reward")
