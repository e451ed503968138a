"""Alembic migrations of the memory store, runnable without an ``alembic.ini``.

The alembic configuration is built in code (:func:`alembic_config`) with ``script_location`` pointing at this
package's folder, so the migrations ship inside the wheel and run wherever RONN is installed.
:func:`memory_store.open_memory` calls :func:`upgrade` on every open, inside the transaction that checks the
database, before anything else touches it.

Rules: a released revision is never edited, only followed by a new one (a test pins each released file's
hash); SQLite needs ``render_as_batch=True`` to alter tables, which ``env.py`` sets.

Developers create the next revision from Python (``env.py`` also accepts ``-x url=sqlite:///path`` for
``--autogenerate`` against a scratch database)::

    from alembic import command
    import migrations
    command.revision(migrations.alembic_config(), message="what changes", rev_id="0003")
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic ``Config`` for these migrations; ``connection`` is handed to ``env.py`` when given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_directory() -> ScriptDirectory:
    """The revisions shipped with this RONN."""
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision id."""
    head = script_directory().get_current_head()
    assert head is not None, "no migrations found"
    return head


def known_revisions() -> set[str]:
    """Every revision id this RONN knows."""
    return {script.revision for script in script_directory().walk_revisions()}


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or None for a database that was never migrated."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Upgrade the database behind ``connection`` to ``revision``, inside the connection's transaction.

    The caller owns the transaction (``memory_store`` opens it with ``BEGIN IMMEDIATE`` so concurrent openers
    migrate one after another) and turns SQLite's foreign keys off for the duration, as batch table rebuilds
    require.
    """
    from alembic import command  # imported late: alembic.command pulls in the autogenerate machinery

    command.upgrade(alembic_config(connection), revision)


__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "head_revision",
    "known_revisions",
    "script_directory",
    "upgrade",
]
