"""OSV records, one file or a zip like osv.dev's all.zip, and hostile archives."""

from __future__ import annotations

import copy
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fleetwarden.adapters.feeds import FeedKind, _zip, detect, read_feed
from fleetwarden.domain.vulns import FeedSource, OsvEvent
from fleetwarden.errors import FeedError
from tests.integration.feeds.helpers import data, load, write_json

RECORDS = ["osv-GHSA-v845-jxx5-vc9f.json", "osv-GHSA-xvch-5gv4-984h.json",
           "osv-DSA-5103-1.json"]


def _zip_of(path: Path, members: dict[str, bytes | dict[str, Any]],
            method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, content in members.items():
            raw = content if isinstance(content, bytes) else json.dumps(content).encode()
            archive.writestr(name, raw)
    return path


def _all_zip(path: Path) -> Path:
    return _zip_of(path, {name.removeprefix("osv-"): load(name) for name in RECORDS})


def test_pypi_record() -> None:
    read = read_feed(data("osv-GHSA-v845-jxx5-vc9f.json"))
    assert read.kind is FeedKind.OSV and read.source is FeedSource.OSV
    (vuln,) = read.vulnerabilities
    assert vuln.id == "GHSA-v845-jxx5-vc9f" and vuln.source is FeedSource.OSV
    assert vuln.aliases == ("CVE-2023-43804", "PYSEC-2023-192")
    assert vuln.summary is not None and vuln.summary.startswith("Test fixture: an HTTP")
    assert vuln.modified == datetime(2024, 9, 23, 19, 21, 40, tzinfo=UTC)
    assert vuln.published == datetime(2023, 10, 2, 23, 26, 36, tzinfo=UTC)
    assert [(c.version, c.score) for c in vuln.cvss] == [("3.1", 5.7)]  # Ubuntu ignored
    old, new = vuln.affected
    assert (old.ecosystem, old.name, old.purl) == ("PyPI", "urllib3", "pkg:pypi/urllib3")
    assert old.ranges[0].type == "ECOSYSTEM"
    assert old.ranges[0].events == (OsvEvent("introduced", "0"), OsvEvent("fixed", "1.26.17"))
    assert new.versions == ("2.0.0", "2.0.1", "2.0.2", "2.0.3", "2.0.4", "2.0.5")
    assert vuln.configurations == () and len(vuln.references) == 2
    assert read.data_date == vuln.modified


def test_npm_record_details_only_and_git_only_entry_dropped() -> None:
    (vuln,) = read_feed(data("osv-GHSA-xvch-5gv4-984h.json")).vulnerabilities
    assert vuln.summary is not None and vuln.summary.startswith("Test fixture, details only")
    assert [a.ecosystem for a in vuln.affected] == ["npm", "npm"]
    assert vuln.affected[1].ranges[0].type == "SEMVER"
    assert vuln.affected[1].ranges[0].events[-1] == OsvEvent("fixed", "1.2.6")


def test_debian_record_with_last_affected() -> None:
    (vuln,) = read_feed(data("osv-DSA-5103-1.json")).vulnerabilities
    eleven, ten = vuln.affected
    assert eleven.ecosystem == "Debian:11" and eleven.purl == "pkg:deb/debian/openssl?arch=source"
    assert ten.ranges[0].events[-1] == OsvEvent("last_affected", "1.1.1d-0+deb10u7")


def test_zip_of_records(tmp_path: Path) -> None:
    path = _zip_of(tmp_path / "all.zip", {
        **{name: load(name) for name in RECORDS},
        "README.txt": b"not a record",
        "sub/": b"",
    })
    assert detect(path) is FeedKind.OSV
    read = read_feed(path)
    assert [v.id for v in read.vulnerabilities] == [
        "GHSA-v845-jxx5-vc9f", "GHSA-xvch-5gv4-984h", "DSA-5103-1"]
    assert read.data_date == datetime(2025, 1, 14, 10, tzinfo=UTC)


def test_withdrawn_record(tmp_path: Path) -> None:
    record = load(RECORDS[0])
    record["withdrawn"] = "2024-10-01T00:00:00Z"
    (vuln,) = read_feed(write_json(tmp_path / "w.json", record)).vulnerabilities
    assert vuln.withdrawn == datetime(2024, 10, 1, tzinfo=UTC)


def _spoiled(change: Any) -> dict[str, Any]:
    record: dict[str, Any] = copy.deepcopy(load(RECORDS[0]))
    change(record)
    return record


BAD = {
    "invalid purl": (lambda r: r["affected"][0]["package"].update(purl="pkg:"), "purl"),
    "unknown range type": (lambda r: r["affected"][0]["ranges"][0].update(type="WEIRD"),
                           "is not SEMVER, ECOSYSTEM or GIT"),
    "event with two kinds": (
        lambda r: r["affected"][0]["ranges"][0]["events"][0].update(fixed="1"),
        "exactly one of"),
    "invalid CVSS vector": (lambda r: r["severity"][0].update(score="CVSS:3.1/AV:N"),
                            "invalid CVSS vector"),
    "CVSS_V3 holding v4": (lambda r: r["severity"][0].update(
        score="CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
        "CVSS_V3 but holds"),
    "no modified": (lambda r: r.pop("modified"), "modified is missing"),
    "invalid date": (lambda r: r.update(published="2023-13-01T00:00:00Z"), "published"),
    "missing ecosystem": (lambda r: r["affected"][0]["package"].pop("ecosystem"),
                          "ecosystem is missing"),
    "bad alias": (lambda r: r.update(aliases=["CVE 2023 1"]), "an alias"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_member_names_archive_and_member(tmp_path: Path, case: str) -> None:
    change, expected = BAD[case]
    path = _zip_of(tmp_path / "all.zip", {
        "GHSA-xvch-5gv4-984h.json": load(RECORDS[1]),
        "GHSA-v845-jxx5-vc9f.json": _spoiled(change),
        "DSA-5103-1.json": load(RECORDS[2])})
    with pytest.raises(FeedError) as err:
        read_feed(path)
    message = str(err.value)
    assert message.startswith(f"{path}: member 'GHSA-v845-jxx5-vc9f.json'")
    assert expected in message and "\n" not in message
    skipped = read_feed(path, skip_bad_records=True)
    assert [v.id for v in skipped.vulnerabilities] == ["GHSA-xvch-5gv4-984h", "DSA-5103-1"]
    assert skipped.counts.skipped == 1 and "skipped" in skipped.warnings[0]


def test_malformed_member_is_a_bad_record(tmp_path: Path) -> None:
    path = _zip_of(tmp_path / "all.zip", {"a.json": load(RECORDS[2]), "b.json": b'{"id": '})
    with pytest.raises(FeedError, match="member 'b.json': malformed JSON"):
        read_feed(path)
    assert read_feed(path, skip_bad_records=True).counts.read == 1


def test_single_bad_record_file(tmp_path: Path) -> None:
    path = write_json(tmp_path / "r.json", _spoiled(BAD["invalid purl"][0]))
    with pytest.raises(FeedError, match="the record \\(GHSA-v845-jxx5-vc9f\\): "):
        read_feed(path)


def test_zip_of_something_else_is_refused(tmp_path: Path) -> None:
    path = _zip_of(tmp_path / "nvd.zip", {"nvd.json": load("nvd-CVE-2021-36260.json")})
    with pytest.raises(FeedError, match="member 'nvd.json' is not one"):
        read_feed(path)


# --- hostile archives ----------------------------------------------------------------


def _refused(path: Path, expected: str) -> None:
    with pytest.raises(FeedError) as err:
        read_feed(path, skip_bad_records=True)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and expected in message and "\n" not in message


def test_zip_bomb_ratio(tmp_path: Path) -> None:
    path = _zip_of(tmp_path / "bomb.zip", {"a.json": load(RECORDS[0]),
                                           "z.json": b" " * (20 << 20)})
    assert path.stat().st_size < 200_000
    _refused(path, "inflates more than 200x")


def test_member_declared_too_large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_zip, "MAX_MEMBER", 1000)
    _refused(_all_zip(tmp_path / "all.zip"), "more than 1,000 bytes")


def test_total_declared_too_large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_zip, "MAX_TOTAL", 2000)
    _refused(_all_zip(tmp_path / "all.zip"), "in all")


def test_too_many_members(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_zip, "MAX_MEMBERS", 2)
    _refused(_all_zip(tmp_path / "all.zip"), "3 members")


@pytest.mark.parametrize("name", ["../evil.json", "/etc/evil.json", "a/../../evil.json",
                                  "C:\\evil.json"])
def test_climbing_or_absolute_names(tmp_path: Path, name: str) -> None:
    path = _zip_of(tmp_path / "all.zip", {"ok.json": load(RECORDS[0]), name: load(RECORDS[1])})
    _refused(path, "absolute or climbs")


def test_encrypted_member(tmp_path: Path) -> None:
    path = _zip_of(tmp_path / "enc.zip", {"a.json": load(RECORDS[0])})
    raw = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        raw[raw.index(signature) + offset] |= 0x1  # general purpose flag: encrypted
    path.write_bytes(bytes(raw))
    _refused(path, "encrypted")


def test_corrupt_member(tmp_path: Path) -> None:
    path = _zip_of(tmp_path / "all.zip", {"a.json": load(RECORDS[0])}, zipfile.ZIP_STORED)
    raw = bytearray(path.read_bytes())
    at = raw.index(b"GHSA-v845")
    raw[at:at + 4] = b"XXXX"  # content changes, CRC does not
    path.write_bytes(bytes(raw))
    _refused(path, "corrupt")


def test_not_a_zip_after_all(tmp_path: Path) -> None:
    path = tmp_path / "fake.zip"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    _refused(path, "not a readable zip archive")
