"""Risk in context (R6): the same device scores differently by place and function, every
point is explained by a named factor, evidence moves the residual, and threat profiles are
validated data."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from pathlib import Path
from typing import Any

import pytest

import fleetwarden
from fleetwarden.domain import risk
from fleetwarden.domain.classification import Classification
from fleetwarden.domain.compliance.results import Severity, Status
from fleetwarden.domain.risk import (
    BusinessImpact,
    CheckState,
    Impact,
    RiskInput,
    RiskScore,
    assess_risk,
    evaluate_threats,
    parse_threat_profiles,
    profile_for,
)
from fleetwarden.domain.vocab import DeviceType
from fleetwarden.errors import InputError

CATALOGUE = Path(fleetwarden.__file__).parent / "catalogues" / "risk" / "threat-profiles.toml"
KNOWN_CHECKS = frozenset({
    "telnet-open", "ftp-open", "tftp-open", "http-admin-cleartext", "http-basic-cleartext",
    "default-credentials", "tls-legacy-protocol", "tls-weak-ciphers", "tls-downgrade",
    "tls-mozilla-profile", "cert-expired", "cert-expiring", "cert-self-signed",
    "cert-weak-key", "cert-weak-signature", "cert-shared", "key-shared", "snmp-public",
    "upnp-exposed", "debug-port-open", "mqtt-no-auth", "device-unregistered", "firmware-kev",
    "findings-overdue", "sbom-missing", "update-stale", "end-of-support",
    "services-unapproved",
})
PROFILES = parse_threat_profiles(tomllib.loads(CATALOGUE.read_text(encoding="utf-8")),
                                 str(CATALOGUE), KNOWN_CHECKS)
SENSOR = profile_for(PROFILES, DeviceType.SENSOR)

LOW_BIA = BusinessImpact(Impact.LOW, Impact.LOW, Impact.LOW, "office climate")
GREENHOUSE_BIA = BusinessImpact(Impact.LOW, Impact.HIGH, Impact.HIGH, "greenhouse control")

# The white paper's temperature sensor, twice: an everyday room, then a place that matters.
HOME = RiskInput(
    device_type="sensor", criticality="low", zone="iot-general",
    data_classification=Classification.OFFICIAL, data_items=("room temperature",),
    business_impact=(LOW_BIA,), open_services=("tcp/8883 mqtts",), checks=(),
    vulns_by_priority={}, kev=0, overdue=0)
GREENHOUSE = RiskInput(
    device_type="sensor", criticality="critical", zone="dmz",
    data_classification=Classification.SECRET,
    data_items=("bay temperature", "site telemetry archive (aggregate)"),
    business_impact=(GREENHOUSE_BIA,),
    open_services=("tcp/23 telnet", "tcp/80 http", "tcp/502 modbus"), checks=(),
    vulns_by_priority={}, kev=0, overdue=0)
UNKNOWN = RiskInput(
    device_type="sensor", criticality="low", zone=None, data_classification=None,
    data_items=(), business_impact=(), open_services=None, checks=(),
    vulns_by_priority={}, kev=0, overdue=0)


def factor(score: RiskScore, name: str) -> risk.Factor:
    return next(f for f in score.factors if f.name == name)


def all_checks(profile: risk.ThreatProfile, status: Status,
               severity: Severity = Severity.HIGH) -> tuple[CheckState, ...]:
    ids = sorted({c for t in profile.threats for c in t.mitigated_by})
    return tuple(CheckState(c, status, severity) for c in ids)


def with_check(checks: tuple[CheckState, ...], check_id: str, status: Status,
               severity: Severity) -> tuple[CheckState, ...]:
    return tuple(CheckState(c.check_id, status, severity) if c.check_id == check_id else c
                 for c in checks)


# ----------------------------------------------------------------- the white paper
def test_the_same_sensor_is_low_risk_at_home_and_critical_in_the_greenhouse() -> None:
    home, greenhouse = assess_risk(HOME, SENSOR), assess_risk(GREENHOUSE, SENSOR)
    assert (home.inherent, home.inherent_level) == (6.6, "low")
    assert (greenhouse.inherent, greenhouse.inherent_level) == (86.04, "critical")
    assert (home.impact, home.likelihood) == (0.2, 0.33)
    assert (greenhouse.impact, greenhouse.likelihood) == (0.9667, 0.89)
    # what made the difference is named, with its evidence
    assert factor(greenhouse, "data classification").value == "SECRET"
    assert "aggregate" in factor(greenhouse, "data classification").evidence
    assert factor(greenhouse, "criticality").points == 25.0
    assert factor(greenhouse, "network zone").points == 29.0
    assert factor(greenhouse, "cleartext services").value == "2"
    assert factor(greenhouse, "reachable outside an IoT zone").value == "yes"
    assert factor(home, "reachable outside an IoT zone").points == 0.0
    # the BIA's high availability is seen even where criticality sets the axis
    bia = factor(greenhouse, "business impact")
    assert bia.value == "C low, I high, A high"
    assert "greenhouse control" in bia.evidence and "below criticality" in bia.evidence


def test_a_high_availability_assessment_alone_raises_the_same_sensor() -> None:
    plain = assess_risk(HOME, SENSOR)
    assessed = assess_risk(dataclasses.replace(HOME, business_impact=(LOW_BIA, GREENHOUSE_BIA)),
                           SENSOR)
    assert assessed.inherent > plain.inherent
    bia = factor(assessed, "business impact")
    assert bia.points > 0 and "availability high (greenhouse control)" in bia.evidence


def test_function_sets_a_floor_the_context_only_raises() -> None:
    lock = profile_for(PROFILES, DeviceType.DOOR_LOCK)
    s = assess_risk(dataclasses.replace(HOME, device_type="door_lock"), lock)
    fn = factor(s, "device function")
    assert fn.points > 0 and "sets integrity high" in fn.evidence
    assert s.inherent > assess_risk(HOME, SENSOR).inherent


# ------------------------------------------------------------------- explanation
SCENARIOS: dict[str, tuple[RiskInput, tuple[CheckState, ...], int]] = {
    "home, no checks": (HOME, (), 0),
    "home, all pass (held at the floor)": (HOME, all_checks(SENSOR, Status.PASS), 0),
    "greenhouse, no checks": (GREENHOUSE, (), 0),
    "greenhouse, all fail (held at 100)": (
        dataclasses.replace(GREENHOUSE, vulns_by_priority={1: 5, 2: 1}, kev=4, overdue=2),
        all_checks(SENSOR, Status.FAIL, Severity.CRITICAL), 0),
    "unknown, mixed": (UNKNOWN, all_checks(SENSOR, Status.MANUAL), 1),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_factors_add_up_to_both_scores_exactly(name: str) -> None:
    inp, checks, kev = SCENARIOS[name]
    s = assess_risk(dataclasses.replace(inp, checks=checks, kev=inp.kev + kev), SENSOR)
    inherent = [f.points for f in s.factors if f.stage == "inherent"]
    assert math.isclose(sum(inherent), s.inherent, abs_tol=1e-9)
    assert math.isclose(sum(f.points for f in s.factors), s.residual, abs_tol=1e-9)
    assert 0 <= s.inherent <= 100 and 0 <= s.residual <= 100
    assert s.inherent_level == risk.level_for(s.inherent)
    assert s.residual_level == risk.level_for(s.residual)
    for f in s.factors:
        assert f.stage in ("inherent", "residual")
        assert f.name and f.value and f.evidence and "\n" not in f.evidence
        assert isinstance(f.weight, float)
    assert len(risk.explain(s)) == len(s.factors) + 1


def test_a_held_residual_says_so_in_a_bounded_factor() -> None:
    inp, checks, _ = SCENARIOS["greenhouse, all fail (held at 100)"]
    top = assess_risk(dataclasses.replace(inp, checks=checks), SENSOR)
    assert top.residual == 100.0 and factor(top, "bounded").points < 0
    floor = assess_risk(dataclasses.replace(HOME, checks=all_checks(SENSOR, Status.PASS)),
                        SENSOR)
    assert floor.residual == 2.0  # 100 x impact 0.2 x floor likelihood 0.1
    assert factor(floor, "bounded").points > 0
    assert "never remove it" in factor(floor, "bounded").evidence


# ---------------------------------------------------------------------- residual
def test_residual_rises_with_a_failed_critical_check_and_kev_and_falls_back() -> None:
    passing = all_checks(SENSOR, Status.PASS)
    verified = assess_risk(dataclasses.replace(GREENHOUSE, checks=passing), SENSOR)
    unverified = assess_risk(GREENHOUSE, SENSOR)
    assert verified.residual < verified.inherent < unverified.residual

    failing = with_check(passing, "default-credentials", Status.FAIL, Severity.CRITICAL)
    failed = assess_risk(dataclasses.replace(GREENHOUSE, checks=failing), SENSOR)
    assert failed.residual > verified.residual
    assert failed.inherent == verified.inherent  # evidence never changes the context
    assert factor(failed, "failed critical checks").evidence.startswith("default-credentials")
    exposed = factor(failed, "threat weak-login (spoofing)")
    assert exposed.value == "exposed" and exposed.points > 0

    exploited = assess_risk(dataclasses.replace(GREENHOUSE, checks=failing, kev=1,
                                                vulns_by_priority={1: 1}), SENSOR)
    assert exploited.residual > failed.residual
    assert factor(exploited, "KEV findings").points == pytest.approx(10 * 0.9833, abs=0.01)
    assert exploited.residual_level == "critical"

    fixed = assess_risk(dataclasses.replace(GREENHOUSE, checks=passing), SENSOR)
    assert fixed.residual == verified.residual


def test_vulnerability_counts_are_capped_and_say_so() -> None:
    s = assess_risk(dataclasses.replace(HOME, vulns_by_priority={2: 9}, overdue=1), SENSOR)
    p2 = factor(s, "P2 findings")
    assert (p2.value, p2.points) == ("9", round(3 * 3 * 0.6, 2))
    assert p2.evidence.startswith("3 of 9 counted")
    assert factor(s, "overdue findings").points == round(4 * 0.6, 2)


def test_the_same_weakness_weighs_more_where_more_is_at_stake() -> None:
    def kev_points(inp: RiskInput) -> float:
        return factor(assess_risk(dataclasses.replace(inp, kev=1), SENSOR),
                      "KEV findings").points
    assert kev_points(HOME) == 6.0 < kev_points(GREENHOUSE)


# ------------------------------------------------------------------ missing data
def test_missing_data_is_a_named_cautious_factor_never_zero() -> None:
    s = assess_risk(UNKNOWN, SENSOR)
    names = {f.name: f for f in s.factors}
    for name in ("data classification not recorded", "business impact not assessed",
                 "network zone unknown", "open services not observed",
                 "cleartext services not observed"):
        assert name in names, name
        assert "cautious default" in names[name].evidence
    assert names["data classification not recorded"].value == "assumed OFFICIAL-SENSITIVE"
    assert names["business impact not assessed"].value == "assumed medium on every axis"
    assert names["business impact not assessed"].points > 0
    assert names["network zone unknown"].points > 0
    assert names["open services not observed"].value == "assumed 3"
    assert names["reachable outside an IoT zone"].evidence.startswith("services assumed")
    assert "data classification" not in names and "business impact" not in names
    # not knowing is never scored as the best case
    assert s.inherent > assess_risk(HOME, SENSOR).inherent


def test_an_assumed_default_only_carries_what_it_raises() -> None:
    lock = profile_for(PROFILES, DeviceType.DOOR_LOCK)
    s = assess_risk(dataclasses.replace(UNKNOWN, device_type="door_lock",
                                        criticality="high"), lock)
    bia = factor(s, "business impact not assessed")
    assert bia.evidence.count("sets ") == 0  # integrity/availability are high anyway
    assert bia.points == 0.0 and "below criticality" in bia.evidence
    assert factor(s, "data classification not recorded").points > 0


@pytest.mark.parametrize(("service", "cleartext"), [
    ("tcp/23 telnet", True), ("tcp/80 http", True), ("udp/161 snmp", True),
    ("tcp/1883", True), ("tcp/443 https", False), ("tcp/8883 mqtts", False),
    ("tcp/22 ssh", False),
])
def test_cleartext_services_are_recognised_by_name_or_port(service: str,
                                                          cleartext: bool) -> None:
    s = assess_risk(dataclasses.replace(HOME, open_services=(service,)), SENSOR)
    assert factor(s, "cleartext services").value == ("1" if cleartext else "0")


# ---------------------------------------------------------------------- threats
def test_threat_states_follow_the_check_verdicts() -> None:
    t = risk.Threat("t", "I", "a threat", ("a", "b"), 1.0)
    profile = risk.ThreatProfile("default", Impact.LOW, Impact.LOW, Impact.LOW, (t,))

    def state(*checks: tuple[str, Status]) -> risk.ThreatState:
        return evaluate_threats(profile, [CheckState(c, s, Severity.LOW)
                                          for c, s in checks])[0]

    assert state(("a", Status.PASS), ("b", Status.NOT_APPLICABLE)).status == "mitigated"
    assert state(("a", Status.PASS), ("b", Status.WAIVED)).status == "mitigated"
    exposed = state(("a", Status.PASS), ("b", Status.FAIL))
    assert (exposed.status, exposed.because) == ("exposed", "fails: b")
    manual = state(("a", Status.PASS), ("b", Status.MANUAL))
    assert (manual.status, manual.because) == ("unknown", "pass: a; manual: b")
    assert state(("a", Status.ERROR), ("b", Status.PASS)).status == "unknown"
    missing = state(("a", Status.PASS))
    assert (missing.status, missing.because) == ("unknown", "pass: a; no result: b")
    # two results for one check: the worse one counts
    assert state(("a", Status.PASS), ("b", Status.PASS), ("b", Status.FAIL)).status == \
        "exposed"


def test_unknown_threats_count_part_way_and_say_so() -> None:
    s = assess_risk(GREENHOUSE, SENSOR)
    assert all(t.status == "unknown" for t in s.threats)
    f = factor(s, "threat weak-login (spoofing)")
    assert "counted as 25% of exposed" in f.evidence
    failed = assess_risk(dataclasses.replace(GREENHOUSE, checks=(
        CheckState("default-credentials", Status.FAIL, Severity.INFO),)), SENSOR)
    assert 0 < f.points < factor(failed, "threat weak-login (spoofing)").points


# ---------------------------------------------------------------- the catalogue
def test_the_shipped_profiles_load_and_cover_every_device_type() -> None:
    for device_type in DeviceType:
        assert device_type.value in PROFILES, device_type
        p = profile_for(PROFILES, device_type)
        assert p.threats and all(t.stride in risk.STRIDE for t in p.threats)
        assert len({t.id for t in p.threats}) == len(p.threats)
    assert profile_for(PROFILES, "unheard_of").name == "default"
    # a type's profile adds to the default threats
    cctv = {t.id for t in PROFILES["cctv_camera"].threats}
    assert {"weak-login", "footage-viewed"} <= cctv
    assert PROFILES["door_lock"].integrity is Impact.HIGH
    assert PROFILES["cctv_camera"].confidentiality is Impact.HIGH
    assert {t.stride for t in PROFILES["default"].threats} == set(risk.STRIDE)


def test_profile_for_without_a_default_is_an_input_error() -> None:
    only = {"plc": PROFILES["plc"]}
    with pytest.raises(InputError, match="no threat profile for 'sensor'"):
        profile_for(only, "sensor")


def good_catalogue() -> dict[str, Any]:
    return {"profile": {
        "default": {
            "impact": {"confidentiality": "medium", "integrity": "medium",
                       "availability": "medium"},
            "threat": [{"id": "weak-login", "stride": "S", "title": "Guessed password",
                        "mitigated_by": ["default-credentials"], "weight": 2}],
        },
        "sensor": {"threat": [{"id": "spoofed", "stride": "T", "title": "Fake readings",
                               "mitigated_by": ["mqtt-no-auth"], "weight": 1.5}]},
    }}


def test_a_good_catalogue_parses_and_inherits_the_default() -> None:
    got = parse_threat_profiles(good_catalogue(), "t.toml", KNOWN_CHECKS)
    assert [t.id for t in got["sensor"].threats] == ["weak-login", "spoofed"]
    assert got["sensor"].availability is Impact.MEDIUM
    assert got["sensor"].threats[1].weight == 1.5


def _break(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = good_catalogue()
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


T0 = ("profile", "default", "threat", 0)


@pytest.mark.parametrize(("path", "value", "message"), [
    ((*T0, "stride"), "X", "t.toml: profile default: threat 1 (weak-login): stride must "
                           "be one of S, T, R, I, D, E, not 'X'"),
    ((*T0, "mitigated_by"), ["default-credentials", "telnet-closed"],
     "t.toml: profile default: threat 1 (weak-login): unknown check id 'telnet-closed'"),
    ((*T0, "title"), KeyError, "t.toml: profile default: threat 1: missing title"),
    ((*T0, "weight"), 0, "weight must be a number above 0 and at most 10"),
    ((*T0, "weight"), True, "weight must be a number above 0 and at most 10"),
    ((*T0, "id"), "Weak Login", "id must be lower-case words joined by -"),
    ((*T0, "mitigated_by"), [], "mitigated_by must be a non-empty list of check ids"),
    ((*T0, "severity"), "high", "unknown key 'severity'"),
    (("profile", "toaster"), {}, "t.toml: profile toaster: not a device type"),
    (("profile", "default", "impact", "integrity"), "severe",
     "impact: integrity must be low, medium or high, not 'severe'"),
    (("profile", "default", "impact"), KeyError, "profile default: missing impact"),
    (("profile", "sensor", "threat"), [
        {"id": "a", "stride": "T", "title": "x", "mitigated_by": ["sbom-missing"],
         "weight": 1}] * 2, "profile sensor: threat 2: duplicate id 'a'"),
    (("profile",), {}, "t.toml: no [profile.<device type>] tables"),
])
def test_bad_catalogues_are_refused_in_one_line(path: tuple[Any, ...], value: Any,
                                                message: str) -> None:
    with pytest.raises(InputError) as err:
        parse_threat_profiles(_break(path, value), "t.toml", KNOWN_CHECKS)
    text = str(err.value)
    assert message in text and "\n" not in text and text.startswith("t.toml")


def test_unknown_check_ids_pass_when_no_known_set_is_given() -> None:
    data = _break((*T0, "mitigated_by"), ["a-future-check"])
    got = parse_threat_profiles(data, "t.toml")
    assert got["default"].threats[0].mitigated_by == ("a-future-check",)


@pytest.mark.parametrize(("change", "message"), [
    ({"criticality": "extreme"}, "unknown criticality 'extreme'"),
    ({"kev": -1}, "cannot be negative"),
    ({"vulns_by_priority": {5: 1}}, "finding priority must be 1..4"),
    ({"vulns_by_priority": {1: -2}}, "P1 finding count cannot be negative"),
])
def test_bad_input_is_an_input_error(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        assess_risk(dataclasses.replace(HOME, **change), SENSOR)
