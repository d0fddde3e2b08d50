"""Alembic, driven from code: ``fleetwarden db upgrade`` and the start-up schema check."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from fleetwarden.errors import ConfigurationError


def _config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "fleetwarden.adapters.db:migrations")
    cfg.attributes["engine"] = engine
    return cfg


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to ``revision``; returns (before, after)."""
    before = current_revision(engine)
    command.upgrade(_config(engine), revision)
    return before, current_revision(engine)


def ensure_current(engine: Engine) -> None:
    current = current_revision(engine)
    head = head_revision(engine)
    if current is None:
        raise ConfigurationError(
            "the database has no fleetwarden schema yet: run `fleetwarden init` "
            "(or `fleetwarden db upgrade`)"
        )
    if current != head:
        raise ConfigurationError(
            f"the database schema is at {current}, this version needs {head}: "
            "run `fleetwarden db upgrade`"
        )
