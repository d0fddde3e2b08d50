"""Test helpers: a migrated database with one tenant, and running the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

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


V1 = "/api/v1"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Api:
    """A test client of the API with the headers of three callers; admin by default."""

    env: Env
    client: TestClient
    admin: dict[str, str]
    """Authorization header of tenant A's admin."""
    other: dict[str, str]
    """Authorization header of tenant B's admin."""
    viewer: dict[str, str]
    """Authorization header of a viewer of tenant A."""

    def get(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        return self.client.get(V1 + path, headers=headers or self.admin, **kw)

    def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None,
             **kw: Any) -> Any:
        return self.client.post(V1 + path, json=json, headers=headers or self.admin, **kw)

    def put(self, path: str, json: Any = None, headers: dict[str, str] | None = None,
            **kw: Any) -> Any:
        return self.client.put(V1 + path, json=json, headers=headers or self.admin, **kw)

    def patch(self, path: str, json: Any = None, headers: dict[str, str] | None = None,
              **kw: Any) -> Any:
        return self.client.patch(V1 + path, json=json, headers=headers or self.admin, **kw)

    def delete(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        return self.client.delete(V1 + path, headers=headers or self.admin, **kw)
