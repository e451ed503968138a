"""Alembic revisions (alembic skips this file). Released revisions are never edited."""
