"""The audit-log page on the real app and database: auditors and admins only, newest
first, searched by actor, action prefix, object and time range and paged, with the
chain's head and last checkpoint, and verification on request that turns from OK to
broken when a row is edited in the database behind the application's back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from fleetwarden.domain.records import RecordKind
from fleetwarden.services import audit, audit_log, registry
from tests.integration.helpers import Env
from tests.integration.web.conftest import sign_in, web_env, web_user

SEQ = re.compile(r'<td class="num">(\d+)</td>')


@pytest.fixture
def env(database_url: str) -> Iterator[Env]:
    e = web_env(database_url)
    for i in range(12):
        registry.create(e.platform, e.admin, RecordKind.SITE, {"name": f"site-{i}"})
    yield e
    e.app.engine.dispose()


def signed_in(env: Env, client: TestClient, role: str) -> str:
    user = web_user(env, f"{role}@northshire.example", role)
    assert sign_in(client, user).status_code == 303
    return user.email


def seqs(html: str) -> list[int]:
    return [int(s) for s in SEQ.findall(html)]


def head(env: Env) -> int:
    return max(e.seq for e in audit.export(env.platform, env.admin))


@pytest.mark.parametrize("role", ["viewer", "analyst", "engineer"])
def test_only_auditors_and_admins_see_the_log(env: Env, client: TestClient, role: str) -> None:
    signed_in(env, client, role)
    assert 'href="/ui/audit"' not in client.get("/ui/unregistered").text
    refused = client.get("/ui/audit")
    assert refused.status_code == 403
    assert f"Role {role} may not read audit" in refused.text
    assert "site.create" not in refused.text
    assert client.get("/ui/audit", params={"verify": "1"}).status_code == 403


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_newest_first_with_the_chain_head_and_no_verification_unless_asked(
        env: Env, client: TestClient, role: str) -> None:
    if role == "admin":
        client_user = web_user(env, env.admin.actor, "admin")
        assert sign_in(client, client_user).status_code == 303
    else:
        signed_in(env, client, role)
    last = head(env)
    page = client.get("/ui/audit")
    assert page.status_code == 200, page.text
    shown = seqs(page.text)
    assert shown == sorted(shown, reverse=True) and shown[0] == last
    assert "site.create" in page.text and 'href="/ui/audit"' in page.text
    assert f"event #{last}" in page.text and "Verify chain" in page.text
    assert "The chain verifies" not in page.text
    assert "Last signed checkpoint</dt><dd>none yet" in page.text
    audit.checkpoint(env.platform, env.admin)
    again = client.get("/ui/audit").text
    assert re.search(r"Last signed checkpoint</dt><dd>event #\d+ at \d{4}-\d\d-\d\d", again)


def test_verification_is_ok_then_broken_after_tampering(env: Env, client: TestClient) -> None:
    signed_in(env, client, "auditor")
    ok = client.get("/ui/audit", params={"verify": "1"})
    assert ok.status_code == 200
    assert '<span class="badge PASS">OK</span> The chain verifies' in ok.text
    assert "BROKEN" not in ok.text
    with env.app.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.execute(text("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 7"))
    broken = client.get("/ui/audit", params={"verify": "1"})
    assert broken.status_code == 200
    assert '<span class="badge FAIL">BROKEN</span> The chain is broken at event\n      #7' \
        in broken.text
    assert "edited" in broken.text and "The last event that verified is #6" in broken.text
    # the page itself shows the state without verifying unless asked
    assert "BROKEN" not in client.get("/ui/audit").text


def test_search_by_actor_action_object_and_time(env: Env, client: TestClient) -> None:
    email = signed_in(env, client, "auditor")

    def found(**params: str) -> list[int]:
        r = client.get("/ui/audit", params=params)
        assert r.status_code == 200, r.text
        return seqs(r.text)

    events = list(audit.export(env.platform, env.admin))
    creates = [e.seq for e in events if e.action == "site.create"]
    assert sorted(found(action="site.")) == creates
    assert found(action="site.create", actor=env.admin.actor) == sorted(creates, reverse=True)
    assert found(actor="nobody@northshire.example") == []
    signins = found(actor=email)
    assert signins and all(e.actor == email for e in events if e.seq in signins)
    site = next(e for e in events if e.action == "site.create")
    assert found(object_type="site", object_id=site.object_id) == [site.seq]
    today = env.platform.now().date()
    assert len(found(since=today.isoformat(), until=today.isoformat())) == len(
        list(audit.export(env.platform, env.admin)))
    assert found(since=(today + timedelta(days=1)).isoformat()) == []
    assert found(until=(today - timedelta(days=1)).isoformat()) == []
    # the search is shown back in the form
    kept = client.get("/ui/audit", params={"action": "site.", "actor": env.admin.actor}).text
    assert 'name="action" value="site."' in kept
    assert f'name="actor" value="{env.admin.actor}"' in kept


@pytest.mark.parametrize(("params", "words"), [
    ({"since": "yesterday"}, "From: a date (YYYY-MM-DD)"),
    ({"until": "2026-13-45"}, "To: a date (YYYY-MM-DD)"),
    ({"since": "2026-05-02", "until": "2026-05-01"}, "The time range ends before it starts"),
    ({"before": "-1"}, "Before: an event number"),
    ({"verify": "please"}, "Verify: use 1 or leave it out"),
    ({"actor": "x" * 300}, "Actor: at most 256 printable characters"),
])
def test_bad_search_values_are_a_clear_error(env: Env, client: TestClient,
                                             params: dict[str, str], words: str) -> None:
    signed_in(env, client, "auditor")
    r = client.get("/ui/audit", params=params)
    assert r.status_code == 400
    assert f'<p class="error" role="alert">{words}' in r.text and seqs(r.text) == []


def test_pages_newest_first_and_a_bounded_search_continues_further_back(
        env: Env, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(12, 60):
        registry.create(env.platform, env.admin, RecordKind.SITE, {"name": f"site-{i}"})
    signed_in(env, client, "auditor")
    last = head(env)
    first = client.get("/ui/audit")
    assert seqs(first.text) == list(range(last, last - 50, -1))
    older = re.search(r'<a href="([^"]+)">Older →</a>', first.text)
    assert older is not None and f"before={last - 49}" in older.group(1)
    second = client.get(older.group(1).replace("&amp;", "&"))
    assert seqs(second.text) == list(range(last - 50, 0, -1))
    assert "Older →" not in second.text and "↑ Newest" in second.text

    # a rare actor: the first read stops after WINDOW events and offers to go on
    monkeypatch.setattr(audit_log, "WINDOW", 10)
    rare = client.get("/ui/audit", params={"actor": "cli:test"})
    assert seqs(rare.text) == [] and "Search further back" in rare.text
    url: str | None = "/ui/audit?actor=cli%3Atest"
    hops = 0
    found: list[int] = []
    while url is not None:
        r = client.get(url.replace("&amp;", "&"))
        found += seqs(r.text)
        more = re.search(r'<a href="([^"]+)">(?:Search further back|Older →)</a>', r.text)
        url = more.group(1) if more else None
        hops += 1
    tenant_created = [e.seq for e in audit.export(env.platform, env.admin)
                      if e.actor == "cli:test"]
    assert found == sorted(tenant_created, reverse=True) and hops >= last // 10
