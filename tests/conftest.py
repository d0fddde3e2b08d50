"""Shared test fixtures: database URLs for both backends, and an isolated FLEETWARDEN_HOME.

Fixtures
--------
``database_url``
    Parametrized over ``sqlite`` and ``postgresql``: a test that asks for it runs once per
    backend, each time against a brand-new, empty database.
``sqlite_url`` / ``postgres_url``
    The same, for one backend only.
``fleetwarden_home``
    Autouse: ``FLEETWARDEN_HOME`` points at a per-test temporary directory.

PostgreSQL comes from the throw-away server that ``make test`` starts
(``scripts/pg-throwaway.sh``), which exports ``FLEETWARDEN_TEST_PG_URL``. Each test gets
its own database ``fw_<uuid>`` on it, dropped afterwards, so tests are independent and
safe under pytest-xdist. Without that variable PostgreSQL tests are skipped locally and
fail when ``CI`` is set: in CI a missing server is an error, never a silent pass.

Tests using PostgreSQL carry the ``postgres`` marker, so ``-m "not postgres"`` selects
the SQLite-only part of the suite.

What this module must not do: import application code (fixtures must not depend on what
they help test), or talk to any database server that is not on loopback.
"""

from __future__ import annotations

import ipaddress
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

PG_URL_ENV = "FLEETWARDEN_TEST_PG_URL"
_NOT_STARTED = "PostgreSQL not started: run make test"

# Fixtures whose use makes a test a PostgreSQL test (for the `postgres` marker).
_PG_FIXTURES = frozenset({"postgres_url"})


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


@dataclass(frozen=True)
class _PgServer:
    """The throw-away server, as given by FLEETWARDEN_TEST_PG_URL."""

    url: SplitResult
    """The SQLAlchemy URL (``postgresql+psycopg://...``), split."""

    def conninfo(self, dbname: str | None = None) -> str:
        """A libpq URI for psycopg: same host, port, user; optionally another database."""
        parts = self.url._replace(scheme="postgresql")
        if dbname is not None:
            parts = parts._replace(path="/" + dbname)
        return urlunsplit(parts)

    def sqlalchemy_url(self, dbname: str) -> str:
        return urlunsplit(self.url._replace(path="/" + dbname))


def _check_loopback(url: SplitResult) -> None:
    host = url.hostname
    if not host:
        return  # a unix socket, so local by definition
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    pytest.fail(
        f"{PG_URL_ENV} points at {host!r}: tests only use servers on loopback "
        "(see ENGINEERING.md). Use make test, which starts one on 127.0.0.1.",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def _pg_server() -> _PgServer:
    """Session-wide: validate FLEETWARDEN_TEST_PG_URL once per (xdist worker) session."""
    raw = os.environ.get(PG_URL_ENV, "").strip()
    if not raw:
        if _in_ci():
            pytest.fail(
                f"{PG_URL_ENV} is not set but CI is: PostgreSQL tests must run in CI. "
                "Run the suite with `make test`, which starts a throw-away server.",
                pytrace=False,
            )
        pytest.skip(_NOT_STARTED)
    url = urlsplit(raw)
    if not url.scheme.startswith("postgresql"):
        pytest.fail(f"{PG_URL_ENV}={raw!r} is not a postgresql URL", pytrace=False)
    _check_loopback(url)
    server = _PgServer(url)
    try:
        with psycopg.connect(server.conninfo(), autocommit=True, connect_timeout=10) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.fail(f"cannot connect to the test server {PG_URL_ENV}={raw!r}: {exc}", pytrace=False)
    return server


@pytest.fixture(scope="session")
def _pg_admin_db(_pg_server: _PgServer) -> str:
    return unquote(_pg_server.url.path.lstrip("/")) or "postgres"


def _fresh_postgres_database(server: _PgServer, admin_db: str) -> Iterator[str]:
    # uuid4 makes names unique across xdist workers and concurrent runs.
    name = f"fw_{uuid.uuid4().hex}"
    admin = server.conninfo(admin_db)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield server.sqlalchemy_url(name)
    finally:
        # FORCE: a test that leaked a connection must not make teardown hang or fail.
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _fresh_sqlite_database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fleetwarden.db'}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """SQLAlchemy URL of a new SQLite database file in this test's tmp_path."""
    return _fresh_sqlite_database(tmp_path)


@pytest.fixture
def postgres_url(_pg_server: _PgServer, _pg_admin_db: str) -> Iterator[str]:
    """SQLAlchemy URL (postgresql+psycopg) of a new, empty database on the test server."""
    yield from _fresh_postgres_database(_pg_server, _pg_admin_db)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLAlchemy URL of a new, empty database; the test runs once per backend."""
    if request.param == "sqlite":
        yield _fresh_sqlite_database(tmp_path)
        return
    server: _PgServer = request.getfixturevalue("_pg_server")
    admin_db: str = request.getfixturevalue("_pg_admin_db")
    yield from _fresh_postgres_database(server, admin_db)


@pytest.fixture(autouse=True)
def fleetwarden_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Per-test FLEETWARDEN_HOME, so no test reads or writes the real one."""
    home = tmp_path / "fleetwarden-home"
    home.mkdir()
    monkeypatch.setenv("FLEETWARDEN_HOME", str(home))
    return home


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests using `postgres_url` as `postgres` (database_url marks its own param)."""
    for item in items:
        if _PG_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)
