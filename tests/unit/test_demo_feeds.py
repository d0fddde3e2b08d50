"""The demo's bundled feeds (catalogues/vulns/demo) read cleanly and fit the lab."""

from __future__ import annotations

from fleetwarden.adapters.demo.vulns import FEED_DIR, feed_files
from fleetwarden.adapters.feeds import FeedRead, read_feed
from fleetwarden.adapters.lab.catalogue import components
from fleetwarden.domain.cpe import parse_cpe
from fleetwarden.domain.vulns import CpeMatch


def _read() -> dict[str, FeedRead]:
    out = {}
    for path in feed_files():
        read = read_feed(path, skip_bad_records=False, progress=None)
        out[read.kind.value] = read
    return out


def test_each_file_reads_cleanly_as_its_kind() -> None:
    feeds = _read()
    assert set(feeds) == {"nvd", "kev", "epss"}
    for kind, read in feeds.items():
        assert read.warnings == (), (kind, read.warnings)
        assert read.counts.skipped == 0
    assert 25 <= len(feeds["nvd"].vulnerabilities) <= 40
    assert feeds["kev"].kev and feeds["epss"].epss


def test_kev_and_epss_speak_of_the_nvd_records() -> None:
    feeds = _read()
    ids = {v.id for v in feeds["nvd"].vulnerabilities}
    assert len(ids) == len(feeds["nvd"].vulnerabilities)
    assert {e.cve_id for e in feeds["kev"].kev} <= ids
    assert {s.cve_id for s in feeds["epss"].epss} == ids
    assert all(0 <= s.epss <= 1 and 0 <= s.percentile <= 1 for s in feeds["epss"].epss)


def test_every_record_is_scored_and_names_a_lab_component() -> None:
    lab = set()
    for entry in components().values():
        cpe = parse_cpe(entry["cpe"].format(v="1.0"))
        lab.add((cpe.vendor, cpe.product))
    for vuln in _read()["nvd"].vulnerabilities:
        assert vuln.summary and vuln.cvss and vuln.configurations, vuln.id
        vulnerable: list[CpeMatch] = [m for c in vuln.configurations for n in c.nodes
                                      for m in n.matches if m.vulnerable]
        assert vulnerable, vuln.id
        named = {(m.criteria.vendor, m.criteria.product) for m in vulnerable}
        # a firmware flaw names the vendor's firmware (with its hardware), not a component
        assert named <= lab or vuln.id == "CVE-2021-36260", (vuln.id, named - lab)


def test_the_folder_says_it_is_demonstration_data() -> None:
    text = (FEED_DIR / "README.md").read_text(encoding="utf-8")
    assert "demonstration data" in text and "fleetwarden feeds import" in text
