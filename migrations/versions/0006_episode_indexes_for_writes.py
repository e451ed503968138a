"""Episodes: one index fewer for an insert to keep; the reads by time and by importance stay indexed.

Every index an insert keeps costs an agent's one-row commit a leaf page to update and write to the WAL (~6 µs
of a ~45 µs commit on the digits MLP's path, each). Revision 0005 left three: ``time``,
``input_digest`` and ``(consolidation, importance)``. Here ``time`` and ``(consolidation, importance)`` become

- ``(consolidation, time)``: the new episodes in time order (sleep's selection; it sorted them before), and,
  one range per consolidation state, every read by time;
- ``(consolidation, importance) WHERE consolidation != 0``: a partial index of the settled episodes, which an
  insert (a new episode) leaves alone; replay's and forgetting's choices by importance read it, with that
  very term in their ``WHERE``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_episodes_time", table_name="episodes")
    op.drop_index("ix_episodes_consolidation_importance", table_name="episodes")
    op.create_index("ix_episodes_consolidation_time", "episodes", ["consolidation", "time"])
    op.create_index(
        "ix_episodes_settled_importance",
        "episodes",
        ["consolidation", "importance"],
        sqlite_where=sa.text("consolidation != 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_episodes_settled_importance", table_name="episodes")
    op.drop_index("ix_episodes_consolidation_time", table_name="episodes")
    op.create_index("ix_episodes_time", "episodes", ["time"])
    op.create_index("ix_episodes_consolidation_importance", "episodes", ["consolidation", "importance"])
