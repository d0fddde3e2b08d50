"""Dashboard fixtures: a tenant with web users (password + TOTP) and a signed-in client."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from fleetwarden.adapters.crypto.passwords import Argon2Passwords
from fleetwarden.domain import totp
from fleetwarden.entrypoints.api import create_app
from fleetwarden.services import accounts, signin
from tests.integration.helpers import Env, make_env

PASSWORD = "correct horse battery staple"


@dataclass
class WebUser:
    email: str
    password: str
    secret: str
    used: int = 0
    """The last time step a successful sign-in used (a code is good once)."""

    def next_step(self) -> int:
        current = int(datetime.now(UTC).timestamp()) // totp.STEP_SECONDS
        step = max(self.used + 1, current - totp.DRIFT_STEPS)
        assert step <= current + totp.DRIFT_STEPS, "more sign-ins than the drift window allows"
        return step

    def code(self) -> str:
        """The code of the next unused time step."""
        return totp.code_at(self.secret, datetime.fromtimestamp(
            self.next_step() * totp.STEP_SECONDS + 1, UTC))


#: Real argon2id with the smallest cost argon2-cffi allows: the tests exercise hashing,
#: verification and rehash-on-sign-in without spending seconds of CPU on each user.
FAST_ARGON2 = Argon2Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def web_env(database_url: str) -> Env:
    """A fresh tenant whose app hashes passwords with ``FAST_ARGON2``."""
    e = make_env(database_url)
    e.app = dataclasses.replace(
        e.app, platform=dataclasses.replace(e.app.platform, passwords=FAST_ARGON2))
    return e


@pytest.fixture
def env(database_url: str) -> Iterator[Env]:
    e = web_env(database_url)
    yield e
    e.app.engine.dispose()


def web_user(env: Env, email: str, role: str) -> WebUser:
    platform = env.app.platform
    if email != env.admin.actor:
        accounts.add_user(platform, env.admin, email, role)
    signin.set_password(platform, env.admin, email, PASSWORD)
    secret = signin.enrol_totp(platform, env.admin, email).secret
    return WebUser(email, PASSWORD, secret)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, user: WebUser, *, code: str | None = None,
            password: str | None = None) -> Any:
    page = client.get("/ui/login")
    step = user.next_step()
    response = client.post("/ui/login", data={
        "email": user.email, "password": password or user.password,
        "code": code or user.code(), "csrf": csrf_of(page.text), "next": "/ui/"},
        follow_redirects=False)
    if response.status_code == 303 and code is None:
        user.used = step
    return response


@pytest.fixture
def client(env: Env) -> Iterator[TestClient]:
    with TestClient(create_app(env.app), base_url="http://testserver") as c:
        yield c
