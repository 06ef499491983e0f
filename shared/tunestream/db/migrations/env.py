"""Alembic environment: the database URL comes from the caller (tunestream.db.migrate)."""

from alembic import context
from sqlalchemy import create_engine

from tunestream.db.tables import metadata

url = context.config.get_main_option("sqlalchemy.url") or ""
connectable = create_engine(url)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
