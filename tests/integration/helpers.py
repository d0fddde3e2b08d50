"""Test helpers: a migrated database with one tenant, and running the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

from fleetwarden import bootstrap
from fleetwarden.adapters.db.engine import make_engine
from fleetwarden.adapters.db.migrate import upgrade
from fleetwarden.services import accounts
from fleetwarden.services.context import Principal
from fleetwarden.settings import load_settings


@dataclass
class Env:
    app: bootstrap.App
    admin: Principal
    token: str

    @property
    def platform(self):  # type: ignore[no-untyped-def]
        return self.app.platform


def make_env(url: str, tenant: str = "Northshire", email: str = "admin@northshire.example") -> Env:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    app = bootstrap.build(load_settings(db_url=url))
    issued = accounts.create_tenant(app.platform, "cli:test", tenant, email)
    return Env(app, accounts.authenticate(app.platform, issued.token), issued.token)


def add_tenant(env: Env, name: str, email: str) -> Principal:
    issued = accounts.create_tenant(env.platform, "cli:test", name, email)
    return accounts.authenticate(env.platform, issued.token)


def run_cli(*args: str, db: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["FLEETWARDEN_DB"] = db
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "fleetwarden", *args],
        capture_output=True, text=True, env=env, input=stdin, timeout=120, check=False,
    )
