"""The vulnerabilities page on the real app and database, over the shared findings estate
(``tests/integration/vulns/estate.py``): KEV first, the overview's filters, bad filter
values, paging, triage in place (accepted and refused, audited), the by-model and
by-site counts, saved filters, and a viewer who sees no triage form and cannot forge one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fleetwarden.domain.findings import FindingQuery
from fleetwarden.entrypoints.web import vuln_pages
from fleetwarden.services import audit, vulns
from tests.integration.helpers import Env
from tests.integration.vulns import estate
from tests.integration.web.conftest import csrf_of, sign_in, web_env, web_user

KEV_CVE = "CVE-2021-36260"
"""On the two old cameras of CAM_MODEL: P1, in KEV."""
SSL_CVE = "CVE-2022-0778"
"""OpenSSL 1.0.2k: on both old cameras and on cam-other."""
ROW = re.compile(r'<a href="/ui/vulns\?cve=[^"]+" class="mono">([^<]+)</a>.*?'
                 r'<a href="/ui/devices/\d+">([^<]+)</a>', re.S)


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> Iterator[Env]:
    e = web_env(database_url)
    ids = estate.build(e, tmp_path)
    del ids["_import"]
    e.ids = ids  # type: ignore[attr-defined]
    yield e
    e.app.engine.dispose()


def rows(html: str) -> list[tuple[str, str]]:
    return ROW.findall(html)


def signed_in(env: Env, client: TestClient, role: str) -> str:
    user = web_user(env, f"{role}@northshire.example", role)
    assert sign_in(client, user).status_code == 303
    return user.email


def statuses(env: Env) -> set[tuple[str, str, str]]:
    page = vulns.findings(env.platform, env.admin, FindingQuery(limit=100))
    return {(f.vulnerability_id, f.device_name, f.status.value) for f in page.items}


def triage_events(env: Env) -> list[Any]:
    return [e for e in audit.export(env.platform, env.admin) if e.action == "vulns.triage"]


def test_kev_first_and_every_overview_filter(env: Env, client: TestClient) -> None:
    signed_in(env, client, "viewer")
    page = client.get("/ui/vulns")
    assert page.status_code == 200, page.text
    listed = rows(page.text)
    assert len(listed) == 5 and {c for c, _ in listed[:2]} == {KEV_CVE}
    assert '<span class="badge kev"' in page.text and '<span class="badge P1">' in page.text

    def shown(**params: Any) -> set[tuple[str, str]]:
        r = client.get("/ui/vulns", params=params)
        assert r.status_code == 200, r.text
        return set(rows(r.text))

    kev = {(KEV_CVE, "cam-old-1"), (KEV_CVE, "cam-old-2")}
    assert shown(kev="1") == kev and shown(priority="P1") == kev
    assert shown(priority=["P2", "3"]) == {(SSL_CVE, "cam-old-1"), (SSL_CVE, "cam-old-2"),
                                           (SSL_CVE, "cam-other")}
    assert shown(site="Depot") == {(SSL_CVE, "cam-other")}
    assert shown(model=estate.OTHER_MODEL) == {(SSL_CVE, "cam-other")}
    assert shown(cve=SSL_CVE.lower()) == shown(cve=SSL_CVE) and len(shown(cve=SSL_CVE)) == 3
    assert len(shown(status="open")) == 5 and shown(status="affected") == set()
    assert shown(overdue="1") == set()  # first seen just now
    empty = client.get("/ui/vulns", params={"overdue": "1"})
    assert "No findings match these filters." in empty.text
    # the form shows the filters back, checked and selected
    kept = client.get("/ui/vulns", params={"kev": "1", "site": "HQ", "priority": "P1"}).text
    assert 'name="kev" value="1" checked' in kept
    assert '<option value="HQ" selected>' in kept and 'value="P1" checked' in kept


@pytest.mark.parametrize(("params", "words"), [
    ({"priority": "P9"}, "Priority: P1, P2, P3 or P4"),
    ({"status": "<script>bogus</script>"}, "Status: one of open, affected"),
    ({"kev": "perhaps"}, "Kev: use 1 or leave it out"),
    ({"model": "Nobody/Nothing"}, "Model &#39;Nobody/Nothing&#39; is not in the register"),
    ({"offset": "many"}, "Offset: a whole number"),
    ({"cve": "x" * 65}, "Cve: at most 64 printable characters"),
])
def test_bad_filter_values_are_a_clear_error(env: Env, client: TestClient,
                                             params: dict[str, str], words: str) -> None:
    signed_in(env, client, "viewer")
    r = client.get("/ui/vulns", params=params)
    assert r.status_code == 400
    assert f'<p class="error" role="alert">{words}' in r.text
    assert rows(r.text) == [] and "Traceback" not in r.text
    assert "<script>bogus" not in r.text


def test_pages_cover_every_finding_once(env: Env, client: TestClient,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vuln_pages, "PAGE", 2)
    signed_in(env, client, "viewer")
    seen: list[tuple[str, str]] = []
    url: str | None = "/ui/vulns?kev=&site="
    while url is not None:
        r = client.get(url.replace("&amp;", "&"))
        assert r.status_code == 200, r.text
        seen += rows(r.text)
        found = re.search(r'<a href="([^"]+)">Next →</a>', r.text)
        url = found.group(1) if found else None
    assert len(seen) == 5 and len(set(seen)) == 5
    assert "Findings 5–5." in r.text and "← Previous" in r.text


def test_engineer_triages_in_place_and_each_decision_is_audited(env: Env,
                                                                 client: TestClient) -> None:
    email = signed_in(env, client, "engineer")
    page = client.get("/ui/vulns", params={"kev": "1"})
    assert page.text.count('action="/ui/vulns/triage"') == 2
    assert '<input type="hidden" name="back" value="kev=1">' in page.text
    token, old1 = csrf_of(page.text), env.ids["cam-old-1"]  # type: ignore[attr-defined]
    r = client.post("/ui/vulns/triage", data={
        "csrf": token, "vulnerability_id": KEV_CVE, "device_id": str(old1),
        "status": "affected", "note": "patch in the May window", "back": "kev=1&evil=x"},
        follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/vulns?kev=1&done=triaged"
    after = client.get(r.headers["location"])
    assert "Triage recorded (and audited)." in after.text
    assert "patch in the May window" in after.text and f"by {email}" in after.text
    assert (KEV_CVE, "cam-old-1", "affected") in statuses(env)

    old2 = env.ids["cam-old-2"]  # type: ignore[attr-defined]
    expiry = (env.platform.now() + timedelta(days=30)).date().isoformat()
    r = client.post("/ui/vulns/triage", data={
        "csrf": token, "vulnerability_id": KEV_CVE, "device_id": str(old2),
        "status": "risk_accepted", "approver": "ciso@northshire.example", "expires": expiry},
        follow_redirects=False)
    assert r.status_code == 303
    r = client.post("/ui/vulns/triage", data={
        "csrf": token, "vulnerability_id": SSL_CVE, "device_id": str(old2),
        "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
        follow_redirects=False)
    assert r.status_code == 303
    assert {(KEV_CVE, "cam-old-2", "risk_accepted"),
            (SSL_CVE, "cam-old-2", "not_affected")} <= statuses(env)
    listed = client.get("/ui/vulns").text
    assert "approved by ciso@northshire.example" in listed
    assert "vulnerable_code_not_in_execute_path" in listed
    events = triage_events(env)
    assert [e.after["status"] for e in events] == ["affected", "risk_accepted",
                                                   "not_affected"]
    assert all(e.actor == email for e in events)


@pytest.mark.parametrize(("form", "code", "words"), [
    ({"status": "not_affected"}, 422, "Not_affected needs a justification"),
    ({"status": "false_positive"}, 422, "False_positive needs a note"),
    ({"status": "risk_accepted", "approver": "engineer@northshire.example",
      "expires": "2099-01-01"}, 422, "the approver must be someone else than you"),
    ({"status": "risk_accepted", "approver": "ciso@northshire.example"}, 422,
     "needs an approver and an expiry"),
    ({"status": "affected", "expires": "soon"}, 422, "Expiry: a date"),
    ({"status": "fixed"}, 422, "cannot be set by hand"),
    ({"status": "affected", "vulnerability_id": "CVE-2099-0001"}, 404, "is not a finding"),
])
def test_refused_triage_shows_the_services_reason_and_changes_nothing(
        env: Env, client: TestClient, form: dict[str, str], code: int, words: str) -> None:
    signed_in(env, client, "engineer")
    token = csrf_of(client.get("/ui/vulns").text)
    before = statuses(env)
    r = client.post("/ui/vulns/triage", data={
        "csrf": token, "vulnerability_id": KEV_CVE,
        "device_id": str(env.ids["cam-old-1"]),  # type: ignore[attr-defined]
        "back": "priority=P1", **form})
    assert r.status_code == code
    assert words in r.text and "Traceback" not in r.text
    assert len(rows(r.text)) == 2  # the list it came from, still filtered to P1
    assert statuses(env) == before and triage_events(env) == []


@pytest.mark.parametrize("role", ["viewer", "analyst", "auditor"])
def test_readers_see_no_triage_form_and_a_forged_one_is_refused(env: Env, client: TestClient,
                                                                role: str) -> None:
    signed_in(env, client, role)
    page = client.get("/ui/vulns")
    assert page.status_code == 200 and len(rows(page.text)) == 5
    assert "/ui/vulns/triage" not in page.text and ">Triage<" not in page.text
    r = client.post("/ui/vulns/triage", data={
        "csrf": csrf_of(page.text), "vulnerability_id": KEV_CVE,
        "device_id": str(env.ids["cam-old-1"]),  # type: ignore[attr-defined]
        "status": "affected"})
    assert r.status_code == 403 and f"Role {role} may not write" in r.text
    assert {s for _, _, s in statuses(env)} == {"open"} and triage_events(env) == []


def test_counts_by_model_and_by_site(env: Env, client: TestClient) -> None:
    signed_in(env, client, "viewer")
    page = client.get("/ui/vulns", params={"kev": "1"})
    assert 'href="/ui/vulns/summary?kev=1&amp;by=model"' in page.text
    by_model = client.get("/ui/vulns/summary", params={"by": "model"})
    assert by_model.status_code == 200, by_model.text
    text = by_model.text
    # each model row links back to the list filtered to that model
    link = '<a href="/ui/vulns?model=Hikvision%2FDS-2CD2026G2-IU%2FSL">'
    assert link + "Hikvision DS-2CD2026G2-IU/SL</a>" in text
    row = text.split(link, 1)[1].split("</tr>", 1)[0]
    assert re.findall(r'<td class="num">(\d+)</td>', row)[:3] == ["2", "4", "4"]
    assert "Hikvision DS-2CD1043G0-I</a>" in text
    followed = client.get("/ui/vulns", params={"model": "Hikvision/DS-2CD2026G2-IU/SL"})
    assert len(rows(followed.text)) == 4
    by_site = client.get("/ui/vulns/summary", params={"by": "site", "kev": "1"})
    assert '<a href="/ui/vulns?kev=1&amp;site=HQ">HQ</a>' in by_site.text
    assert "Depot" not in by_site.text.split("<tbody>", 1)[1]
    bad = client.get("/ui/vulns/summary", params={"by": "vendor"})
    assert bad.status_code == 400 and "By: model or site" in bad.text


def test_saved_filters_keep_only_the_lists_own_parameters(env: Env,
                                                          client: TestClient) -> None:
    signed_in(env, client, "viewer")
    page = client.get("/ui/vulns", params={"kev": "1", "priority": "P1"})
    assert '<input type="hidden" name="query" value="kev=1&amp;priority=P1">' in page.text
    r = client.post("/ui/vulns/filters", data={
        "csrf": csrf_of(page.text), "name": "KEV now",
        "query": "kev=1&priority=P1&next=//evil.example&offset=50"},
        follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/vulns?kev=1&priority=P1&done=saved"
    shown = client.get(r.headers["location"]).text
    assert "Filter saved." in shown
    assert '<a href="/ui/vulns?kev=1&amp;priority=P1">KEV now</a>' in shown
    filter_id = re.search(r'action="/ui/vulns/filters/(\d+)/delete"', shown)
    assert filter_id is not None
    gone = client.post(f"/ui/vulns/filters/{filter_id.group(1)}/delete",
                       data={"csrf": csrf_of(shown)}, follow_redirects=False)
    assert gone.headers["location"] == "/ui/vulns?done=deleted"
    assert "KEV now" not in client.get(gone.headers["location"]).text
    actions = [e.action for e in audit.export(env.platform, env.admin)]
    assert "filter.save" in actions and "filter.delete" in actions
