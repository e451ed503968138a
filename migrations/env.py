"""Alembic environment: runs the revisions on the connection ``migrations.upgrade`` hands over.

Used from the alembic CLI too (for ``alembic revision --autogenerate``): pass ``-x url=sqlite:///path``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from memory_store.schema import metadata

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("pass the database with: alembic -x url=sqlite:///path/to/memory.db ...")
    with create_engine(url).connect() as cli_connection:
        _run(cli_connection)
        cli_connection.commit()
