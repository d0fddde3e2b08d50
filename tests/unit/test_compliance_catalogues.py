"""The control catalogues as shipped: every framework file parses, lists every requirement
of its source (exact id sets where the source fixes them), and the guideline's check
mapping names only requirements that exist."""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

import fleetwarden
from fleetwarden.domain.compliance.catalogue import Framework, check_references, parse_framework

ROOT = Path(fleetwarden.__file__).parent / "catalogues" / "compliance"
FRAMEWORKS = ROOT / "frameworks"
MAPPINGS = ROOT / "mappings"

SHIPPED = {"ncsp-iot", "etsi-en-303-645", "dcms-cop", "psti", "owasp-iot-2018", "nistir-8259a"}

# The automated checks' fixed ids (issue 6); a mapping key outside this set is a typo.
CHECKS = {
    "telnet-open", "ftp-open", "tftp-open", "http-admin-cleartext", "http-basic-cleartext",
    "default-credentials", "tls-legacy-protocol", "tls-weak-ciphers", "tls-downgrade",
    "tls-mozilla-profile", "cert-expired", "cert-expiring", "cert-self-signed",
    "cert-weak-key", "cert-weak-signature", "cert-shared", "key-shared", "snmp-public",
    "upnp-exposed", "debug-port-open", "mqtt-no-auth", "device-unregistered",
    "firmware-kev", "findings-overdue", "sbom-missing", "update-stale", "end-of-support",
    "services-unapproved",
}


def _etsi_ids() -> list[str]:
    per_clause = {"5.1": 5, "5.2": 3, "5.3": 16, "5.4": 4, "5.5": 8, "5.6": 9, "5.7": 2,
                  "5.8": 3, "5.9": 3, "5.10": 1, "5.11": 4, "5.12": 3}
    ids = [f"{c}-{i}" for c, n in per_clause.items() for i in range(1, n + 1)]
    # 5.13 has a single provision, numbered 5.13-1a in V2.1.1.
    return [*ids, "5.13-1a", *(f"6-{i}" for i in range(1, 6))]


ETSI_IDS = _etsi_ids()

# Provisions marked M or M C in EN 303 645 V2.1.1; every other provision is R or R C.
ETSI_MANDATORY = {
    "5.1-1", "5.1-2", "5.1-3", "5.1-4", "5.1-5", "5.2-1",
    "5.3-2", "5.3-3", "5.3-7", "5.3-8", "5.3-10", "5.3-13", "5.3-16",
    "5.4-1", "5.4-2", "5.4-3", "5.4-4", "5.5-1", "5.5-5", "5.5-7", "5.5-8",
    "5.6-1", "5.6-2", "5.6-4", "5.8-2", "5.8-3", "5.11-1", "5.13-1a",
    "6-1", "6-2", "6-3", "6-5",
}

# Controls counted in the guideline per id prefix (bullets, lettered items and the
# lifecycle / secure-by-design steps); the catalogue must list at least these.
NCSP_COUNTS = {
    "GOV": 6, "SBD": 13, "LC": 6, "AM": 5, "DEV": 5, "VM": 9, "DATA": 5, "PHY": 7,
    "BOOT": 9, "OS": 12, "APP": 15, "CRED": 11, "ENC": 8, "NET": 9, "UPD": 6, "LOG": 11,
    "POL": 15, "SBA": 12, "SIGN": 4, "SCA": 10, "EV": 24,
}


@cache
def _framework(fid: str) -> Framework:
    path = FRAMEWORKS / f"{fid}.toml"
    return parse_framework(tomllib.loads(path.read_text(encoding="utf-8")), str(path))


def _ids(fid: str) -> list[str]:
    return [r.local_id for r in _framework(fid).requirements]


def test_every_shipped_framework_is_present_and_named_after_its_file() -> None:
    files = {p.stem for p in FRAMEWORKS.glob("*.toml")}
    assert files >= SHIPPED
    for fid in files:
        assert _framework(fid).id == fid


@pytest.mark.parametrize("fid", sorted(SHIPPED))
def test_titles_are_distinct_and_groups_named(fid: str) -> None:
    fw = _framework(fid)
    titles = Counter(" ".join(r.title.lower().split()) for r in fw.requirements)
    assert [t for t, n in titles.items() if n > 1] == []
    assert all(r.group and r.reference and r.title for r in fw.requirements)
    assert fw.version and fw.source


def test_etsi_lists_every_provision_with_its_marker() -> None:
    fw = _framework("etsi-en-303-645")
    assert _ids("etsi-en-303-645") == ETSI_IDS
    assert len(ETSI_IDS) == 67
    assert {r.local_id for r in fw.requirements if r.mandatory} == ETSI_MANDATORY
    for r in fw.requirements:
        marker = re.search(r"\((M|M C|R|R C)\)$", r.reference)
        assert marker, r.reference
        assert marker.group(1).startswith("M") == r.mandatory, r.local_id
        assert r.local_id in r.reference
    by_id = {r.local_id: r for r in fw.requirements}
    assert by_id["5.1-1"].mandatory and by_id["5.1-1"].reference.endswith("(M C)")
    assert by_id["5.1-3"].mandatory and by_id["5.1-3"].reference.endswith("(M)")
    assert not by_id["5.2-2"].mandatory and not by_id["5.7-1"].mandatory
    assert by_id["5.3-13"].mandatory and by_id["5.3-13"].applies_to == "model"
    assert by_id["6-4"].reference.endswith("(R C)")


def test_small_frameworks_have_exactly_their_items() -> None:
    assert _ids("dcms-cop") == [str(i) for i in range(1, 14)]
    assert _ids("psti") == ["1", "2", "3"]
    assert _ids("owasp-iot-2018") == [f"I{i}" for i in range(1, 11)]
    assert _ids("nistir-8259a") == ["DI", "DC", "DP", "LA", "SU", "CSA"]


def test_guideline_lists_every_control_by_aspect() -> None:
    fw = _framework("ncsp-iot")
    ids = _ids("ncsp-iot")
    prefixes = Counter(i.rsplit("-", 1)[0] for i in ids)
    assert set(prefixes) == set(NCSP_COUNTS)
    for prefix, counted in NCSP_COUNTS.items():
        assert prefixes[prefix] >= counted, prefix
        # Numbered 1..n without gaps, so a reader can find the next free id.
        assert {i for i in ids if i.rsplit("-", 1)[0] == prefix} == {
            f"{prefix}-{n}" for n in range(1, prefixes[prefix] + 1)}
    assert len(ids) >= sum(NCSP_COUNTS.values())
    groups = Counter(r.group for r in fw.requirements)
    assert len(groups) >= len(NCSP_COUNTS) and min(groups.values()) >= 1
    for aspect in ("Asset management", "Network connections", "Encryption",
                   "Credential management", "Logging", "Software update policy",
                   "Lifecycle 5.3: secure disposal", "Connected vehicles: end of life"):
        assert groups[aspect] > 0, aspect
    assert {r.applies_to for r in fw.requirements} == {"device", "model", "organisation"}


def test_guideline_mapping_names_only_known_checks_and_requirements() -> None:
    data = tomllib.loads((MAPPINGS / "ncsp-iot.toml").read_text(encoding="utf-8"))
    assert data["framework"]["id"] == "ncsp-iot"
    checks = data["checks"]
    assert set(checks) <= CHECKS
    assert all(isinstance(v, list) and all(isinstance(i, str) for i in v)
               for v in checks.values())
    known = set(_ids("ncsp-iot"))
    unknown = {c: sorted(set(v) - known) for c, v in checks.items() if set(v) - known}
    assert unknown == {}
    # The domain's own guard agrees once ids are qualified.
    check_references([_framework("ncsp-iot")],
                     {c: [f"ncsp-iot/{i}" for i in v] for c, v in checks.items()})
    for c, v in checks.items():
        assert len(v) == len(set(v)), c
