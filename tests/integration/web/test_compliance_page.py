"""The compliance pages on the real app and database, over the compliance estate
(``tests/integration/compliance/estate.py``, assessed from stored observations): the
frameworks, one framework's requirements with counts and % met, a requirement's devices
with their evidence (check results, attestations with downloadable files, waivers), site
filters, bad values and unknown ids."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from fleetwarden.services import attestations as att
from fleetwarden.services import compliance_report
from fleetwarden.services.assessment import AssessRequest, assess
from fleetwarden.services.attestations import EvidenceUpload
from tests.integration.compliance import estate
from tests.integration.helpers import Env
from tests.integration.web.conftest import sign_in, web_env, web_user

CLEARTEXT = "etsi-en-303-645/5.5-7"
"""Decided by telnet-open (FAIL on gw-1), ftp-open and the cleartext HTTP checks."""
NO_CHECKS = "psti/2"
"""No automated check: MANUAL until attested."""
APPROVER = "cso@northshire.example"
HOSTILE_NAME = "<img src=x onerror=alert(1)>.pdf"


@dataclass
class Estate:
    env: Env
    ids: dict[str, int]


@pytest.fixture
def env(database_url: str) -> Iterator[Env]:
    e = web_env(database_url)
    yield e
    e.app.engine.dispose()


@pytest.fixture
def est(env: Env) -> Estate:
    """The estate, assessed without probing (from what discovery stored)."""
    ids = estate.build(env)
    assess(env.platform, env.admin, AssessRequest(segment=estate.IOT_SEGMENT, probe=False))
    return Estate(env, ids)


def signed_in(est: Estate, client: TestClient, role: str = "viewer") -> None:
    user = web_user(est.env, f"{role}@northshire.example", role)
    assert sign_in(client, user).status_code == 303


def requirement_row(html: str, rid: str) -> list[str]:
    """The status counts (FAIL, ERROR, MANUAL, WAIVED, PASS, N/A) of one requirement row."""
    row = html.split(f'class="mono">{rid}</a>', 1)[1].split("</tr>", 1)[0]
    return re.findall(r'<td class="num">(\d*)</td>', row)


def test_frameworks_then_percent_met_only_when_asked(est: Estate, client: TestClient) -> None:
    signed_in(est, client)
    index = client.get("/ui/compliance")
    assert index.status_code == 200, index.text
    for fid in ("ncsp-iot", "etsi-en-303-645", "psti", "owasp-iot-2018"):
        assert f'href="/ui/compliance?framework={fid}"' in index.text
    assert "<meter" not in index.text and "Compute % met now for every framework" in index.text
    assert "No daily summary yet" in index.text and "<svg" not in index.text
    every = client.get("/ui/compliance", params={"all": "1"})
    assert every.status_code == 200
    assert every.text.count("<meter") == 6 and "over 4 devices" in every.text


def test_the_index_shows_the_daily_summarys_percent_met_with_a_chart(
        est: Estate, client: TestClient) -> None:
    p, admin = est.env.platform, est.env.admin
    summary = compliance_report.summary_report(p, admin)
    day = p.now().date().isoformat()
    measured = {m.key.removeprefix("compliance_"): float(m.value) for m in summary.measures
                if m.key.startswith("compliance_") and m.value is not None}
    assert "psti" in measured and len(measured) == 6
    signed_in(est, client)
    index = client.get("/ui/compliance").text
    assert f"% met as of {day} (daily summary)" in index and "No daily summary" not in index
    for fid, percent in measured.items():
        # a bar per framework, linking to it, and the figure in the table
        assert re.search(rf'<a href="/ui/compliance\?framework={re.escape(fid)}"><g class="bar">'
                         rf"<title>{re.escape(fid)}: {percent:.1f} %</title>", index), fid
        row = index.split(f'<span class="muted small mono">{fid}</span>', 1)[1].split("</tr>")[0]
        assert f'<td class="num nowrap">{percent:.1f} %</td>' in row, fid
    assert "<meter" not in index and "Compute % met now for every framework" in index
    # computed on demand, beside the summary's figures
    every = client.get("/ui/compliance", params={"all": "1"}).text
    assert f"% met as of {day}" in every and every.count("<meter") == 6
    # the summary covers every site: not shown for one
    depot = client.get("/ui/compliance", params={"site": "Depot"}).text
    assert "daily summary covers every site" in depot and "<svg" not in depot


def test_framework_requirements_with_counts_and_site_filter(est: Estate,
                                                            client: TestClient) -> None:
    signed_in(est, client)
    page = client.get("/ui/compliance", params={"framework": "etsi-en-303-645"})
    assert page.status_code == 200, page.text
    assert "ETSI EN 303 645" in page.text and "devices in scope" in page.text
    assert re.search(r'<div class="value">4</div><div class="label">devices in scope', page.text)
    counts = requirement_row(page.text, CLEARTEXT)
    assert counts[0] == "1"  # gw-1 offers Telnet: FAIL
    href = f'href="/ui/compliance/requirement/{CLEARTEXT}"'
    assert href in page.text
    depot = client.get("/ui/compliance", params={"framework": "etsi-en-303-645",
                                                 "site": "Depot"})
    assert re.search(r'<div class="value">1</div><div class="label">devices in scope at Depot',
                     depot.text)
    assert requirement_row(depot.text, CLEARTEXT)[0] == ""  # no FAIL at the depot
    assert f'href="/ui/compliance/requirement/{CLEARTEXT}?site=Depot"' in depot.text


def test_bad_values_and_unknown_ids(est: Estate, client: TestClient) -> None:
    signed_in(est, client)
    bad_site = client.get("/ui/compliance", params={"framework": "psti", "site": "Atlantis"})
    assert bad_site.status_code == 400 and "Site: not a site in the register" in bad_site.text
    assert client.get("/ui/compliance", params={"all": "maybe"}).status_code == 400
    unknown = client.get("/ui/compliance", params={"framework": "<b>iso</b>"})
    assert unknown.status_code == 404 and "Framework &#39;&lt;b&gt;iso&lt;/b&gt;&#39; not found" \
        in unknown.text
    missing = client.get("/ui/compliance/requirement/psti/99")
    assert missing.status_code == 404 and "Requirement &#39;psti/99&#39; not found" \
        in missing.text
    bad = client.get(f"/ui/compliance/requirement/{CLEARTEXT}", params={"site": "Atlantis"})
    assert bad.status_code == 400 and "Traceback" not in bad.text
    assert client.get("/ui/evidence/999999").status_code == 404


def test_requirement_lists_devices_with_check_evidence_and_waivers(est: Estate,
                                                                   client: TestClient) -> None:
    signed_in(est, client)
    page = client.get(f"/ui/compliance/requirement/{CLEARTEXT}")
    assert page.status_code == 200, page.text
    html = page.text
    assert f'<a href="/ui/devices/{est.ids["gw-1"]}">gw-1</a>' in html
    entries = html.split("<h2>Devices", 1)[1].split("<h2>Attestations", 1)[0]
    assert '<span class="badge FAIL">FAIL</span>' in entries
    assert "telnet-open" in entries and "what the check saw" in entries
    assert "&#34;port&#34;: 23" in entries  # what the check relied on, as escaped JSON
    assert '<p class="muted">None.</p>' in html.split("Waivers in force", 1)[1]

    att.waive(est.env.platform, est.env.admin, check_id="telnet-open", requirement_id=None,
              subject_type="device", subject_id=est.ids["gw-1"],
              justification="Telnet is firewalled off until the upgrade in CHG-2291",
              approver=APPROVER, expires_at=est.env.platform.now() + timedelta(days=30))
    waived = client.get(f"/ui/compliance/requirement/{CLEARTEXT}").text
    entries = waived.split("<h2>Devices", 1)[1].split("<h2>Attestations", 1)[0]
    assert '<span class="badge WAIVED">WAIVED</span>' in entries
    assert "approved by cso@northshire.example" in entries
    waivers = waived.split("Waivers in force", 1)[1]
    assert "check:telnet-open" in waivers and "CHG-2291" in waivers


def test_attestation_evidence_downloads_safely_for_a_signed_in_user(
        est: Estate, client: TestClient) -> None:
    signed_in(est, client)
    manual = client.get(f"/ui/compliance/requirement/{NO_CHECKS}", params={"manual": "1"})
    assert manual.text.count('<span class="badge MANUAL">MANUAL</span>') >= 4
    pdf = b"%PDF-1.7 supplier lab report 2026-114"
    a = att.attest(est.env.platform, est.env.admin, NO_CHECKS, subject_type="model",
                   subject_id=est.ids["model"], status="PASS",
                   statement="Supplier's lab report 2026-114 shows disclosure is in place",
                   method="supplier-statement",
                   expires_at=est.env.platform.now() + timedelta(days=365),
                   files=[EvidenceUpload(HOSTILE_NAME, pdf, "text/html")])
    [stored] = a.files
    page = client.get(f"/ui/compliance/requirement/{NO_CHECKS}")
    assert page.status_code == 200
    html = page.text
    assert f'<a href="/ui/evidence/{stored.id}">' in html
    assert "&lt;img src=x onerror=alert(1)&gt;.pdf" in html and "<img src" not in html
    assert stored.sha256 in html and "Supplier&#39;s lab report 2026-114" in html
    entries = html.split("<h2>Devices", 1)[1].split("<h2>Attestations", 1)[0]
    assert "No device fails" in entries  # attested PASS on the gateways' model

    download = client.get(f"/ui/evidence/{stored.id}")
    assert download.status_code == 200 and download.content == pdf
    assert download.headers["content-type"] == "application/octet-stream"  # never text/html
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in download.headers["content-security-policy"]
    client.cookies.clear()
    anonymous = client.get(f"/ui/evidence/{stored.id}", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith(
        "/ui/login?next=")
