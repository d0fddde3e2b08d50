"""Alembic, driven from code: ``fleetwarden db upgrade`` and the start-up schema check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from fleetwarden.errors import ConfigurationError

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest migration. Checked against the scripts by a test, so that start-up can
#: verify the schema without loading Alembic (it costs a third of a second per command).
HEAD = "0007"


def _config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "fleetwarden.adapters.db:migrations")
    cfg.attributes["engine"] = engine
    return cfg


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to ``revision``; returns (before, after)."""
    from alembic import command

    before = current_revision(engine)
    command.upgrade(_config(engine), revision)
    return before, current_revision(engine)


def ensure_current(engine: Engine) -> None:
    current = current_revision(engine)
    head = HEAD
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
