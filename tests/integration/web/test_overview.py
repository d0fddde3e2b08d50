"""The overview page (/ui/) on a small known estate, on real SQLite and PostgreSQL: every
figure is the exact count of the estate built here through the services, and links to
the list behind it; compliance and trends come from the daily snapshot the worker
takes; figures are served from the cache while it refreshes."""

from __future__ import annotations

import html
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fleetwarden.bootstrap import App
from fleetwarden.domain import totp
from fleetwarden.domain.records import RecordKind
from fleetwarden.entrypoints.api import create_app
from fleetwarden.entrypoints.web.session import COOKIE
from fleetwarden.entrypoints.worker import BackgroundWorker
from fleetwarden.services import (
    attestations,
    compliance_report,
    devices,
    registry,
    risk,
    signin,
)
from fleetwarden.services.overview import OverviewCache
from tests.integration.compliance.estate import add_host
from tests.integration.helpers import Env
from tests.integration.vulns import estate as vuln_estate
from tests.integration.web.conftest import PASSWORD, WebUser, sign_in, web_user

HOSTILE_SITE = 'Annex <script>alert("x")</script> & co'


class _Shifted:
    def __init__(self, delta: timedelta) -> None:
        self.delta = delta

    def now(self) -> datetime:
        return datetime.now(UTC) + self.delta


@dataclass
class Estate:
    env: Env
    ids: dict[str, Any]
    site_ids: dict[str, int]


def _build(env: Env, tmp: Path) -> Estate:
    """The findings tests' four cameras (HQ and Depot; KEV on the two old ones), then:
    a door controller taken into service at HQ, a door lock with no site, an NVR at the
    Depot that was disposed, a sensor at a site with a hostile name, and two unregistered
    hosts. A snapshot of yesterday is taken when only the cameras exist."""
    p, admin = env.platform, env.admin
    ids = vuln_estate.build(env, tmp)
    yesterday = replace(p, clock=_Shifted(timedelta(days=-1)))
    compliance_report.summary_report(yesterday, admin)
    registry.create(p, admin, RecordKind.SITE, {"name": HOSTILE_SITE})

    def add(name: str, **fields: Any) -> int:
        d = devices.create_device(p, admin, {"name": name, **fields})
        assert d.id is not None
        ids[name] = d.id
        return d.id

    door = add("door-1", device_type="access_controller", site="HQ", criticality="high")
    for state in ("procured", "commissioning", "in_service"):
        devices.transition(p, admin, door, state, "installed")
    add("lock-1", device_type="door_lock")
    nvr = add("old-nvr", device_type="nvr", site="Depot")
    devices.transition(p, admin, nvr, "disposed", "never installed")
    add("sensor-annex", device_type="sensor", site=HOSTILE_SITE)
    registry.create(p, admin, RecordKind.SYSTEM, {
        "name": "Doors", "scope": "HQ doors", "device_ids": [door],
        "impact_confidentiality": "high", "impact_integrity": "high",
        "impact_availability": "high"})
    registry.create(p, admin, RecordKind.DATA_ITEM, {
        "name": "Door log", "classification": "SECRET", "system": "Doors"})
    add_host(env, device_id=None, ip="127.40.1.98", services=())
    add_host(env, device_id=None, ip="127.40.1.99", services=())
    sites = {r.name: r.id for r in registry.list_records(p, admin, RecordKind.SITE)[0]}
    return Estate(env, ids, sites)


@pytest.fixture
def est(env: Env, tmp_path: Path) -> Estate:
    return _build(env, tmp_path)


@pytest.fixture
def admin_user(env: Env) -> WebUser:
    return web_user(env, env.admin.actor, "admin")


def _card(page: str, href: str) -> int:
    found = re.search(r'<a class="card[^"]*" href="' + re.escape(html.escape(href))
                      + r'">\s*<span class="value">([\d,]+)</span>', page)
    assert found, f"no card linking to {href}"
    return int(found.group(1).replace(",", ""))


def _bar(page: str, href: str) -> str:
    """The tooltip of the chart bar that links to ``href``: '<label>: <figure>'."""
    found = re.search(r'<a href="' + re.escape(html.escape(href))
                      + r'"><g class="bar"><title>([^<]*)</title>', page)
    assert found, f"no bar linking to {href}"
    return html.unescape(found.group(1))


def _legend(page: str, level: str) -> int:
    found = re.search(r">" + level + r": ([\d,]+) \(", page)
    assert found, f"no legend entry for {level}"
    return int(found.group(1).replace(",", ""))


def test_every_figure_is_the_estates_and_links_to_its_list(est: Estate, client: TestClient,
                                                          admin_user: WebUser) -> None:
    assert sign_in(client, admin_user).status_code == 303
    response = client.get("/ui/")
    assert response.status_code == 200
    page = response.text
    assert "Figures as of" in page
    # headline cards
    assert _card(page, "/ui/devices") == 8
    assert "7 not disposed" in page
    assert _card(page, "/ui/unregistered") == 2
    assert _card(page, "/ui/vulns?kev=1") == 2  # the two cameras on the old firmware
    assert _card(page, "/ui/vulns?priority=P1") == 2
    assert _card(page, "/ui/vulns?overdue=1") == 0
    # devices by type, state and site
    assert _bar(page, "/ui/devices?type=cctv_camera") == "CCTV camera: 4"
    assert _bar(page, "/ui/devices?type=access_controller") == "Access controller: 1"
    assert _bar(page, "/ui/devices?type=door_lock") == "Door lock: 1"
    assert _bar(page, "/ui/devices?type=nvr") == "NVR: 1"
    assert _bar(page, "/ui/devices?type=sensor") == "Sensor: 1"
    assert _bar(page, "/ui/devices?state=planned") == "Planned: 6"
    assert _bar(page, "/ui/devices?state=in_service") == "In service: 1"
    assert _bar(page, "/ui/devices?state=disposed") == "Disposed: 1"
    assert "/ui/devices?state=procured" not in page  # states without devices left out
    sites = est.site_ids
    assert _bar(page, f"/ui/devices?site={sites['HQ']}") == "HQ: 3"
    assert _bar(page, f"/ui/devices?site={sites['Depot']}") == "Depot: 3"
    assert _bar(page, f"/ui/devices?site={sites[HOSTILE_SITE]}") == f"{HOSTILE_SITE}: 1"
    assert "<title>No site: 1</title>" in page
    # findings by priority: HIK is P1 on both old cameras, OpenSSL P2 on the critical DMZ
    # camera and P3 on the other two
    for level, active in ((1, 2), (2, 1), (3, 2), (4, 0)):
        assert _bar(page, f"/ui/vulns?priority=P{level}") == f"P{level}: {active}"
        assert (f'<a href="/ui/vulns?priority=P{level}&amp;overdue=1">0</a>') in page
    # compliance has no snapshot of today yet; yesterday's gives the trend
    assert "fleetwarden report summary" not in page
    assert "From the daily summary of" in page


def test_risk_is_each_live_devices_inherent_level(est: Estate, client: TestClient,
                                                  admin_user: WebUser) -> None:
    p, admin = est.env.platform, est.env.admin
    expected = Counter(
        risk.risk_show(p, admin, did).score.inherent_level
        for name, did in est.ids.items() if not name.startswith("_") and name != "old-nvr")
    assert sum(expected.values()) == 7 and len(expected) > 1
    sign_in(client, admin_user)
    page = client.get("/ui/").text
    for level in ("low", "medium", "high", "critical"):
        assert _legend(page, level.capitalize()) == expected.get(level, 0), level


def test_compliance_and_trends_come_from_the_workers_daily_snapshot(
        est: Estate, client: TestClient, admin_user: WebUser) -> None:
    p, admin = est.env.platform, est.env.admin
    sign_in(client, admin_user)
    before = client.get("/ui/").text
    assert "psti" in before  # yesterday's snapshot: every framework at 0 %
    attestations.attest(p, admin, "psti/2", subject_type="tenant", subject_id=None,
                        status="PASS", statement="Our disclosure policy is published.",
                        method="inspection", expires_at=p.now() + timedelta(days=365))
    BackgroundWorker(p).run_once()  # takes today's snapshot
    BackgroundWorker(p).run_once()  # and not a second one
    client.app.state.overview_cache = OverviewCache()  # type: ignore[attr-defined]
    page = client.get("/ui/").text
    today = p.now().date().isoformat()
    assert f"From the daily summary of {today}" in page
    # 1 of psti's 3 requirements met on each of the 7 devices not disposed
    assert _bar(page, "/ui/compliance?framework=psti") == "psti: 33.3 %"
    assert re.search(r'<a href="/ui/compliance\?framework=psti">UK PSTI[^<]*</a></td>\s*'
                     r'<td class="num">33.3 %</td>\s*<td class="num"><span class="better">'
                     r"\+33.3</span>", page)
    # trends: yesterday 4 devices, today 7
    assert f"<title>Devices (not disposed): 7 on {today}</title>" in page
    assert "Devices (not disposed): <strong>7</strong>" in page
    assert re.search(r'<polyline points="[\d.]+,[\d.]+ [\d.]+,[\d.]+" fill="none"', page)


def test_overdue_counts_when_findings_pass_their_due_date(est: Estate,
                                                         admin_user: WebUser) -> None:
    env = est.env
    later = replace(env.platform, clock=_Shifted(timedelta(days=8)))
    when = later.now()
    session = signin.sign_in(later, env.admin.tenant, admin_user.email, PASSWORD,
                             totp.code_at(admin_user.secret, when), "testclient")
    app = App(env.app.settings, env.app.engine, later)
    with TestClient(create_app(app), base_url="http://testserver") as c:
        c.cookies.set(COOKIE, session.secret)
        page = c.get("/ui/").text
    # KEV findings are due in 7 days: both P1 findings are now overdue, nothing else is
    assert _card(page, "/ui/vulns?overdue=1") == 2
    assert '<a href="/ui/vulns?priority=P1&amp;overdue=1" class="overdue">2</a>' in page
    assert "<title>P1: 2 (2 overdue)</title>" in page
    assert '<a href="/ui/vulns?priority=P2&amp;overdue=1">0</a>' in page


def test_no_snapshot_yet_says_how_to_take_one(env: Env, client: TestClient,
                                              admin_user: WebUser) -> None:
    devices.create_device(env.platform, env.admin, {"name": "cam", "device_type":
                                                    "cctv_camera"})
    sign_in(client, admin_user)
    page = client.get("/ui/").text
    assert _card(page, "/ui/devices") == 1
    assert "No daily summary yet" in page and "<code>fleetwarden report summary</code>" in page
    assert "Trends start with the first daily summary." in page


def test_a_viewer_sees_the_figures_and_no_action(est: Estate, client: TestClient) -> None:
    viewer = web_user(est.env, "vera@northshire.example", "viewer")
    sign_in(client, viewer)
    page = client.get("/ui/").text
    assert _card(page, "/ui/devices") == 8
    forms = re.findall(r"<form[^>]*>", page)
    assert forms == ['<form method="post" action="/ui/logout" class="inline">']


def test_names_from_the_register_render_as_text(est: Estate, client: TestClient,
                                                admin_user: WebUser) -> None:
    sign_in(client, admin_user)
    response = client.get("/ui/")
    page = response.text
    assert "<script>alert" not in page
    assert "Annex &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in page
    assert "<script" not in page.split("</head>", 1)[1]
    assert " style=" not in page and "<style" not in page
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_first_request_waits_a_little_then_figures_come_from_the_background(
        env: Env, admin_user: WebUser) -> None:
    devices.create_device(env.platform, env.admin, {"name": "cam-1",
                                                    "device_type": "cctv_camera"})
    gate = threading.Event()
    real = env.platform.uow

    def gated(tenant: Any, write: bool) -> Any:
        if threading.current_thread().name.startswith("overview-"):
            assert gate.wait(60)
        return real(tenant, write)

    app = App(env.app.settings, env.app.engine, replace(env.platform, uow=gated))
    with TestClient(create_app(app), base_url="http://testserver") as c:
        sign_in(c, admin_user)
        c.app.state.overview_cache = OverviewCache(first_wait=0.05)  # type: ignore[attr-defined]
        waiting = c.get("/ui/").text
        assert "being computed" in waiting
        assert '<meta http-equiv="refresh" content="5">' in waiting
        gate.set()
        assert _card(_until(c, lambda page: "Figures as of" in page), "/ui/devices") == 1


def test_figures_are_served_from_the_cache_while_it_refreshes(
        env: Env, client: TestClient, admin_user: WebUser) -> None:
    devices.create_device(env.platform, env.admin, {"name": "cam-1",
                                                    "device_type": "cctv_camera"})
    sign_in(client, admin_user)
    client.app.state.overview_cache = OverviewCache(min_age=0, factor=0)  # type: ignore[attr-defined]
    assert _card(client.get("/ui/").text, "/ui/devices") == 1
    devices.create_device(env.platform, env.admin, {"name": "cam-2",
                                                    "device_type": "cctv_camera"})
    assert _card(client.get("/ui/").text, "/ui/devices") == 1  # old figures, refresh started
    _until(client, lambda page: _card(page, "/ui/devices") == 2)


def _until(client: TestClient, done: Any) -> str:
    """The overview once ``done(page)``: the background refresh has landed."""
    deadline = time.monotonic() + 30
    while True:
        page = client.get("/ui/").text
        if done(page) or time.monotonic() > deadline:
            assert done(page), "the background refresh never landed"
            return page
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def _no_stray_threads(env: Env) -> Iterator[None]:
    yield
    for t in threading.enumerate():
        if t.name.startswith("overview-"):
            t.join(30)
