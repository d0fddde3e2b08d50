"""VEX documents: CycloneDX, OpenVEX and CSAF 2.0 VEX."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fleetwarden.adapters.feeds import FeedKind, read_feed
from fleetwarden.domain.vulns import FeedSource, VexJustification, VexStatus
from fleetwarden.errors import FeedError
from tests.integration.feeds.helpers import data, load, write_json

J = VexJustification


def _changed(name: str, tmp_path: Path, change: Any) -> Path:
    doc = copy.deepcopy(load(name))
    change(doc)
    return write_json(tmp_path / name, doc)


def test_cyclonedx_vex() -> None:
    read = read_feed(data("cyclonedx-vex.json"))
    assert read.kind is FeedKind.CYCLONEDX_VEX and read.source is FeedSource.VEX
    by_id = {s.vulnerability_id: s for s in read.vex}
    assert list(by_id) == ["CVE-2022-0778", "CVE-2022-48174", "CVE-2021-42386",
                           "CVE-2021-3711"]
    openssl = by_id["CVE-2022-0778"]
    assert openssl.status is VexStatus.NOT_AFFECTED
    assert openssl.justification is J.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH
    assert openssl.products == ("pkg:generic/openssl@1.1.1k",)  # BOM-Link resolved
    assert openssl.timestamp == datetime(2025, 1, 21, 10, tzinfo=UTC)
    assert openssl.author == "Example Camera Co. PSIRT"
    assert openssl.document == "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79"
    busybox = by_id["CVE-2022-48174"]
    assert busybox.status is VexStatus.AFFECTED
    assert busybox.products == ("cpe:2.3:a:busybox:busybox:1.31.1:*:*:*:*:*:*:*",)
    assert busybox.action_statement == "Upgrade the firmware to 5.8.0.; response: update"
    false_positive = by_id["CVE-2021-42386"]
    assert false_positive.status is VexStatus.NOT_AFFECTED
    assert false_positive.impact_statement == "false positive"
    resolved = by_id["CVE-2021-3711"]
    assert resolved.status is VexStatus.FIXED and resolved.products == ("libcrypto@1.1.1k",)
    assert resolved.justification is J.VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY
    assert resolved.impact_statement == "CycloneDX justification requires_dependency"
    (warning,) = read.warnings
    assert "vulnerabilities[4] (CVE-2024-0000): no analysis.state" in warning
    assert read.data_date == datetime(2025, 2, 1, 9, 30, tzinfo=UTC)


def test_cyclonedx_sbom_without_vulnerabilities_is_refused() -> None:
    path = data("cyclonedx-sbom.json")
    with pytest.raises(FeedError) as err:
        read_feed(path)
    assert str(err.value) == (f"{path}: a CycloneDX BOM without vulnerabilities is an SBOM, "
                              "not VEX (import it with 'fleetwarden sbom import')")


@pytest.mark.parametrize("change, expected", [
    (lambda d: d["vulnerabilities"][0]["analysis"].update(state="maybe"), "analysis.state"),
    (lambda d: d["vulnerabilities"][0]["analysis"].update(justification="because"),
     "analysis.justification 'because'"),
    (lambda d: d["vulnerabilities"][0].update(affects=[]), "affects names no product"),
    (lambda d: d["vulnerabilities"][0].update(id="CVE 2022"), "not a vulnerability identifier"),
    (lambda d: d["vulnerabilities"][0]["analysis"].update(lastUpdated="2025-13-01"),
     "analysis.lastUpdated"),
])
def test_cyclonedx_bad_statement(tmp_path: Path, change: Any, expected: str) -> None:
    path = _changed("cyclonedx-vex.json", tmp_path, change)
    with pytest.raises(FeedError) as err:
        read_feed(path)
    assert str(err.value).startswith(f"{path}: vulnerabilities[0]")
    assert expected in str(err.value)
    assert read_feed(path, skip_bad_records=True).counts.read == 3


def test_openvex() -> None:
    read = read_feed(data("openvex.json"))
    assert read.kind is FeedKind.OPENVEX and read.source is FeedSource.VEX
    fixed, not_affected, investigating, affected = read.vex
    assert fixed.status is VexStatus.FIXED
    assert fixed.products == ("pkg:generic/example/router-fw@2.4.1",)
    assert fixed.document == "https://vex.example.com/public/vex-2025-0007"
    assert fixed.author == "Example Router Inc. product security"
    assert fixed.timestamp == datetime(2025, 3, 1, 12, tzinfo=UTC)
    assert not_affected.justification is J.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH
    assert not_affected.products == ("pkg:generic/example/router-fw@2.4.1",
                                     "cpe:2.3:o:example:router_firmware:2.4.0:*:*:*:*:*:*:*")
    assert not_affected.timestamp == datetime(2025, 3, 2, 8, tzinfo=UTC)
    assert investigating.status is VexStatus.UNDER_INVESTIGATION
    assert affected.status is VexStatus.AFFECTED and affected.action_statement


def test_openvex_v001_strings(tmp_path: Path) -> None:
    doc = {"@context": "https://openvex.dev/ns", "@id": "urn:x", "author": "me",
           "timestamp": "2023-01-01T00:00:00Z",
           "statements": [{"vulnerability": "CVE-2022-0778", "products": ["pkg:npm/x@1"],
                           "status": "not_affected",
                           "justification": "component_not_present"}]}
    (statement,) = read_feed(write_json(tmp_path / "v.json", doc)).vex
    assert statement.products == ("pkg:npm/x@1",)
    assert statement.justification is J.COMPONENT_NOT_PRESENT


@pytest.mark.parametrize("change, expected", [
    (lambda d: d["statements"][1].pop("justification") and d["statements"][1].pop(
        "impact_statement"), "not_affected without a justification or impact_statement"),
    (lambda d: d["statements"][1].update(status="fine"), "status 'fine'"),
    (lambda d: d["statements"][1].update(justification="trust_me"),
     "justification 'trust_me'"),
    (lambda d: d["statements"][1].update(products=[]), "names no product"),
])
def test_openvex_bad_statement(tmp_path: Path, change: Any, expected: str) -> None:
    path = _changed("openvex.json", tmp_path, change)
    with pytest.raises(FeedError) as err:
        read_feed(path)
    assert str(err.value).startswith(f"{path}: statements[1] (CVE-2022-0778)")
    assert expected in str(err.value)
    assert read_feed(path, skip_bad_records=True).counts.skipped == 1


def test_csaf_vex() -> None:
    read = read_feed(data("csaf-vex.json"))
    assert read.kind is FeedKind.CSAF_VEX and read.source is FeedSource.VEX
    statements = {(s.vulnerability_id, s.status, s.products): s for s in read.vex}
    ours = statements[("CVE-2022-0778", VexStatus.NOT_AFFECTED,
                       ("pkg:generic/example/cam-firmware@5.7.3",))]
    assert ours.justification is J.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH
    assert ours.impact_statement and ours.impact_statement.startswith("Test fixture")
    assert ours.author == "Example Camera Co." and ours.document == "EXCAM-VEX-2025-0003"
    assert ours.timestamp == datetime(2025, 2, 11, tzinfo=UTC)
    # the relationship product resolves to its component's purl
    assert ("CVE-2022-0778", VexStatus.NOT_AFFECTED, ("pkg:generic/openssl@1.1.1k",)) \
        in statements
    assert ("CVE-2022-0778", VexStatus.FIXED,
            ("cpe:2.3:o:example:cam_firmware:5.8.0:*:*:*:*:*:*:*",)) in statements
    old = statements[("CVE-2022-0778", VexStatus.AFFECTED, ("cam-firmware 5.6.0",))]
    assert old.action_statement == "Test fixture: update to 5.8.0."  # via product group
    both = statements[("CVE-2024-3596", VexStatus.UNDER_INVESTIGATION,
                       ("pkg:generic/example/cam-firmware@5.7.3",
                        "cpe:2.3:o:example:cam_firmware:5.8.0:*:*:*:*:*:*:*"))]
    assert both.justification is None
    assert read.counts.read == 5


@pytest.mark.parametrize("change, expected", [
    (lambda d: d["vulnerabilities"][0]["product_status"]["fixed"].append("NOPE"),
     "names unknown product 'NOPE'"),
    (lambda d: d["vulnerabilities"][0].update(flags=[], threats=[]),
     "has neither a flag nor an impact threat"),
    (lambda d: d["vulnerabilities"][0]["flags"][0].update(label="lucky"), "'lucky'"),
    (lambda d: d["vulnerabilities"][0].update(cve="CVE-1"), "is not a CVE id"),
])
def test_csaf_bad_vulnerability(tmp_path: Path, change: Any, expected: str) -> None:
    path = _changed("csaf-vex.json", tmp_path, change)
    with pytest.raises(FeedError) as err:
        read_feed(path)
    assert str(err.value).startswith(f"{path}: vulnerabilities[0]")
    assert expected in str(err.value)
    assert read_feed(path, skip_bad_records=True).counts.read == 1


def test_csaf_advisory_is_not_vex(tmp_path: Path) -> None:
    path = _changed("csaf-vex.json", tmp_path,
                    lambda d: d["document"].update(category="csaf_security_advisory"))
    with pytest.raises(FeedError, match="category 'csaf_security_advisory'"):
        read_feed(path)


def test_oversized_document_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                       ) -> None:
    from fleetwarden.adapters.feeds import _vex_common

    monkeypatch.setattr(_vex_common, "MAX_DOCUMENT", 2000)
    path = data("csaf-vex.json")
    with pytest.raises(FeedError, match="larger than 2,000 bytes; refusing to read it whole"):
        read_feed(path)
