"""The devices list of the dashboard on real SQLite and PostgreSQL: filters, sorts, keyset
pages both ways, bad filter values, CSV export (content and the formula guard), and
saved filters (per user, CSRF-checked, audited)."""

from __future__ import annotations

import csv
import html
import io
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fleetwarden.domain.device_input import LIST_COLUMNS
from fleetwarden.domain.records import RecordKind
from fleetwarden.services import audit, devices, registry
from tests.integration.helpers import Env, add_tenant
from tests.integration.web.conftest import WebUser, csrf_of, sign_in, web_user

_ROW = re.compile(r'<td class="name"><a href="/ui/devices/(\d+)">([^<]*)</a></td>')


def names(text: str) -> list[str]:
    """The device names of a list page's table, in order."""
    return [html.unescape(n) for _, n in _ROW.findall(text)]


def link(text: str, rel: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="' + rel + '">', text)
    return html.unescape(found.group(1)) if found else None


def as_user(client: TestClient, user: WebUser) -> None:
    client.cookies.clear()
    assert sign_in(client, user).status_code == 303


@pytest.fixture
def estate(env: Env) -> dict[str, Any]:
    """Two sites, two segments, two models and a handful of distinct devices."""
    p, admin = env.platform, env.admin
    ids: dict[str, Any] = {}
    for kind, raw in ((RecordKind.SITE, {"name": "HQ"}), (RecordKind.SITE, {"name": "Depot"}),
                      (RecordKind.SEGMENT, {"name": "hq-cctv", "site": "HQ",
                                            "cidrs": ["127.30.1.0/24"]}),
                      (RecordKind.SEGMENT, {"name": "depot-bms", "site": "Depot",
                                            "cidrs": ["127.31.1.0/24"]}),
                      (RecordKind.MODEL, {"vendor": "Hikvision", "model": "DS-2CD2026",
                                          "device_type": "cctv_camera"}),
                      (RecordKind.MODEL, {"vendor": "Siemens", "model": "PXC4",
                                          "device_type": "bms_controller"})):
        record = registry.create(p, admin, kind, raw)
        ids[str(getattr(record, "name", None) or getattr(record, "vendor", ""))] = record.id

    def add(name: str, **fields: Any) -> None:
        ids[name] = devices.create_device(p, admin, {"name": name, **fields}).id

    add("cam-hq-1", vendor="Hikvision", model="DS-2CD2026", site="HQ", segment="hq-cctv",
        serial="HK-0001", ip_addresses=["127.30.1.10"], mac_addresses=["00:11:22:33:44:01"],
        criticality="high", lifecycle_state="in_service")
    add("cam-hq-2", vendor="Hikvision", model="DS-2CD2026", site="HQ", segment="hq-cctv",
        serial="HK-0002", ip_addresses=["127.30.1.11"], lifecycle_state="procured")
    add("bms-depot", vendor="Siemens", model="PXC4", site="Depot", segment="depot-bms",
        serial="SI-77", criticality="critical", lifecycle_state="in_service")
    add("<script>alert('x')</script>", device_type="sensor", site="Depot", owner="@SUM(1)")
    add("=HYPERLINK(\"http://evil.example\")", device_type="printer",
        firmware_version="-2+3", hostname="printer-1.hq")
    return ids


# ------------------------------------------------------------------------- filters
def test_filters_narrow_the_table(env: Env, client: TestClient, estate: dict[str, Any]) -> None:
    as_user(client, web_user(env, "vi@northshire.example", "viewer"))
    everything = client.get("/ui/devices")
    assert everything.status_code == 200
    assert "default-src 'none'" in everything.headers["content-security-policy"]
    assert len(names(everything.text)) == 5
    # a hostile name is text, never markup
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in everything.text
    assert "<script>alert(" not in everything.text
    cases = {
        "type=cctv_camera": {"cam-hq-1", "cam-hq-2"},
        "state=in_service": {"cam-hq-1", "bms-depot"},
        f"site={estate['Depot']}": {"bms-depot", "<script>alert('x')</script>"},
        f"segment={estate['hq-cctv']}": {"cam-hq-1", "cam-hq-2"},
        f"model={estate['Siemens']}": {"bms-depot"},
        "criticality=critical": {"bms-depot"},
        "q=HK-000": {"cam-hq-1", "cam-hq-2"},          # serial substring
        "q=printer-1": {"=HYPERLINK(\"http://evil.example\")"},  # hostname
        "q=127.30.1.11": {"cam-hq-2"},                  # exact IP
        "q=00-11-22-33-44-01": {"cam-hq-1"},            # MAC in another spelling
        f"type=cctv_camera&state=procured&site={estate['HQ']}": {"cam-hq-2"},
        "type=cctv_camera&criticality=critical": set(),
    }
    for query, expected in cases.items():
        page = client.get(f"/ui/devices?{query}")
        assert page.status_code == 200, (query, page.text)
        assert set(names(page.text)) == expected, query
    # the chosen filters stay selected in the form
    page = client.get(f"/ui/devices?type=cctv_camera&site={estate['HQ']}")
    assert '<option value="cctv_camera" selected>' in page.text
    assert f'<option value="{estate["HQ"]}" selected>HQ</option>' in page.text
    assert "No device matches" in client.get(
        "/ui/devices?type=cctv_camera&criticality=critical").text


def test_bad_filter_values_are_one_line_errors(env: Env, client: TestClient,
                                                estate: dict[str, Any]) -> None:
    as_user(client, web_user(env, "vi@northshire.example", "viewer"))
    for query, message in (("type=toaster", "Type: unknown value &#39;toaster&#39;"),
                           ("state=lost", "State: unknown value"),
                           ("criticality=extreme", "Criticality: unknown value"),
                           ("sort=serial", "Sort: id, name or last_seen"),
                           ("limit=30", "Page size: 25, 50, 100, 200"),
                           ("site=abc", "Site: give the site&#39;s id"),
                           ("site=999999", "Site: no site has id 999999"),
                           ("cursor=not-a-cursor", "Cursor: not a cursor from this API"),
                           ("sort=name&cursor=" + _cursor_of(client, "id"),
                            "made for another sort order")):
        page = client.get(f"/ui/devices?{query}")
        assert page.status_code == 400, query
        assert 'class="error"' in page.text and message in page.text, (query, page.text)
        assert "Traceback" not in page.text and names(page.text) == []
    other = add_tenant(env, "Southshire", "admin@southshire.example")
    foreign = registry.create(env.platform, other, RecordKind.SITE, {"name": "Elsewhere"})
    assert client.get(f"/ui/devices?site={foreign.id}").status_code == 400


def _cursor_of(client: TestClient, sort: str) -> str:
    """A next-page cursor made for ``sort`` (there are 5 devices; pages of 25 need more)."""
    from fleetwarden.entrypoints.api import cursor

    return cursor.encode(sort, False, (1, 1))


# ----------------------------------------------------------------- sort and pages
def test_keyset_pages_forward_and_back_in_any_sort(env: Env, client: TestClient) -> None:
    p, admin = env.platform, env.admin
    made = [f"dev-{i:03d}" for i in range(60)]
    for name in made[::-1]:  # ids in the reverse order of names
        devices.create_device(p, admin, {"name": name, "device_type": "sensor"})
    as_user(client, web_user(env, "vi@northshire.example", "viewer"))

    first = client.get("/ui/devices?sort=name&limit=25")
    assert names(first.text) == made[:25]
    assert link(first.text, "prev") is None
    second = client.get(link(first.text, "next") or "")
    assert names(second.text) == made[25:50]
    third = client.get(link(second.text, "next") or "")
    assert names(third.text) == made[50:]
    assert link(third.text, "next") is None
    back = client.get(link(third.text, "prev") or "")
    assert names(back.text) == made[25:50]
    start = client.get(link(back.text, "prev") or "")
    assert names(start.text) == made[:25]
    assert link(start.text, "prev") is None and link(start.text, "next")

    descending = client.get("/ui/devices?sort=-name&limit=25")
    assert names(descending.text) == made[::-1][:25]
    by_id = client.get("/ui/devices?sort=-id&limit=25")
    assert names(by_id.text) == made[:25]  # newest id first = lowest name
    # the column headers sort; the active one flips direction
    assert 'href="/ui/devices?sort=-name&amp;limit=25" aria-sort="ascending"' in first.text
    # total only when asked
    assert "60 matching devices" not in first.text
    assert "60 matching devices" in client.get("/ui/devices?sort=name&limit=25&count=1").text


# ------------------------------------------------------------------------- CSV
def test_csv_export_follows_the_filter_and_guards_formulas(env: Env, client: TestClient,
                                                           estate: dict[str, Any]) -> None:
    as_user(client, web_user(env, "vi@northshire.example", "viewer"))
    response = client.get(f"/ui/devices.csv?site={estate['Depot']}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert tuple(rows[0]) == LIST_COLUMNS
    by_name = {r[1]: dict(zip(LIST_COLUMNS, r, strict=True)) for r in rows[1:]}
    assert set(by_name) == {"bms-depot", "<script>alert('x')</script>"}
    assert by_name["bms-depot"]["serial"] == "SI-77"
    assert by_name["bms-depot"]["vendor"] == "Siemens"
    assert by_name["<script>alert('x')</script>"]["owner"] == "'@SUM(1)"

    printers = list(csv.reader(io.StringIO(client.get("/ui/devices.csv?type=printer").text)))
    assert len(printers) == 2
    row = dict(zip(LIST_COLUMNS, printers[1], strict=True))
    assert row["name"] == "'=HYPERLINK(\"http://evil.example\")"
    assert row["firmware_version"] == "'-2+3"
    everything = list(csv.reader(io.StringIO(client.get("/ui/devices.csv").text)))
    assert len(everything) == 6
    by_ip = list(csv.reader(io.StringIO(client.get("/ui/devices.csv?q=127.30.1.10").text)))
    assert [r[1] for r in by_ip[1:]] == ["cam-hq-1"]
    assert client.get("/ui/devices.csv?type=toaster").status_code == 422


def test_csv_export_pages_through_more_than_one_batch(env: Env, client: TestClient,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from fleetwarden.entrypoints.web import device_pages

    for i in range(7):
        devices.create_device(env.platform, env.admin, {"name": f"s-{i}", "device_type": "sensor"})
    monkeypatch.setattr(device_pages, "EXPORT_BATCH", 3)
    as_user(client, web_user(env, "vi@northshire.example", "viewer"))
    rows = list(csv.reader(io.StringIO(client.get("/ui/devices.csv?sort=-name").text)))
    assert [r[1] for r in rows[1:]] == [f"s-{i}" for i in range(6, -1, -1)]
    monkeypatch.setattr(device_pages, "MAX_EXPORT", 5)
    capped = list(csv.reader(io.StringIO(client.get("/ui/devices.csv").text)))
    assert len(capped) == 1 + 5


# --------------------------------------------------------------- saved filters
def test_saved_filters_are_per_user_and_audited(env: Env, client: TestClient,
                                                estate: dict[str, Any]) -> None:
    ana = web_user(env, "ana@northshire.example", "analyst")
    vic = web_user(env, "vic@northshire.example", "viewer")
    as_user(client, ana)
    page = client.get("/ui/devices?type=cctv_camera&state=in_service")
    assert 'name="query" value="type=cctv_camera&amp;state=in_service"' in page.text
    # no CSRF token, no filter
    refused = client.post("/ui/devices/filters", data={"name": "x", "query": "type=nvr"})
    assert refused.status_code == 403
    saved = client.post("/ui/devices/filters", data={
        "csrf": csrf_of(page.text), "name": "Live cameras",
        "query": "type=cctv_camera&state=in_service&cursor=abc&evil=1"},
        follow_redirects=False)
    assert saved.status_code == 303
    assert saved.headers["location"] == (
        "/ui/devices?type=cctv_camera&state=in_service&done=filter-saved")
    shown = client.get(saved.headers["location"])
    assert "Filter saved." in shown.text
    assert '<a href="/ui/devices?type=cctv_camera&amp;state=in_service">Live cameras</a>' \
        in shown.text
    assert set(names(shown.text)) == {"cam-hq-1"}
    # a filter the page would refuse is refused when saved too
    bad = client.post("/ui/devices/filters", data={
        "csrf": csrf_of(page.text), "name": "Broken", "query": "type=toaster"})
    assert bad.status_code == 422 and "Type: unknown value" in bad.text
    filter_id = int(re.findall(r'/ui/devices/filters/(\d+)/delete', shown.text)[0])

    as_user(client, vic)
    theirs = client.get("/ui/devices")
    assert "Live cameras" not in theirs.text and "Saved filters (0)" in theirs.text
    stolen = client.post(f"/ui/devices/filters/{filter_id}/delete",
                         data={"csrf": csrf_of(theirs.text)})
    assert stolen.status_code == 404

    as_user(client, ana)
    mine = client.get("/ui/devices")
    assert "Live cameras" in mine.text
    gone = client.post(f"/ui/devices/filters/{filter_id}/delete",
                       data={"csrf": csrf_of(mine.text)}, follow_redirects=False)
    assert gone.status_code == 303
    after = client.get(gone.headers["location"])
    assert "Saved filter deleted." in after.text and "Live cameras" not in after.text
    actions = [(e.actor, e.action) for e in audit.export(env.platform, env.admin)]
    assert ("ana@northshire.example", "filter.save") in actions
    assert ("ana@northshire.example", "filter.delete") in actions


def test_the_list_needs_a_session(client: TestClient) -> None:
    for path in ("/ui/devices", "/ui/devices.csv"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/ui/login?next=")
