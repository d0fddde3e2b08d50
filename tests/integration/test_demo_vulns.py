"""The demo estate ships with findings: the lab suppliers' firmware SBOMs and the bundled
demo feeds go in as ``fleetwarden demo`` imports them (real SQLite), and every finding
that comes out is true to both: its component is in the device's firmware SBOM, KEV and
EPSS come from the feeds, and a release that carries the fix is not reported."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fleetwarden import bootstrap
from fleetwarden.adapters.db.engine import make_engine
from fleetwarden.adapters.db.migrate import upgrade
from fleetwarden.adapters.demo import vulns as demo_vulns
from fleetwarden.adapters.demo.estate import generate_demo_estate
from fleetwarden.adapters.feeds import read_feed
from fleetwarden.adapters.lab.sbom import SbomFile
from fleetwarden.adapters.sbom import read_sbom
from fleetwarden.domain.findings import Finding, FindingQuery
from fleetwarden.services import accounts, demo, devices, feeds, software, vulns
from fleetwarden.services.context import Principal
from fleetwarden.settings import load_settings
from tests.integration.feeds.helpers import data as feed_data
from tests.integration.helpers import make_env

DEMO_TENANT = "Northshire Police (demo)"


@dataclass
class Demo:
    app: bootstrap.App
    admin: Principal
    sboms: dict[tuple[str, str, str], SbomFile]
    """By (vendor, model, firmware)."""
    report: demo.VulnSeedReport

    def find(self, **query: Any) -> list[Finding]:
        page = vulns.findings(self.app.platform, self.admin, FindingQuery(limit=10_000, **query))
        assert not page.more
        return list(page.items)

    def image_components(self, device_id: int) -> set[tuple[str, str | None]]:
        return {(c.name, c.version) for c in software.components(
            self.app.platform, self.admin, device_id=device_id)}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo estate as ``fleetwarden demo`` seeds it (default size and seed)."""
    root = tmp_path_factory.mktemp("demo-vulns")
    url = f"sqlite:///{root / 'fleetwarden.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    # an explicit home: the per-test FLEETWARDEN_HOME fixture does not reach module scope
    app = bootstrap.build(load_settings(db_url=url, home=str(root / "home")))
    issued = accounts.create_tenant(app.platform, "cli:test", DEMO_TENANT,
                                    "admin@northshire.example")
    admin = accounts.authenticate(app.platform, issued.token)
    demo.seed(app.platform, admin, generate_demo_estate(seed=7, device_count=300))
    files = demo_vulns.write_firmware_sboms(root / "sboms")
    report = demo.seed_vulnerabilities(app.platform, admin, files, demo_vulns.feed_files())
    yield Demo(app, admin, {(f.vendor, f.model, f.firmware): f for f in files}, report)
    app.engine.dispose()


def test_every_lab_firmware_sbom_and_the_demo_feeds_are_imported(seeded: Demo) -> None:
    # every lab model is a demo model, so each of its releases gets its SBOM
    assert seeded.report.sboms == len(seeded.sboms) > 0
    assert seeded.report.feed_files == 3
    expected = {"nvd": 0, "kev": 0, "epss": 0}
    for path in demo_vulns.feed_files():
        read = read_feed(path, skip_bad_records=False, progress=None)
        expected[read.kind.value] += len(read.vulnerabilities) + len(read.kev) + len(read.epss)
    assert seeded.report.feed_records == expected
    shown = {row["source"]: row for row in feeds.status(seeded.app.platform, seeded.admin)}
    assert shown["nvd"]["stored"] == expected["nvd"] and shown["kev"]["stored"] == expected["kev"]


def test_the_demo_has_findings_with_kev_epss_and_priorities(seeded: Demo) -> None:
    found = seeded.find()
    assert len(found) > 100
    assert len({f.device_id for f in found}) > 50
    assert all(f.cvss_score is not None and f.epss is not None for f in found)
    assert {f.priority for f in found} >= {1, 2, 3}
    kev = seeded.find(kev=True)
    kev_listed = {e.cve_id for e in read_feed(demo_vulns.FEED_DIR / "kev-demo.json").kev}
    assert kev and all(f.kev and f.vulnerability_id in kev_listed for f in kev)
    assert {f.vulnerability_id for f in kev} >= {"CVE-2014-0160", "CVE-2016-5195"}
    assert {(f.device_id, f.vulnerability_id) for f in found if f.kev} == \
        {(f.device_id, f.vulnerability_id) for f in kev}
    assert all(f.priority <= 2 for f in kev)  # a KEV entry never ranks below P2
    heartbleed = next(f for f in kev if f.vulnerability_id == "CVE-2014-0160")
    assert heartbleed.component is not None
    assert (heartbleed.component.name, heartbleed.component.version) == ("openssl", "1.0.1e")


def test_each_finding_names_a_component_of_its_firmware_sbom(seeded: Demo) -> None:
    sbom_parts: dict[Path, set[tuple[str, str | None]]] = {}
    for f in seeded.find():
        device = devices.get_device(seeded.app.platform, seeded.admin, f.device_id)
        assert device.vendor and device.model and device.firmware_version
        sbom = seeded.sboms[(device.vendor, device.model, device.firmware_version)]
        if sbom.path not in sbom_parts:
            sbom_parts[sbom.path] = {(c.name, c.version) for c in read_sbom(sbom.path).components}
        assert f.component is not None and f.source == "sbom"
        assert (f.component.name, f.component.version) in sbom_parts[sbom.path], (
            f"{f.vulnerability_id} on {f.device_name}: {f.component} is not in {sbom.path.name}")
        assert f.firmware_version == device.firmware_version


def test_a_release_with_the_fix_is_not_reported(seeded: Demo) -> None:
    # The telematics units' older firmware carries exactly the releases that fixed two
    # CVEs of the feed: Dropbear 2016.74 (CVE-2016-7406, fixed in 2016.74) and Linux
    # 3.18.44 (Dirty COW, fixed on the 3.18 line in 3.18.44). Their image still matches
    # other records, so it was matched, not skipped.
    found = seeded.find()
    by_device: dict[int, set[str]] = {}
    for f in found:
        by_device.setdefault(f.device_id, set()).add(f.vulnerability_id)
    fixed = [d for d in by_device
             if {("dropbear", "2016.74"), ("linux", "3.18.44")} <= seeded.image_components(d)]
    assert fixed, "no demo device runs the telematics firmware with the fixed releases"
    for device_id in fixed:
        assert "CVE-2016-7406" not in by_device[device_id]
        assert "CVE-2016-5195" not in by_device[device_id]
        assert "CVE-2023-48795" in by_device[device_id]  # Dropbear through 2022.83
    # ... while an older kernel on another image is reported for Dirty COW
    dirty_cow = {f.component.version for f in found
                 if f.vulnerability_id == "CVE-2016-5195" and f.component is not None}
    assert "3.10.73" in dirty_cow and "3.18.44" not in dirty_cow and "3.4.113" not in dirty_cow


def test_seeding_again_imports_nothing(seeded: Demo) -> None:
    before = {(f.device_id, f.vulnerability_id) for f in seeded.find()}
    again = demo.seed_vulnerabilities(seeded.app.platform, seeded.admin,
                                      list(seeded.sboms.values()), demo_vulns.feed_files())
    assert (again.sboms, again.feed_files) == (0, 0)
    assert {(f.device_id, f.vulnerability_id) for f in seeded.find()} == before


def test_feed_data_already_in_the_database_is_kept(sqlite_url: str) -> None:
    # feeds are shared by every tenant: demonstration records must not replace real ones
    env = make_env(sqlite_url, tenant=DEMO_TENANT)
    try:
        feeds.import_feeds(env.platform, env.admin, [str(feed_data("kev.json"))])
        report = demo.seed_vulnerabilities(env.platform, env.admin, [],
                                           demo_vulns.feed_files())
        assert (report.sboms, report.feed_files) == (0, 0)
        shown = {row["source"]: row for row in feeds.status(env.platform, env.admin)}
        assert shown["nvd"]["stored"] == 0 and shown["epss"]["stored"] == 0
        assert shown["kev"]["file"] == "kev.json"
    finally:
        env.app.engine.dispose()
