"""The dashboard as a person uses it, in Debian's Chromium, against ``fleetwarden demo``
with its lab on loopback: sign in with a TOTP code, find a device and open it, triage a
finding, approve an unregistered device, see a hostile banner as inert text, and be
unable to act as a viewer. The main pages are screenshotted to ``build/screenshots/``
and each must load without a console error or a Content-Security-Policy violation.

The tests share one demo and run in order on one worker (an xdist group): later ones
reuse the signed-in roles and the scan of the lab.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, expect

from tests.e2e.browser import Tab, csrf_of, fill_sign_in, forge_post
from tests.e2e.demo import Demo, Scanned

pytestmark = pytest.mark.xdist_group("demo-lab")

OpenTab = Callable[[str | None], Tab]
#: Forms that change the estate; a viewer's pages have none of them.
ACTION_FORMS = ", ".join(f"form[action*='/{verb}']" for verb in (
    "approve", "merge", "rogue", "triage", "transition", "attest", "waive"))
ACTION_BUTTONS = re.compile(r"^(Approve into the register|Merge into that device|Mark rogue|"
                            r"Record decision|Record|Change state|Attest|Waive)", re.I)


def _find_device(t: Tab, ip: str) -> Locator:
    """Search the devices list for an address, as a person would: the one matching row."""
    t.open("/ui/devices")
    t.page.get_by_role("searchbox", name="Search").fill(ip)
    t.page.get_by_role("button", name="Apply").click()
    rows = t.page.locator("table.devices tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(ip)
    return rows.first


def _open_device(t: Tab, ip: str, name: str) -> str:
    """The device page of the device at ``ip``, reached through the list; its path."""
    _find_device(t, ip).get_by_role("link", name=name, exact=True).click()
    expect(t.page.get_by_role("heading", level=1)).to_contain_text(name)
    path = t.page.url.removeprefix(t.page.url.split("/ui/")[0])
    assert re.fullmatch(r"/ui/devices/\d+", path), path
    return path


def _queue_row(t: Tab, ip: str) -> Locator:
    return t.page.locator("table.queue tbody tr").filter(
        has=t.page.locator("strong", has_text=re.compile(rf"^{re.escape(ip)}$")))


def test_sign_in_with_password_and_totp_code(demo: Demo, tab: OpenTab) -> None:
    t = tab(None)
    t.open("/ui/devices")  # a bookmark: sent to sign in first, and back afterwards
    expect(t.page).to_have_url(re.compile(r"/ui/login\?next="))
    expect(t.page.get_by_role("heading", name="Sign in")).to_be_visible()
    t.shot("sign-in")

    admin = demo.users["admin"]
    t.allow(401)
    refused = fill_sign_in(t, admin, admin.wrong_code())
    assert refused is not None and refused.status == 401
    expect(t.page.get_by_role("alert")).to_have_text(
        "Sign-in refused: wrong email, password or code.")
    assert not [c for c in t.page.context.cookies() if c["name"] == "fw_session"]

    fill_sign_in(t, admin, admin.next_code())
    expect(t.page).to_have_url(re.compile(r"/ui/devices$"))
    expect(t.page.get_by_role("heading", name="Devices", level=1)).to_be_visible()
    session = next(c for c in t.page.context.cookies() if c["name"] == "fw_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    t.assert_clean()


def test_overview_shows_the_estate_at_a_glance(tab: OpenTab) -> None:
    t = tab("admin")
    t.open("/ui/")
    # the first visit may find the figures still being computed: the page reloads itself
    expect(t.page.get_by_role("heading", name="Devices by type")).to_be_visible(timeout=60_000)
    cards = t.page.get_by_role("region", name="Headline figures").get_by_role("link")
    expect(cards.first).to_be_visible()
    assert cards.count() >= 4
    expect(t.page.locator("main svg").first).to_be_visible()
    t.shot("overview")
    t.assert_clean()


def test_find_a_device_and_open_its_page(tab: OpenTab, scanned: Scanned) -> None:
    t = tab("admin")
    t.open("/ui/devices")
    expect(t.page.locator("table.devices tbody tr").first).to_be_visible()
    t.shot("devices")

    device = scanned.hostile
    _open_device(t, device["ip"], device["hostname"])
    for section in ("Identity", "Lifecycle", "Network", "Software components",
                    "Vulnerabilities", "Compliance", "Risk"):
        expect(t.page.get_by_role("heading", name=section, exact=True, level=2)).to_be_visible()
    identity = t.page.locator("#identity")
    expect(identity).to_contain_text(device["serial"])
    expect(t.page.locator("#network")).to_contain_text(f"Host {device['ip']}")
    # an admin may act here (a viewer may not: see below)
    expect(t.page.get_by_role("button", name="Change state")).to_be_attached()
    t.shot("device")
    t.assert_clean()


def test_a_hostile_banner_is_shown_as_inert_text(tab: OpenTab, scanned: Scanned) -> None:
    t = tab("admin")
    name = scanned.hostile["hostname"]
    _open_device(t, scanned.hostile["ip"], name)
    network = t.page.locator("#network")
    # the lab's web server answers with a <script> title and an <svg onload> Server header:
    # shown as the characters they are, in the untrusted style
    expect(network.locator(".untrusted", has_text="<script>document.title='pwned'</script>")
           .first).to_be_visible()
    expect(network.locator(".untrusted", has_text="<svg/onload=alert(1)>").first).to_be_visible()
    # and none of it became markup or ran: no element, no dialog, the title untouched
    # (an inline script the CSP blocked would also show as a console error)
    assert t.page.locator("main script, main img, main iframe, main svg[onload]").count() == 0
    assert t.page.locator("script").count() == 1  # app.js, nothing else
    assert t.page.title() == f"{name} · fleetwarden", t.page.title()
    assert t.dialogs == []
    # the lab's very long telnet banner (thousands of characters, also sent as the
    # telnet.banner field) is shown once: its start, and the whole of it one click away,
    # still as untrusted text
    more = re.compile(r"^all (\d,\d{3}) characters$")
    long = network.locator("details.said").filter(has=t.page.get_by_text(more))
    expect(long).to_have_count(1)
    expect(long.locator(".whole")).to_be_hidden()
    link = long.get_by_text(more)
    found = more.match(link.inner_text())
    assert found, link.inner_text()
    length = int(found.group(1).replace(",", ""))
    link.click()
    expect(long.locator(".untrusted.whole")).to_be_visible()
    expect(long.locator(".preview")).to_be_hidden()
    assert len(long.locator(".whole").inner_text()) >= length
    t.assert_clean()


def test_triage_a_finding_in_place(tab: OpenTab) -> None:
    t = tab("admin")
    t.open("/ui/vulns?kev=1")
    rows = t.page.locator("table.findings tbody tr")
    expect(rows.first).to_be_visible()
    t.shot("vulnerabilities")
    row = rows.first
    vid = row.locator("a.mono").first.inner_text()
    device = row.locator("a[href^='/ui/devices/']").first.inner_text()

    row.get_by_text("Triage", exact=True).click()
    row.get_by_label("Decision").select_option("false_positive")
    row.get_by_label(re.compile("^Note")).fill("e2e: the vulnerable service is disabled")
    row.get_by_role("button", name="Record decision").click()

    expect(t.page.get_by_role("status")).to_have_text("Triage recorded (and audited).")
    t.open(f"/ui/vulns?cve={vid}&status=false_positive")
    decided = t.page.locator("table.findings tbody tr").filter(
        has=t.page.get_by_role("link", name=device, exact=True))
    expect(decided).to_have_count(1)
    expect(decided).to_contain_text("false_positive")
    expect(decided).to_contain_text("e2e: the vulnerable service is disabled")
    expect(decided).to_contain_text("admin@northshire.example")
    t.assert_clean()


def test_approve_an_unregistered_device(tab: OpenTab, scanned: Scanned) -> None:
    t = tab("admin")
    shadow = scanned.shadows[0]
    t.open("/ui/unregistered")
    row = _queue_row(t, shadow["ip"])
    expect(row).to_have_count(1)
    t.shot("unregistered")

    row.get_by_text("Approve", exact=True).click()
    row.get_by_label("Name").fill(f"e2e-approved-{shadow['serial']}")
    row.get_by_role("button", name="Approve into the register").click()

    expect(t.page.get_by_role("status")).to_have_text(
        "Host approved: it is now a device in the register.")
    expect(_queue_row(t, shadow["ip"])).to_have_count(0)
    found = _find_device(t, shadow["ip"])
    expect(found).to_contain_text(f"e2e-approved-{shadow['serial']}")
    t.assert_clean()


def test_a_viewer_sees_no_actions_and_a_forged_post_is_refused(
        tab: OpenTab, scanned: Scanned) -> None:
    admin = tab("admin")
    device_path = _open_device(admin, scanned.hostile["ip"], scanned.hostile["hostname"])
    t = tab("viewer")
    for path in (device_path, "/ui/unregistered", "/ui/vulns"):
        t.open(path)
        expect(t.page.locator("main h1")).to_be_visible()
        assert t.page.locator(ACTION_FORMS).count() == 0, path
        expect(t.page.get_by_role("button", name=ACTION_BUTTONS)).to_have_count(0)

    # approving the other shadow device, with a valid token of the viewer's own session
    shadow = scanned.shadows[1]
    t.open("/ui/unregistered")
    row = _queue_row(t, shadow["ip"])
    expect(row).to_have_count(1)
    host_id = (row.get_attribute("id") or "").removeprefix("host-")
    assert host_id.isdigit()
    t.allow(403)
    refused = forge_post(t, f"/ui/unregistered/{host_id}/approve",
                         {"csrf": csrf_of(t), "name": "forged-by-a-viewer"})
    assert refused.status == 403
    expect(t.page.get_by_role("alert")).to_have_text("Role viewer may not write")
    t.open("/ui/unregistered")
    expect(_queue_row(t, shadow["ip"])).to_have_count(1)

    # triaging a finding
    t.open("/ui/vulns")
    row = t.page.locator("table.findings tbody tr").first
    vid = row.locator("a.mono").first.inner_text()
    device_link = row.locator("a[href^='/ui/devices/']").first
    device_id = (device_link.get_attribute("href") or "").rsplit("/", 1)[-1]
    status = row.locator(".status").inner_text()
    refused = forge_post(t, "/ui/vulns/triage", {
        "csrf": csrf_of(t), "vulnerability_id": vid, "device_id": device_id,
        "status": "false_positive", "note": "forged by a viewer", "back": ""})
    assert refused.status == 403
    expect(t.page.get_by_role("alert")).to_have_text("Role viewer may not write")
    t.open(f"/ui/vulns?cve={vid}")
    same = t.page.locator("table.findings tbody tr").filter(
        has=t.page.locator(f"a[href='/ui/devices/{device_id}']"))
    expect(same.locator(".status")).to_have_text(status)
    expect(same).not_to_contain_text("forged by a viewer")
    t.assert_clean()


@pytest.mark.parametrize(("role", "path", "heading", "shot"), [
    ("admin", "/ui/compliance", "Compliance", "compliance"),
    ("admin", "/ui/audit", "Audit log", "audit"),
    ("viewer", "/ui/", "Overview", None),
    ("viewer", "/ui/devices", "Devices", None),
    ("viewer", "/ui/compliance", "Compliance", None),
])
def test_every_main_page_loads_without_a_browser_error(
        tab: OpenTab, role: str, path: str, heading: str, shot: str | None) -> None:
    t = tab(role)
    t.open(path)
    expect(t.page.get_by_role("heading", name=heading, level=1)).to_be_visible()
    if shot:
        t.shot(shot)
    t.assert_clean()


NARROW = 1024
"""A small laptop's width: every page must still fit it (a wide table scrolls in its
own box, the page does not)."""


def test_every_page_fits_a_narrow_window(tab: OpenTab, scanned: Scanned) -> None:
    signed_out = tab(None)
    t = tab("admin")
    device = _open_device(t, scanned.hostile["ip"], scanned.hostile["hostname"])
    pages = [(signed_out, "/ui/login", "sign-in"), (t, "/ui/", "overview"),
             (t, "/ui/devices", "devices"), (t, device, "device"),
             (t, "/ui/unregistered?status=all", "unregistered"),
             (t, "/ui/vulns?kev=1", "vulnerabilities"), (t, "/ui/compliance", "compliance"),
             (t, "/ui/audit", "audit")]
    for each, path, name in pages:
        each.page.set_viewport_size({"width": NARROW, "height": 768})
        each.open(path)
        expect(each.page.locator("main h1")).to_be_visible()
        each.shot(f"{name}-{NARROW}")
        overflow = each.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than a {NARROW}px window"
        each.assert_clean()
