"""Alembic environment of the event store. Runs only through `pipeline.events.migrations.upgrade`,
which hands over the connection (and its transaction) in `config.attributes["connection"]`."""

from __future__ import annotations

from alembic import context

from pipeline.events.schema import Base

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("the event store's migrations run through pipeline.events.migrations.upgrade(engine)")
# target_metadata: the models, for comparing a migrated database with them (tests, autogenerate)
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():  # the caller's transaction: nothing is committed here
    context.run_migrations()
