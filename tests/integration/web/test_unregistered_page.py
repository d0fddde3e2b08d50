"""The unregistered-devices page on the real app and database: a lab device with hostile
banners scanned into the queue renders as inert text; approve, merge and mark rogue by an
engineer change the register and are audited; a viewer sees no forms and a forged post is
refused; bad filters and bad input are one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fleetwarden.domain.inventory import DiscoveredHost
from fleetwarden.domain.lab import Service
from fleetwarden.domain.reconcile import HostStatus
from fleetwarden.domain.records import RecordKind
from fleetwarden.ports import ScanOptions
from fleetwarden.services import audit, devices, inventory, registry
from fleetwarden.services import discovery as disc
from tests.integration.helpers import Env
from tests.integration.lab.harness import make_device, running_lab
from tests.integration.web.conftest import csrf_of, sign_in, web_env, web_user

SCOPE = "127.76.0.0/14"
"""Every address ``harness.next_ip`` hands out."""
HOSTILE_TITLE = "<script>alert('title')</script><img src=x onerror=alert(1)>"
HOSTILE_TELNET = "\x1b[2J\x1b[31mWARNING\x1b[0m <script>alert('telnet')</script> login:"


@pytest.fixture
def env(database_url: str) -> Iterator[Env]:
    e = web_env(database_url)
    registry.create(e.platform, e.admin, RecordKind.SITE, {"name": "HQ"})
    registry.create(e.platform, e.admin, RecordKind.SEGMENT,
                    {"name": "lab", "cidrs": [SCOPE], "site": "HQ"})
    yield e
    e.app.engine.dispose()


def queued(env: Env, ip: str, *, mac: str, vendor: str | None = "Axis",
           model: str | None = "P3245-LVE", title: str = "AXIS camera") -> int:
    """A host in the queue as a scan would have stored it (no network)."""
    p = env.platform
    seen = p.now() - timedelta(hours=2)
    services = ({"port": 80, "transport": "tcp", "service": "http", "product": "Boa",
                 "version": "0.94", "banner": None, "tls": None,
                 "fields": {"http.title": title}},)
    with p.uow(env.admin.tenant, True) as uow:
        host = uow.discovery.add_host(DiscoveredHost(
            id=None, tenant_id=env.admin.tenant.id or 0, status=HostStatus.UNREGISTERED,
            ip=ip, mac=mac, vendor=vendor, model=model, device_type="cctv_camera",
            confidence=0.82, services=services, sources=("active",), first_seen=seen,
            last_seen=seen))
        uow.commit()
    assert host.id is not None
    return host.id


def actions(env: Env, action: str) -> list[object]:
    return [e for e in audit.export(env.platform, env.admin) if e.action == action]


def signed_in(env: Env, client: TestClient, role: str) -> str:
    user = web_user(env, f"{role}@northshire.example", role)
    assert sign_in(client, user).status_code == 303
    return user.email


def test_hostile_banners_from_a_real_scan_render_as_inert_text(env: Env, client: TestClient,
                                                                tmp_path: Path) -> None:
    dev = make_device((Service.HTTP, Service.TELNET), serial="WEB-HOSTILE-1",
                      mac="24:48:45:70:00:01", registered=False,
                      persona={"http_title": HOSTILE_TITLE, "telnet_banner": HOSTILE_TELNET})
    with running_lab([dev], tmp_path / "lab"):
        report = disc.discover(env.platform, env.admin, disc.DiscoverRequest(
            targets=(dev.ip,), options=ScanOptions()))
    assert report.hosts[0]["inventory"]["status"] == "new"
    signed_in(env, client, "engineer")
    page = client.get("/ui/unregistered")
    assert page.status_code == 200, page.text
    html = page.text
    assert dev.ip in html
    # the title and banner are there, escaped, and nothing of them runs
    assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(&#39;telnet&#39;)" in html
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "\x1b" not in html and "\\x1b[31mWARNING" in html  # ANSI shown, not obeyed
    assert '<span class="untrusted">' in html
    assert "<script" not in html.replace('<script src="/static/ui/app.js" defer></script>', "")
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_engineer_approves_a_host_into_the_register(env: Env, client: TestClient) -> None:
    host_id = queued(env, "127.76.200.10", mac="ac:cc:8e:00:00:10")
    email = signed_in(env, client, "engineer")
    page = client.get("/ui/unregistered")
    assert f'action="/ui/unregistered/{host_id}/approve"' in page.text
    assert 'value="Axis/P3245-LVE"' in page.text  # the fingerprint's model, suggested
    assert '<option value="HQ">' in page.text and '<option value="nvr">' in page.text
    response = client.post(f"/ui/unregistered/{host_id}/approve", data={
        "csrf": csrf_of(page.text), "model": "Axis/P3245-LVE", "device_type": "cctv_camera",
        "site": "HQ", "name": "cam-lobby", "note": "ticket 7"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/unregistered?done=approved"
    after = client.get(response.headers["location"])
    assert "Host approved: it is now a device in the register." in after.text
    assert "127.76.200.10" not in after.text
    assert "The queue is empty" in after.text
    host = inventory.get_host(env.platform, env.admin, host_id)
    assert host.status is HostStatus.REGISTERED and host.device_id is not None
    device = devices.get_device(env.platform, env.admin, host.device_id)
    assert (device.name, device.vendor, device.model, device.site) == (
        "cam-lobby", "Axis", "P3245-LVE", "HQ")
    [event] = actions(env, "discovery.host.approve")
    assert event.actor == email and event.object_id == str(host_id)  # type: ignore[attr-defined]
    # the registered host shows under "registered", with no decision forms
    registered = client.get("/ui/unregistered", params={"status": "registered"})
    assert "127.76.200.10" in registered.text and f"/ui/devices/{device.id}" in registered.text
    assert "/approve" not in registered.text


def test_engineer_merges_a_host_into_a_registered_device(env: Env,
                                                          client: TestClient) -> None:
    existing = devices.create_device(env.platform, env.admin, {
        "name": "cam-on-paper", "device_type": "cctv_camera", "lifecycle_state": "in_service"})
    host_id = queued(env, "127.76.200.11", mac="ac:cc:8e:00:00:11")
    email = signed_in(env, client, "engineer")
    token = csrf_of(client.get("/ui/unregistered").text)
    bad = client.post(f"/ui/unregistered/{host_id}/merge", data={
        "csrf": token, "device_id": "999999"})
    assert bad.status_code == 404 and "Device 999999 not found" in bad.text
    assert inventory.get_host(env.platform, env.admin, host_id).status is \
        HostStatus.UNREGISTERED
    response = client.post(f"/ui/unregistered/{host_id}/merge", data={
        "csrf": token, "device_id": str(existing.id)}, follow_redirects=False)
    assert response.headers["location"] == "/ui/unregistered?done=merged"
    assert "Host merged into the registered device." in client.get(
        response.headers["location"]).text
    merged = devices.get_device(env.platform, env.admin, existing.id or 0)
    assert merged.ip_addresses == ("127.76.200.11",)
    [event] = actions(env, "discovery.host.merge")
    assert event.actor == email  # type: ignore[attr-defined]


def test_engineer_marks_a_host_rogue_and_needs_a_reason(env: Env, client: TestClient) -> None:
    host_id = queued(env, "127.76.200.12", mac="ac:cc:8e:00:00:12")
    email = signed_in(env, client, "engineer")
    page = client.get("/ui/unregistered")
    assert f'action="/ui/unregistered/{host_id}/rogue"' in page.text
    assert 'data-confirm="Mark host 127.76.200.12 rogue?' in page.text
    token = csrf_of(page.text)
    missing = client.post(f"/ui/unregistered/{host_id}/rogue", data={"csrf": token,
                                                                      "reason": "  "})
    assert missing.status_code == 422
    assert "Reason: say why the device is rogue" in missing.text
    assert "Traceback" not in missing.text
    assert not actions(env, "discovery.host.rogue")
    response = client.post(f"/ui/unregistered/{host_id}/rogue", data={
        "csrf": token, "reason": "personal hotspot in the plant room"},
        follow_redirects=False)
    assert response.headers["location"] == "/ui/unregistered?done=rogue"
    assert inventory.get_host(env.platform, env.admin, host_id).status is HostStatus.ROGUE
    [event] = actions(env, "discovery.host.rogue")
    assert event.actor == email  # type: ignore[attr-defined]
    assert event.reason == "personal hotspot in the plant room"  # type: ignore[attr-defined]
    rogue = client.get("/ui/unregistered", params={"status": "rogue"})
    assert "personal hotspot in the plant room" in rogue.text


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_reader_sees_no_forms_and_a_forged_post_changes_nothing(env: Env, client: TestClient,
                                                                 role: str) -> None:
    host_id = queued(env, "127.76.200.13", mac="ac:cc:8e:00:00:13")
    signed_in(env, client, role)
    page = client.get("/ui/unregistered")
    assert page.status_code == 200 and "127.76.200.13" in page.text
    for action in ("approve", "merge", "rogue"):
        assert f"/ui/unregistered/{host_id}/{action}" not in page.text
    token = csrf_of(page.text)  # the sign-out form's token: a real session's
    before = len(list(audit.export(env.platform, env.admin)))
    for action, data in (("approve", {"model": "Axis/P3245-LVE"}),
                         ("merge", {"device_id": "1"}), ("rogue", {"reason": "forged"})):
        forged = client.post(f"/ui/unregistered/{host_id}/{action}",
                             data={"csrf": token, **data})
        assert forged.status_code == 403, forged.text
        assert f"Role {role} may not write" in forged.text
    assert inventory.get_host(env.platform, env.admin, host_id).status is \
        HostStatus.UNREGISTERED
    assert len(list(audit.export(env.platform, env.admin))) == before


def test_posts_need_the_session_csrf_token(env: Env, client: TestClient) -> None:
    host_id = queued(env, "127.76.200.14", mac="ac:cc:8e:00:00:14")
    signed_in(env, client, "engineer")
    response = client.post(f"/ui/unregistered/{host_id}/rogue",
                           data={"csrf": "forged", "reason": "x"})
    assert response.status_code == 403 and "form has expired" in response.text
    assert inventory.get_host(env.platform, env.admin, host_id).status is \
        HostStatus.UNREGISTERED


def test_bad_filters_and_paging(env: Env, client: TestClient) -> None:
    for n in range(53):
        queued(env, f"127.76.201.{n + 1}", mac=f"ac:cc:8e:00:01:{n:02x}")
    signed_in(env, client, "viewer")
    bad = client.get("/ui/unregistered", params={"status": "<b>bogus</b>"})
    assert bad.status_code == 400
    assert "Status: one of unregistered, rogue, registered, all" in bad.text
    assert "<b>bogus" not in bad.text
    assert client.get("/ui/unregistered", params={"offset": "-5"}).status_code == 400
    first = client.get("/ui/unregistered")
    assert "Hosts 1–50" in first.text and "127.76.201.50<" in first.text
    assert "127.76.201.51<" not in first.text
    assert 'href="/ui/unregistered?status=unregistered&amp;offset=50"' in first.text
    second = client.get("/ui/unregistered", params={"offset": "50"})
    assert "Hosts 51–53" in second.text and "127.76.201.53<" in second.text
    assert "Next →" not in second.text and "← Previous" in second.text
    # a done code shows its fixed text; anything else shows nothing
    assert "<p class=\"notice\"" not in client.get(
        "/ui/unregistered", params={"done": "<script>x</script>"}).text
