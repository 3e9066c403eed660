"""Alembic environment: always run in-process by distributor.store.db.migrate,
which hands over an open connection (no alembic.ini, no URL in a file)."""

from alembic import context

from distributor.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
