"""Priority scoring, triage decisions and VEX product matching: the pure rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from fleetwarden.domain import priority as prio
from fleetwarden.domain.findings import (
    FindingStatus,
    decide,
    effective,
    match_key,
    vex_applies,
)
from fleetwarden.domain.vulns import SbomComponent, VexJustification
from fleetwarden.errors import InputError

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def test_every_factor_is_named_with_its_weight() -> None:
    p = prio.score(prio.VulnSignals(9.8, "3.1", 0.94, kev=True, ransomware=True),
                   prio.DeviceContext(exposed=True, zone="dmz", criticality="critical",
                                      classification="SECRET"))
    assert p.reasons == (
        "CVSS 3.1 base 9.8 (+98)", "in CISA KEV: exploited in the wild (+30)",
        "KEV: used in ransomware campaigns (+5)", "EPSS 0.940 (+20)",
        "component answers on the network (discovery) (+10)", "segment zone dmz (+15)",
        "device criticality critical (+15)", "handles SECRET data (+10)",
        "203 points -> P1")
    assert (p.level, p.label, p.points) == (1, "P1", 203)


@pytest.mark.parametrize(("cvss", "epss", "kev", "crit", "level"), [
    (9.8, None, False, "medium", 2),     # critical CVSS alone is P2 (98 < 110)
    (9.8, 0.6, False, "medium", 1),      # ... and P1 once exploitation is likely
    (7.5, 0.001, False, "medium", 3),    # high, unlikely to be exploited
    (7.5, 0.001, False, "low", 3),
    (5.3, None, False, "low", 4),
    (5.3, None, True, "low", 2),         # KEV is never below P2
    (None, None, False, "medium", 4),    # no CVSS: counted as 5.0, and said so
])
def test_levels(cvss: float | None, epss: float | None, kev: bool, crit: str,
                level: int) -> None:
    p = prio.score(prio.VulnSignals(cvss, "3.1" if cvss else None, epss, kev),
                   prio.DeviceContext(criticality=crit))
    assert p.level == level
    if kev and prio.level_for(p.points, False) > 2:
        assert "raised to P2: in KEV" in p.reasons
    if cvss is None:
        assert p.reasons[0].startswith("no CVSS score")


def test_due_dates_and_response_days() -> None:
    assert prio.due_date(date(2026, 1, 1), 1) == date(2026, 1, 8)
    assert prio.due_date(date(2026, 1, 1), 4, (1, 2, 3, 4)) == date(2026, 1, 5)
    assert prio.check_response_days((7, 30, 60, 90)) == (7, 30, 60, 90)
    for bad, message in [((7, 30, 60), "four"), ((0, 30, 60, 90), "1 to 3650"),
                         ((30, 7, 60, 90), "shorter")]:
        with pytest.raises(ValueError, match=message):
            prio.check_response_days(bad)


def test_decisions_need_their_facts() -> None:
    d = decide("not_affected", justification="component_not_present", actor="a", now=NOW)
    assert d.justification is VexJustification.COMPONENT_NOT_PRESENT
    d = decide("risk_accepted", approver="cso", expires_at=NOW + timedelta(days=90),
               actor="iso", now=NOW)
    assert (d.status, d.approver) == (FindingStatus.RISK_ACCEPTED, "cso")
    for kwargs, message in [
        ({"status": "not_affected"}, "needs a justification"),
        ({"status": "not_affected", "justification": "because"}, "choose one of"),
        ({"status": "affected", "justification": "component_not_present"}, "only for"),
        ({"status": "false_positive", "note": "  "}, "needs a note"),
        ({"status": "risk_accepted", "approver": "ISO", "expires_at": NOW + timedelta(1)},
         "someone else"),
        ({"status": "risk_accepted", "approver": "cso", "expires_at": NOW + timedelta(900)},
         "730 days"),
        ({"status": "affected", "approver": "cso"}, "only for risk_accepted"),
        ({"status": "fixed"}, "verified"),
    ]:
        with pytest.raises(InputError, match=message):
            decide(actor="iso", now=NOW, **kwargs)


def test_effective_status() -> None:
    assert effective(None, None, False, NOW) is FindingStatus.OPEN
    assert effective(None, None, True, NOW) is FindingStatus.SUPPRESSED
    assert effective("affected", None, True, NOW) is FindingStatus.AFFECTED  # a person wins
    lapsed = NOW - timedelta(seconds=1)
    assert effective("risk_accepted", lapsed, False, NOW) is FindingStatus.OPEN
    assert effective("risk_accepted", NOW + timedelta(1), False, NOW) \
        is FindingStatus.RISK_ACCEPTED


def test_vex_products_name_components_by_purl_or_cpe() -> None:
    ssl = SbomComponent("openssl", "1.0.2k", "pkg:generic/openssl@1.0.2k?arch=arm",
                        "cpe:2.3:a:openssl:openssl:1.0.2k:*:*:*:*:*:*:*")
    assert vex_applies("pkg:generic/openssl@1.0.2k", ssl)
    assert vex_applies("pkg:generic/openssl", ssl)  # every version
    assert not vex_applies("pkg:generic/openssl@1.1.1", ssl)
    assert not vex_applies("pkg:generic/libressl@1.0.2k", ssl)
    assert vex_applies("cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*", ssl)
    assert not vex_applies("cpe:2.3:a:openssl:openssl:3.0.0:*:*:*:*:*:*:*", ssl)
    assert not vex_applies("cpe:2.3:a:openssl", ssl)  # malformed: never applies
    assert not vex_applies("OpenSSL 1.0.2k", ssl)


def test_match_keys_separate_subjects_and_components() -> None:
    c = SbomComponent("busybox", "1.31.1")
    assert match_key(1, None, "CVE-1", c) != match_key(None, 1, "CVE-1", c)
    assert match_key(1, None, "CVE-1", c) != match_key(1, None, "CVE-1",
                                                       SbomComponent("busybox", "1.31.2"))
    assert len(match_key(1, None, "CVE-1", c)) == 64
