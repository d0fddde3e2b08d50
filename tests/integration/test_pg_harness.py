"""Checks on the test harness itself: the database fixtures give real, isolated databases.

Uses plain psycopg and sqlite3 only, never application code, so a failure here means the
harness (Makefile, scripts/pg-throwaway.sh, tests/conftest.py) is broken, not the app.
"""

from __future__ import annotations

import ipaddress
import os
import sqlite3
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import psycopg


def _conninfo(sqlalchemy_url: str) -> str:
    """postgresql+psycopg://... -> postgresql://... (what libpq understands)."""
    return urlsplit(sqlalchemy_url)._replace(scheme="postgresql").geturl()


def _sqlite_path(sqlalchemy_url: str) -> Path:
    prefix = "sqlite:///"
    assert sqlalchemy_url.startswith(prefix)
    return Path(sqlalchemy_url.removeprefix(prefix))


def test_postgres_is_real_loopback_only_and_fresh(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql+psycopg://")
    expected_db = urlsplit(postgres_url).path.lstrip("/")
    with psycopg.connect(_conninfo(postgres_url)) as conn:
        (version,) = conn.execute("SELECT version()").fetchone() or ("",)
        assert version.startswith("PostgreSQL ")

        (listen,) = conn.execute("SHOW listen_addresses").fetchone() or ("",)
        assert [a.strip() for a in listen.split(",")] == ["127.0.0.1"]
        (server_addr,) = conn.execute("SELECT inet_server_addr()").fetchone() or (None,)
        assert server_addr is not None and ipaddress.ip_address(server_addr).is_loopback

        # A database of its own, created for this test and empty.
        (dbname,) = conn.execute("SELECT current_database()").fetchone() or ("",)
        assert dbname == expected_db and dbname.startswith("fw_")
        (tables,) = conn.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone() or (-1,)
        assert tables == 0

        # The database is usable for writes.
        conn.execute("CREATE TABLE harness_probe (id integer PRIMARY KEY)")
        conn.execute("INSERT INTO harness_probe VALUES (1)")
        assert conn.execute("SELECT id FROM harness_probe").fetchall() == [(1,)]


def test_sqlite_file_supports_wal(sqlite_url: str, tmp_path: Path) -> None:
    path = _sqlite_path(sqlite_url)
    assert path.parent == tmp_path and not path.exists()
    with closing(sqlite3.connect(path)) as conn:
        (mode,) = conn.execute("PRAGMA journal_mode=WAL").fetchone()
        assert mode == "wal"
        with conn:
            conn.execute("CREATE TABLE harness_probe (id integer PRIMARY KEY)")
            conn.execute("INSERT INTO harness_probe VALUES (1)")
        assert conn.execute("SELECT id FROM harness_probe").fetchall() == [(1,)]
    # WAL mode is persistent: a new connection sees it without asking.
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_database_url_is_fresh_for_each_backend(database_url: str) -> None:
    if database_url.startswith("sqlite:///"):
        with closing(sqlite3.connect(_sqlite_path(database_url))) as conn:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        assert tables == (0,)
    else:
        assert database_url.startswith("postgresql+psycopg://")
        with psycopg.connect(_conninfo(database_url)) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'"
            ).fetchone()
        assert row == (0,)


def test_fleetwarden_home_is_isolated(fleetwarden_home: Path, tmp_path: Path) -> None:
    assert os.environ["FLEETWARDEN_HOME"] == str(fleetwarden_home)
    assert fleetwarden_home.is_dir() and fleetwarden_home.is_relative_to(tmp_path)
