"""Alembic environment: runs on the engine fleetwarden hands it, never on a URL of its own."""

from __future__ import annotations

from alembic import context

from fleetwarden.adapters.db.tables import metadata

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    if connection.dialect.name == "sqlite":
        # Our engine issues BEGIN itself; let Alembic run one transaction for the run.
        connection = connection.execution_options(fleetwarden_write=True)
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
