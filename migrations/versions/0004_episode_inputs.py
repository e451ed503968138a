"""Inputs may be committed ahead of their episodes, in a table of their own keyed by digest.

An agent knows an episode's input long before its answer. Committing a large input (100 KB+) with the
episode's row puts its overflow pages on the answer's critical path; ``EpisodicMemory.store_input`` commits
it beforehand into ``episode_inputs`` and the row, committed later, leaves ``episodes.input`` NULL and finds
its input by ``input_digest``. Existing rows keep their inputs where they are.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "episode_inputs",
        sa.Column("digest", sa.LargeBinary(16), nullable=False),
        sa.Column("input", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_episode_inputs"),
    )


def downgrade() -> None:
    # before 0004 an episode's input lived only in its row: copy stored inputs back so none is lost
    op.execute(
        "UPDATE episodes SET input = (SELECT i.input FROM episode_inputs AS i WHERE i.digest = episodes.input_digest)"
        " WHERE input IS NULL AND input_digest IN (SELECT digest FROM episode_inputs)"
    )
    op.drop_table("episode_inputs")
