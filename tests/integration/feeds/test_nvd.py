"""NVD CVE JSON 2.0: single records and feed files mapped to domain values, bad records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fleetwarden.adapters.feeds import FeedKind, iter_nvd, read_feed
from fleetwarden.adapters.feeds.nvd import criteria_cpe
from fleetwarden.domain.cpe import parse_cpe
from fleetwarden.domain.vulns import FeedSource
from fleetwarden.errors import FeedError
from tests.integration.feeds.helpers import cve, data, feed, gz, hikvision, openssl, xz

V40 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"


def test_single_wrapped_record_maps_every_field() -> None:
    read = read_feed(data("nvd-CVE-2021-36260.json"))
    assert read.kind is FeedKind.NVD and read.source is FeedSource.NVD
    assert read.counts.read == 1 and read.counts.skipped == 0 and read.warnings == ()
    (vuln,) = read.vulnerabilities
    assert vuln.id == "CVE-2021-36260" and vuln.source is FeedSource.NVD
    assert vuln.published == datetime(2021, 9, 22, 13, 15, 7, 330000, tzinfo=UTC)
    assert vuln.modified == datetime(2024, 11, 21, 6, 13, 20, 460000, tzinfo=UTC)
    assert vuln.withdrawn is None
    assert vuln.summary is not None and vuln.summary.startswith("Test fixture: the web server")
    assert [(c.version, c.score, c.source, c.primary) for c in vuln.cvss] == [
        ("3.1", 9.8, "nvd@nist.gov", True), ("2.0", 10.0, "nvd@nist.gov", True)]
    assert vuln.cvss[0].vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    first, second = vuln.configurations
    assert first.operator == "AND" and not first.negate
    firmware, hardware = first.nodes
    (fw,) = firmware.matches
    assert fw.vulnerable and fw.criteria.part == "o" and fw.criteria.vendor == "hikvision"
    assert fw.criteria.product == "ds-2cd2026g2-iu\\/sl_firmware"
    assert fw.version_end_excluding == "v5.5.800_build210628"
    assert fw.version_start_including is None
    (hw,) = hardware.matches
    assert not hw.vulnerable and hw.criteria.part == "h" and hw.criteria.version == "-"
    assert second.nodes[0].matches[0].version_start_including == "v5.5.0"
    # the javascript: URL is not a reference anyone should open
    assert vuln.references == (
        "https://www.hikvision.com/en/support/cybersecurity/security-advisory/",
        "http://packetstormsecurity.com/files/164603/"
        "Hikvision-Web-Server-Build-210702-Command-Injection.html")
    assert read.data_date == vuln.modified
    assert read.as_feed_data().vulnerabilities == read.vulnerabilities


def test_bare_cve_object_with_ranged_configurations() -> None:
    (vuln,) = read_feed(data("nvd-CVE-2022-0778.json")).vulnerabilities
    ranges = [(m.version_start_including, m.version_end_excluding)
              for m in vuln.configurations[0].nodes[0].matches]
    assert ranges == [("1.0.2", "1.0.2zd"), ("1.1.0", "1.1.1n"), ("3.0.0", "3.0.2")]
    assert all(m.criteria.vendor == "openssl" and m.criteria.version == "*"
               for m in vuln.configurations[0].nodes[0].matches)
    assert vuln.configurations[0].operator == "OR"
    debian = vuln.configurations[1].nodes[0].matches
    assert [m.criteria.version for m in debian] == ["9.0", "10.0", "11.0"]
    assert [c.score for c in vuln.cvss] == [7.5, 5.0]


def _extras() -> list[dict[str, Any]]:
    rejected = cve(1, vulnStatus="Rejected", metrics={}, configurations=[],
                   lastModified="2024-06-01T10:00:00.000")
    scored4 = cve(2, metrics={"cvssMetricV40": [
        {"source": "psirt@vendor.example", "type": "Secondary",
         "cvssData": {"version": "4.0", "vectorString": V40, "baseScore": 9.3}}]})
    tagged = cve(3, cveTags=[{"sourceIdentifier": "cve@mitre.org", "tags": ["disputed"]},
                             {"sourceIdentifier": "x", "tags": ["unsupported-when-assigned"]}])
    negated = cve(4)
    negated["cve"]["configurations"][0]["nodes"][0]["negate"] = True
    return [rejected, scored4, tagged, negated]


@pytest.mark.parametrize("suffix", [".json", ".json.gz", ".json.xz"])
def test_feed_file_plain_gzip_and_xz(tmp_path: Path, suffix: str) -> None:
    plain = feed(tmp_path / "feed.json", [hikvision(), openssl(), *_extras()])
    path = {".json": lambda: plain, ".json.gz": lambda: gz(plain, tmp_path / "f.json.gz"),
            ".json.xz": lambda: xz(plain, tmp_path / "f.json.xz")}[suffix]()
    read = read_feed(path)
    assert read.kind is FeedKind.NVD and read.counts.read == 6
    by_id = {v.id: v for v in read.vulnerabilities}
    assert list(by_id) == ["CVE-2021-36260", "CVE-2022-0778", "CVE-2024-00001",
                           "CVE-2024-00002", "CVE-2024-00003", "CVE-2024-00004"]
    assert by_id["CVE-2024-00001"].withdrawn == datetime(2024, 6, 1, 10, tzinfo=UTC)
    (v4,) = by_id["CVE-2024-00002"].cvss
    assert (v4.version, v4.score, v4.primary) == ("4.0", 9.3, False)
    assert read.cve_tags == {"CVE-2024-00003": ("disputed", "unsupported-when-assigned")}
    assert by_id["CVE-2024-00004"].configurations[0].nodes[0].negate is True
    assert read.data_date == datetime(2024, 11, 21, 6, 39, 22, 713000, tzinfo=UTC)


def test_stated_score_that_differs_is_replaced_with_a_warning(tmp_path: Path) -> None:
    item = openssl()
    item["cve"]["metrics"]["cvssMetricV31"][0]["cvssData"]["baseScore"] = 5.5
    read = read_feed(feed(tmp_path / "f.json", [item]))
    assert read.vulnerabilities[0].cvss[0].score == 7.5
    (warning,) = read.warnings
    assert "vulnerabilities[0] (CVE-2022-0778)" in warning and "5.5" in warning


BAD: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "invalid CVSS vector": (
        lambda c: c["metrics"]["cvssMetricV31"][0]["cvssData"].update(
            vectorString="CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"),
        "invalid CVSS vector"),
    "vector of another version": (
        lambda c: c["metrics"]["cvssMetricV31"][0]["cvssData"].update(
            vectorString="CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"),
        "is not CVSS 3.1"),
    "CPE with too few attributes": (
        lambda c: c["configurations"][0]["nodes"][0]["cpeMatch"][1].update(
            criteria="cpe:2.3:a:openssl:openssl:1.1.1"),
        "configurations[0].nodes[0].cpeMatch[1]: CPE"),
    "CPE with a bad part": (
        lambda c: c["configurations"][0]["nodes"][0]["cpeMatch"][0].update(
            criteria="cpe:2.3:x:openssl:openssl:*:*:*:*:*:*:*:*"),
        "part must be a, o or h"),
    "overlong plain CPE": (
        lambda c: c["configurations"][0]["nodes"][0]["cpeMatch"][0].update(
            criteria="cpe:2.3:a:openssl:" + "x" * 600 + ":*:*:*:*:*:*:*:*:*"),
        "longer than 512 characters"),
    "CPE 2.2 URI as criteria": (
        lambda c: c["configurations"][0]["nodes"][0]["cpeMatch"][0].update(
            criteria="cpe:/a:openssl:openssl:1.1.1"),
        "is not a CPE 2.3 name"),
    "impossible date": (lambda c: c.update(published="2021-02-30T10:00:00.000"),
                        "published '2021-02-30T10:00:00.000' is not a valid date-time"),
    "date that is not one": (lambda c: c.update(lastModified="yesterday"),
                             "lastModified 'yesterday'"),
    "bad operator": (lambda c: c["configurations"][0]["nodes"][0].update(operator="XOR"),
                     "operator 'XOR' is neither AND nor OR"),
    "vulnerable not a boolean": (
        lambda c: c["configurations"][0]["nodes"][0]["cpeMatch"][0].update(vulnerable="yes"),
        "vulnerable must be true or false"),
    "not a CVE id": (lambda c: c.update(id="CVE-21-1"), "is not a CVE id"),
    "description not text": (lambda c: c["descriptions"][0].update(value=["x"]),
                             "description must be a string"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_record_names_file_and_record_and_returns_nothing(tmp_path: Path,
                                                              case: str) -> None:
    spoil, expected = BAD[case]
    items = [cve(n) for n in range(5)]
    spoil(items[3]["cve"])
    path = feed(tmp_path / "f.json", items)
    with pytest.raises(FeedError) as err:
        read_feed(path)
    message = str(err.value)
    assert message.startswith(f"{path}: vulnerabilities[3]")
    assert expected in message and "\n" not in message


def test_skip_bad_records_leaves_them_out_with_one_warning_each(tmp_path: Path) -> None:
    items = [cve(n) for n in range(6)]
    BAD["invalid CVSS vector"][0](items[1]["cve"])
    BAD["impossible date"][0](items[4]["cve"])
    read = read_feed(feed(tmp_path / "f.json", items), skip_bad_records=True)
    assert [v.id for v in read.vulnerabilities] == [
        "CVE-2024-00000", "CVE-2024-00002", "CVE-2024-00003", "CVE-2024-00005"]
    assert read.counts.skipped == 2 and read.as_feed_data().skipped == 2
    assert len(read.warnings) == 2
    assert "vulnerabilities[1] (CVE-2024-00001): skipped: invalid CVSS vector" \
        in read.warnings[0]
    assert "vulnerabilities[4] (CVE-2024-00004)" in read.warnings[1]


def test_description_is_bounded_and_cleaned(tmp_path: Path) -> None:
    item = cve(1, descriptions=[{"lang": "en", "value": "\x1b[31mred" + "é" * 500_000}])
    (vuln,) = read_feed(feed(tmp_path / "f.json", [item])).vulnerabilities
    assert vuln.summary is not None
    assert len(vuln.summary.encode()) <= 4096 and vuln.summary.endswith("…")
    assert "\x1b" not in vuln.summary


def test_too_long_version_bound_is_a_bad_record(tmp_path: Path) -> None:
    item = cve(1)
    item["cve"]["configurations"][0]["nodes"][0]["cpeMatch"][0]["versionEndExcluding"] = \
        "1" * 300
    with pytest.raises(FeedError, match="versionEndExcluding is longer than 256"):
        read_feed(feed(tmp_path / "f.json", [item]))


def test_duplicate_id_keeps_the_later_record(tmp_path: Path) -> None:
    first, second = cve(7), cve(7, lastModified="2025-01-01T00:00:00.000")
    read = read_feed(feed(tmp_path / "f.json", [first, cve(8), second]))
    assert [v.id for v in read.vulnerabilities] == ["CVE-2024-00008", "CVE-2024-00007"]
    assert read.vulnerabilities[1].modified == datetime(2025, 1, 1, tzinfo=UTC)
    assert "listed again" in read.warnings[0]


def test_iter_nvd_yields_in_order_then_raises_at_the_bad_record(tmp_path: Path) -> None:
    items = [cve(n) for n in range(10)]
    BAD["invalid CVSS vector"][0](items[7]["cve"])
    path = gz(feed(tmp_path / "f.json", items), tmp_path / "f.json.gz")
    seen = []
    with pytest.raises(FeedError, match=r"vulnerabilities\[7\] \(CVE-2024-00007\)"):
        for vuln in iter_nvd(path):
            seen.append(vuln.id)
    assert seen == [f"CVE-2024-{n:05d}" for n in range(7)]
    warnings: list[str] = []
    ids = [v.id for v in iter_nvd(path, skip_bad_records=True, warn=warnings.append)]
    assert len(ids) == 9 and "CVE-2024-00007" not in ids and len(warnings) == 1


def test_progress_reports_bytes_of_the_file(tmp_path: Path) -> None:
    path = gz(feed(tmp_path / "f.json", [cve(n) for n in range(300)]), tmp_path / "f.gz")
    calls: list[tuple[int, int]] = []
    read_feed(path, progress=lambda done, total: calls.append((done, total)))
    size = path.stat().st_size
    assert calls and calls[-1] == (size, size)
    assert all(total == size and 0 <= done <= size for done, total in calls)


@pytest.mark.parametrize("doc, expected", [
    ({"CVE_data_type": "CVE", "CVE_data_format": "MITRE", "CVE_Items": []}, "JSON 1.1"),
    ({"format": "NVD_CPE", "version": "2.0", "products": []}, "format 'NVD_CPE'"),
])
def test_other_nvd_documents_are_refused(tmp_path: Path, doc: dict[str, Any],
                                         expected: str) -> None:
    import json

    path = tmp_path / "other.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(FeedError, match=expected):
        read_feed(path)


CRITERIA = [
    "cpe:2.3:a:openssl:openssl:1.0.2k:*:*:*:*:*:*:*",
    "cpe:2.3:o:hikvision:ds-2cd2026g2-iu\\/sl_firmware:*:*:*:*:*:*:*:*",
    "cpe:2.3:h:vendor:cam\\(pro\\):-:*:*:*:*:*:*:*",
    "cpe:2.3:a:vendor:product\\:x:2.0:beta1:*:*:*:*:*:*",
    "cpe:2.3:a:Vendor:Product:1.0:*:*:*:*:*:*:*",
    "cpe:2.3:a:vendor:prod*:1.?:*:*:*:*:*:*:*",
    "cpe:2.3:a:vendor:product:\\-:*:*:*:*:*:*:*",
    "cpe:2.3:a:vendor:product:1\\.0:*:*:*:*:*:*:*",
    "cpe:2.3:a:vendor:product:1.0:*:*:*:*:*:*:-",
    "cpe:2.3:a:vendor:product:5.5.0_build_170301:*:*:*:*:*:x64:*",
]


@pytest.mark.parametrize("criteria", CRITERIA)
def test_criteria_fast_path_equals_the_domain_parser(criteria: str) -> None:
    assert criteria_cpe(criteria) == parse_cpe(criteria)


def test_empty_feed_is_valid(tmp_path: Path) -> None:
    read = read_feed(feed(tmp_path / "empty.json.gz", []))
    assert read.kind is FeedKind.NVD and read.counts.read == 0 and read.vulnerabilities == ()
    assert read.data_date == datetime(2025, 3, 15, 3, tzinfo=UTC)  # the feed's timestamp
