"""The Alembic migrations produce exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from fleetwarden.adapters.db.engine import make_engine
from fleetwarden.adapters.db.migrate import HEAD, current_revision, head_revision, upgrade
from fleetwarden.adapters.db.tables import metadata


def test_migrations_match_the_tables(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        assert current_revision(engine) == head_revision(engine) == HEAD
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
        upgrade(engine)  # idempotent
    finally:
        engine.dispose()
