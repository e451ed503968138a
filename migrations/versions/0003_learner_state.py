"""A key/value table of blobs for what the agent learned: weights, Fisher estimates, anchors, System 1.

The learner's state must survive a restart beside the episodes it was learned from, in the same database
and under the same transactions, so an agent reopened on the same memory keeps what it learned.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "learner_state",
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_learner_state"),
    )


def downgrade() -> None:
    op.drop_table("learner_state")
