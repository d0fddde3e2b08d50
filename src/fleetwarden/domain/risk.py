"""Risk of one device in its context: inherent (before controls) and residual (after) (R6).

The same kind of device carries a different risk depending on where it sits and what it
does. A temperature sensor on a dedicated IoT segment handling OFFICIAL readings of a
low-impact system is a small matter; the same sensor answering from a DMZ, feeding an
aggregate classified SECRET to a system whose availability the force depends on, is not.
This module turns that context into two scores on a 0..100 scale, and every point of
each score belongs to a named factor with its weight and evidence.

What a score means
------------------
``risk = 100 x impact x likelihood``, impact and likelihood each in 0..1. A score of 100
would be a device whose compromise is as damaging as anything the model knows, certain to
be attacked. Levels: ``critical`` >= 75, ``high`` >= 50, ``medium`` >= 25, else ``low``.

Impact (what a breach would cost)
  Per axis (confidentiality, integrity, availability) the highest level any source gives
  -- a high-water mark, as classification schemes do -- on the scale low 0.2, medium 0.5,
  high 0.8, and 1.0 for the top step of the four-step scales (critical, TOP SECRET):

  * device function: the profile's C/I/A for the device type (a lock or fire panel is
    high on integrity and availability whatever the place; a camera high on
    confidentiality). It is a floor the context can only raise.
  * data classification (confidentiality): the highest the device handles, aggregates
    included. Not recorded: OFFICIAL-SENSITIVE is assumed, and said so.
  * business impact assessment: per axis the highest of the IoT systems the device is
    part of. Not assessed: medium on every axis is assumed, and said so.
  * criticality (integrity and availability): how much the force depends on the device.

  ``impact = HIGH_WATER_SHARE x max(axes) + (1 - HIGH_WATER_SHARE) x mean(axes)``: a
  device critical on one axis is critical, but one high on all three ranks above it.

Likelihood (how exposed it is, before any control is verified)
  ``BASE_LIKELIHOOD`` ("when, not if": any connected device will be attacked), plus the
  zone of its segment, the number of open services, the cleartext services among them,
  and whether its services answer outside a dedicated ``iot-*`` zone. The steps add up to
  at most 0.95. Not observed: a stated number of services (one cleartext) is assumed; an
  unknown zone counts as a non-IoT zone.

Residual (what the evidence says about the controls)
  ``residual = inherent + sum(control points)``, each control point scaled by
  ``CONTROL_SCALE_FLOOR + (1 - CONTROL_SCALE_FLOOR) x impact``: the same weakness matters
  more on a device that matters more, but never less than half as much. Failed checks add
  by severity; each threat of the device's profile adds (exposed), adds part-way
  (unknown: no verdict yet) or subtracts (mitigated: all its checks pass), from fixed
  budgets shared by weight so a long profile weighs no more than a short one; open
  vulnerability findings add per KEV entry, per P1..P4 and per overdue finding (the first
  ``VULN_COUNT_CAP`` of each count). The result is held between
  ``100 x impact x RESIDUAL_FLOOR_LIKELIHOOD`` (controls lower the likelihood, they never
  remove it) and 100; when it is held, a "bounded" factor carries the difference.

Explaining a score
  Inherent factors: an impact source's points are ``100 x BASE_LIKELIHOOD x`` the part of
  the impact it sets (``weight`` = the share of the impact formula it decides; a tie goes
  to the first source in the order above, defaults last, so an assumed default only
  carries what it raises beyond the real data); a likelihood factor's points are
  ``100 x impact x weight`` (``weight`` = the likelihood it adds). Because
  ``100 x I x (B + sum l) = 100 x B x I + sum(100 x I x l)`` the points add up exactly to
  the inherent score. Residual factors: ``points = weight x count x control scale``.
  Points are rounded to hundredths and the scores are the sums of the rounded points.

Why these weights
  The impact scale leaves room above "high" for the top steps of criticality and
  classification. Zone steps keep the order of ``priority.ZONE_POINTS`` (DMZ worst,
  dedicated IoT segments best). The base likelihood is large enough that impact alone
  separates a door lock from a room sensor, and exposure is capped below certainty so
  verified evidence can still move the residual. On a high-impact device one failed
  critical check adds about 8 points and one KEV entry about 10 (a third of a level's
  25-point band), before the threats they expose; a profile whose checks all pass sits
  about 27 points below one with no verdicts yet (20 removed instead of 7.5 added).

Threat profiles (STRIDE) are data: ``catalogues/risk/threat-profiles.toml``, parsed here.

Must not: read files or storage, guess a missing input silently, or weigh anything it
does not name in ``factors``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fleetwarden.domain.classification import Classification
from fleetwarden.domain.compliance.results import Severity, Status, worst
from fleetwarden.domain.vocab import Criticality, DeviceType, Zone
from fleetwarden.errors import InputError


class Impact(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class ThreatStatus(StrEnum):
    MITIGATED = "mitigated"
    EXPOSED = "exposed"
    UNKNOWN = "unknown"


class Stage(StrEnum):
    INHERENT = "inherent"
    RESIDUAL = "residual"


# ---------------------------------------------------------------------------- weights
AXES: tuple[str, str, str] = ("confidentiality", "integrity", "availability")

IMPACT_LEVELS: Mapping[str, float] = {Impact.LOW: 0.2, Impact.MEDIUM: 0.5, Impact.HIGH: 0.8}
CRITICALITY_LEVELS: Mapping[str, float] = {
    Criticality.LOW: 0.2, Criticality.MEDIUM: 0.5, Criticality.HIGH: 0.8,
    Criticality.CRITICAL: 1.0,
}
"""Criticality speaks to integrity and availability."""
CLASSIFICATION_LEVELS: Mapping[str, float] = {
    Classification.OFFICIAL: 0.2, Classification.OFFICIAL_SENSITIVE: 0.5,
    Classification.SECRET: 0.8, Classification.TOP_SECRET: 1.0,
}
"""Classification speaks to confidentiality."""
DEFAULT_CLASSIFICATION = Classification.OFFICIAL_SENSITIVE
"""Assumed when no data item is classified: most police data is at least this."""
DEFAULT_BUSINESS_IMPACT = Impact.MEDIUM
"""Assumed on every axis when no IoT system of the device has an assessment."""
HIGH_WATER_SHARE = 0.5
"""Share of the impact taken by the worst axis; the rest is the mean of the three."""

BASE_LIKELIHOOD = 0.3
"""Every connected device will be attacked at some point ("when, not if")."""
ZONE_LIKELIHOOD: Mapping[str, float] = {
    Zone.DMZ: 0.30, Zone.GUEST: 0.20, Zone.CELLULAR: 0.20, Zone.CORPORATE: 0.10,
    Zone.MANAGEMENT: 0.10, Zone.OT: 0.10,
}
"""Zones not listed (the dedicated ``iot-*`` segments) add nothing."""
ZONE_UNKNOWN_LIKELIHOOD = 0.20
"""No zone known: treated as a shared, non-IoT segment."""
SERVICE_LIKELIHOOD = 0.03
"""Per open service, up to ``SERVICE_CAP`` services."""
SERVICE_CAP = 5
SERVICES_ASSUMED = 3
"""Open services assumed when none were observed."""
CLEARTEXT_LIKELIHOOD = 0.05
"""Per cleartext service (credentials or data readable on the wire), up to the cap."""
CLEARTEXT_CAP = 2
CLEARTEXT_ASSUMED = 1
"""Cleartext services assumed when none were observed."""
OUTSIDE_IOT_LIKELIHOOD = 0.10
"""Services answer on a segment that is not a dedicated IoT zone."""

CONTROL_SCALE_FLOOR = 0.5
"""Control points x (floor + (1 - floor) x impact)."""
FAILED_CHECK_POINTS: Mapping[str, float] = {
    Severity.CRITICAL: 8.0, Severity.HIGH: 5.0, Severity.MEDIUM: 2.0, Severity.LOW: 1.0,
    Severity.INFO: 0.0,
}
"""Per failed check, by its severity."""
THREAT_EXPOSED_BUDGET = 30.0
"""Points if every threat of the profile were exposed, shared out by threat weight."""
THREAT_MITIGATED_BUDGET = 20.0
"""Points removed if every threat of the profile were mitigated."""
THREAT_UNKNOWN_SHARE = 0.25
"""An unknown threat (no verdict yet) counts as this share of an exposed one."""
KEV_POINTS = 10.0
"""Per open finding whose vulnerability is in CISA KEV (on top of its priority)."""
PRIORITY_POINTS: Mapping[int, float] = {1: 6.0, 2: 3.0, 3: 1.0, 4: 0.25}
"""Per open finding, by priority."""
OVERDUE_POINTS = 4.0
"""Per open finding past its remediation date."""
VULN_COUNT_CAP = 3
"""Only the first findings of each count score: the tenth adds nothing the third did not."""
RESIDUAL_FLOOR_LIKELIHOOD = 0.1
"""Controls never take the residual below 100 x impact x this."""

LEVELS: tuple[tuple[float, str], ...] = (
    (75.0, "critical"), (50.0, "high"), (25.0, "medium"))
"""(lowest score, level), highest first; anything lower is ``low``."""

STRIDE = ("S", "T", "R", "I", "D", "E")
_STRIDE_NAMES = {"S": "spoofing", "T": "tampering", "R": "repudiation",
                 "I": "information disclosure", "D": "denial of service",
                 "E": "elevation of privilege"}
_MITIGATING = frozenset({Status.PASS, Status.NOT_APPLICABLE, Status.WAIVED})
_CLEARTEXT_NAMES = frozenset({"telnet", "ftp", "tftp", "http", "snmp", "mqtt", "rtsp"})
_CLEARTEXT_PORTS = frozenset({"tcp/21", "tcp/23", "udp/69", "tcp/80", "udp/161",
                              "tcp/1883", "tcp/554"})


# ----------------------------------------------------------------------------- values
@dataclass(frozen=True, slots=True)
class BusinessImpact:
    """The business impact assessment of one IoT system (R3)."""

    confidentiality: Impact
    integrity: Impact
    availability: Impact
    system: str
    """The IoT system's name, for the evidence."""


@dataclass(frozen=True, slots=True)
class CheckState:
    """The latest verdict of one compliance check on the device."""

    check_id: str
    status: Status
    severity: Severity


@dataclass(frozen=True, slots=True)
class RiskInput:
    """Everything the score looks at; the caller gathers it."""

    device_type: str
    criticality: str
    zone: str | None
    """The zone of the device's segment; None when the segment or its zone is unknown."""
    data_classification: Classification | None
    """The highest classification the device handles, aggregates included (the caller
    resolves it); None when nothing it handles is classified."""
    data_items: tuple[str, ...]
    """Names of the data items behind the classification, for the evidence."""
    business_impact: tuple[BusinessImpact, ...]
    """Of every IoT system the device belongs to; the highest counts per axis."""
    open_services: tuple[str, ...] | None
    """E.g. ``("tcp/23 telnet", "tcp/443 https")``; None when never observed."""
    checks: tuple[CheckState, ...]
    vulns_by_priority: Mapping[int, int]
    """Open findings per priority 1..4."""
    kev: int
    """Open findings whose vulnerability is in CISA KEV."""
    overdue: int
    """Open findings past their remediation date."""


@dataclass(frozen=True, slots=True)
class Factor:
    """One named contribution to a score."""

    name: str
    value: str
    """What was seen (a level, a zone, a count), or what was assumed."""
    weight: float
    """The coefficient from this module that turns ``value`` into points (see the module
    docstring for each stage)."""
    points: float
    evidence: str
    """One line: the facts and the arithmetic behind the points."""
    stage: str
    """``inherent`` or ``residual``."""


@dataclass(frozen=True, slots=True)
class Threat:
    """One threat of a profile."""

    id: str
    stride: str
    """One of S, T, R, I, D, E."""
    title: str
    mitigated_by: tuple[str, ...]
    """Check ids that, all passing, show the threat is handled; any failing exposes it."""
    weight: float
    """Relative importance within its profile (0 < weight <= 10)."""


@dataclass(frozen=True, slots=True)
class ThreatProfile:
    """What a kind of device does and what threatens it."""

    name: str
    """A DeviceType value, or ``default``."""
    confidentiality: Impact
    integrity: Impact
    availability: Impact
    """The device function's own impact per axis, before any context."""
    threats: tuple[Threat, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class ThreatState:
    """A threat of the device's profile and what its checks say about it."""

    id: str
    stride: str
    title: str
    status: str
    """``mitigated``, ``exposed`` or ``unknown``."""
    because: str
    """The check verdicts behind the status, in one line."""


@dataclass(frozen=True, slots=True)
class RiskScore:
    inherent: float
    """0..100, from context alone; the sum of the inherent factors' points."""
    residual: float
    """0..100; the sum of every factor's points."""
    inherent_level: str
    residual_level: str
    """low, medium, high or critical."""
    factors: tuple[Factor, ...]
    threats: tuple[ThreatState, ...]
    impact: float = 0.0
    """0..1, the impact the score used."""
    likelihood: float = 0.0
    """0..1, the inherent likelihood the score used."""


# ---------------------------------------------------------------------------- scoring
def assess_risk(inp: RiskInput, profile: ThreatProfile) -> RiskScore:
    """The device's inherent and residual risk, every point of both in ``factors``."""
    _check_input(inp)
    sources = _impact_sources(inp, profile)
    impact, impact_factors = _impact(sources)
    likelihood_parts = _likelihood_parts(inp)
    likelihood = BASE_LIKELIHOOD + sum(part[2] for part in likelihood_parts)
    factors = impact_factors + [
        Factor(name, value, weight, _pts(100 * impact * weight),
               f"{evidence}; adds likelihood {weight:.2f} x impact {impact:.3f} x 100",
               Stage.INHERENT)
        for name, value, weight, evidence in likelihood_parts]
    inherent = _pts(sum(f.points for f in factors))

    scale = CONTROL_SCALE_FLOOR + (1 - CONTROL_SCALE_FLOOR) * impact
    states = evaluate_threats(profile, inp.checks)
    controls = (_failed_check_factors(inp.checks, scale)
                + _threat_factors(profile, states, scale)
                + _vuln_factors(inp, scale))
    raw = _pts(inherent + sum(f.points for f in controls))
    floor = _pts(100 * impact * RESIDUAL_FLOOR_LIKELIHOOD)
    bounded = min(100.0, max(floor, raw))
    if bounded != raw:
        why = ("controls lower the likelihood but never remove it: floor 100 x impact "
               f"{impact:.3f} x {RESIDUAL_FLOOR_LIKELIHOOD}" if bounded > raw
               else "the scale ends at 100")
        controls.append(Factor("bounded", f"{raw:.2f} -> {bounded:.2f}", 1.0,
                               _pts(bounded - raw), why, Stage.RESIDUAL))
    residual = _pts(inherent + sum(f.points for f in controls))
    return RiskScore(inherent=inherent, residual=residual,
                     inherent_level=level_for(inherent), residual_level=level_for(residual),
                     factors=tuple(factors + controls), threats=states,
                     impact=round(impact, 4), likelihood=round(likelihood, 4))


def level_for(score: float) -> str:
    return next((level for lowest, level in LEVELS if score >= lowest), "low")


def explain(score: RiskScore) -> tuple[str, ...]:
    """One line per factor, then the totals, for a report or a terminal."""
    lines = [f"[{f.stage}] {f.name} = {f.value} ({f.points:+.2f}): {f.evidence}"
             for f in score.factors]
    lines.append(f"inherent {score.inherent:.2f} ({score.inherent_level}), residual "
                 f"{score.residual:.2f} ({score.residual_level})")
    return tuple(lines)


def evaluate_threats(profile: ThreatProfile, checks: Iterable[CheckState]
                     ) -> tuple[ThreatState, ...]:
    """Each threat: exposed if a mitigating check fails, mitigated if all pass (or are not
    applicable or waived), else unknown (manual, error or no result)."""
    by_id: dict[str, list[Status]] = {}
    for c in checks:
        by_id.setdefault(c.check_id, []).append(c.status)
    seen = {cid: worst(statuses) for cid, statuses in by_id.items()}
    states = []
    for t in profile.threats:
        verdicts = {cid: seen.get(cid) for cid in t.mitigated_by}
        failing = [cid for cid, s in verdicts.items() if s is Status.FAIL]
        if failing:
            status = ThreatStatus.EXPOSED
            because = "fails: " + ", ".join(failing)
        elif all(s in _MITIGATING for s in verdicts.values()):
            status = ThreatStatus.MITIGATED
            because = _verdicts(verdicts)
        else:
            status = ThreatStatus.UNKNOWN
            because = _verdicts(verdicts)
        states.append(ThreatState(t.id, t.stride, t.title, status, because))
    return tuple(states)


def _verdicts(verdicts: Mapping[str, Status | None]) -> str:
    groups: dict[str, list[str]] = {}
    for cid, s in verdicts.items():
        label = "no result" if s is None else s.value.lower().replace("_", " ")
        groups.setdefault(label, []).append(cid)
    return "; ".join(f"{label}: {', '.join(ids)}" for label, ids in groups.items())


def _check_input(inp: RiskInput) -> None:
    if inp.criticality not in CRITICALITY_LEVELS:
        raise InputError(f"unknown criticality {inp.criticality!r}; valid: "
                         + ", ".join(c.value for c in Criticality))
    for prio, count in inp.vulns_by_priority.items():
        if prio not in PRIORITY_POINTS:
            raise InputError(f"finding priority must be 1..4, not {prio!r}")
        if count < 0:
            raise InputError(f"P{prio} finding count cannot be negative")
    if inp.kev < 0 or inp.overdue < 0:
        raise InputError("KEV and overdue finding counts cannot be negative")


def _pts(x: float) -> float:
    return round(x, 2) + 0.0  # + 0.0: never show -0.0


# ----------------------------------------------------------------------------- impact
@dataclass(frozen=True, slots=True)
class _Source:
    name: str
    value: str
    levels: Mapping[str, float]
    """Axis -> level, for the axes this source speaks to."""
    evidence: str


def _impact_sources(inp: RiskInput, profile: ThreatProfile) -> list[_Source]:
    """In tie-break order: real context first, the device function's floor, then the
    cautious defaults for what is missing."""
    real: list[_Source] = []
    assumed: list[_Source] = []
    items = ", ".join(inp.data_items) if inp.data_items else "no items named"
    if inp.data_classification is not None:
        cls = inp.data_classification
        real.append(_Source("data classification", cls.value,
                            {"confidentiality": CLASSIFICATION_LEVELS[cls]},
                            f"highest handled, aggregates included ({items})"))
    else:
        dflt = DEFAULT_CLASSIFICATION
        assumed.append(_Source("data classification not recorded",
                               f"assumed {dflt.value}",
                               {"confidentiality": CLASSIFICATION_LEVELS[dflt]},
                               f"no classified data item ({items}); cautious default"))
    if inp.business_impact:
        levels: dict[str, float] = {}
        parts = []
        for axis in AXES:
            top = max(IMPACT_LEVELS[getattr(b, axis)] for b in inp.business_impact)
            names = [b.system for b in inp.business_impact
                     if IMPACT_LEVELS[getattr(b, axis)] == top]
            levels[axis] = top
            parts.append(f"{axis} {_label(top)} ({', '.join(names)})")
        value = ", ".join(f"{a[0].upper()} {_label(levels[a])}" for a in AXES)
        real.append(_Source("business impact", value, levels,
                            "highest per axis of its IoT systems: " + "; ".join(parts)))
    else:
        d = IMPACT_LEVELS[DEFAULT_BUSINESS_IMPACT]
        assumed.append(_Source("business impact not assessed",
                               f"assumed {DEFAULT_BUSINESS_IMPACT.value} on every axis",
                               dict.fromkeys(AXES, d),
                               "no IoT system of the device has an assessment; "
                               "cautious default"))
    crit = CRITICALITY_LEVELS[inp.criticality]
    real.append(_Source("criticality", inp.criticality,
                        {"integrity": crit, "availability": crit},
                        "how much the force depends on the device"))
    fn = {a: IMPACT_LEVELS[getattr(profile, a)] for a in AXES}
    real.append(_Source(
        "device function", inp.device_type, fn,
        f"profile {profile.name}: " + ", ".join(f"{a} {_label(fn[a])}" for a in AXES)))
    return real + assumed


def _label(level: float) -> str:
    return {0.2: "low", 0.5: "medium", 0.8: "high", 1.0: "very high"}.get(level, f"{level}")


def _impact(sources: list[_Source]) -> tuple[float, list[Factor]]:
    top = {a: max(s.levels[a] for s in sources if a in s.levels) for a in AXES}
    winner = {a: next(s.name for s in sources if s.levels.get(a) == top[a]) for a in AXES}
    worst_level = max(top.values())
    top_axes = [a for a in AXES if top[a] == worst_level]
    axis_weight = {a: (1 - HIGH_WATER_SHARE) / len(AXES)
                   + (HIGH_WATER_SHARE / len(top_axes) if a in top_axes else 0.0)
                   for a in AXES}
    impact = sum(axis_weight[a] * top[a] for a in AXES)
    factors = []
    for s in sources:
        won = [a for a in AXES if winner[a] == s.name]
        weight = sum((axis_weight[a] for a in won), 0.0)
        points = _pts(100 * BASE_LIKELIHOOD * sum(axis_weight[a] * top[a] for a in won))
        said = []
        for a in AXES:
            if a not in s.levels:
                continue
            if a in won:
                said.append(f"sets {a} {_label(top[a])} (axis weight {axis_weight[a]:.3f})")
            elif s.levels[a] < top[a]:
                said.append(f"{a} {_label(s.levels[a])}, below {winner[a]}")
            else:
                said.append(f"{a} {_label(s.levels[a])}, tied: counted under {winner[a]}")
        evidence = (f"{s.evidence}; " + "; ".join(said)
                    + f"; points = 100 x base likelihood {BASE_LIKELIHOOD} x impact set")
        factors.append(Factor(s.name, s.value, round(weight, 4), points, evidence,
                              Stage.INHERENT))
    return impact, factors


# ------------------------------------------------------------------------- likelihood
def _likelihood_parts(inp: RiskInput) -> list[tuple[str, str, float, str]]:
    """(name, value, likelihood added, evidence) per exposure factor."""
    parts: list[tuple[str, str, float, str]] = []
    if inp.zone is None:
        parts.append(("network zone unknown", "assumed non-IoT segment",
                      ZONE_UNKNOWN_LIKELIHOOD, "segment or its zone not recorded; "
                      "cautious default"))
    else:
        dedicated = inp.zone.startswith("iot-")
        parts.append(("network zone", inp.zone, ZONE_LIKELIHOOD.get(inp.zone, 0.0),
                      "dedicated IoT segment" if dedicated
                      else "shared with non-IoT systems"))
    if inp.open_services is None:
        parts.append(("open services not observed", f"assumed {SERVICES_ASSUMED}",
                      SERVICES_ASSUMED * SERVICE_LIKELIHOOD,
                      "no scan has seen the device; cautious default"))
        parts.append(("cleartext services not observed", f"assumed {CLEARTEXT_ASSUMED}",
                      CLEARTEXT_ASSUMED * CLEARTEXT_LIKELIHOOD,
                      "no scan has seen the device; cautious default"))
        answering = True
    else:
        n = len(inp.open_services)
        counted = min(n, SERVICE_CAP)
        parts.append(("open services", str(n), counted * SERVICE_LIKELIHOOD,
                      (", ".join(inp.open_services) or "none")
                      + f"; {counted} counted x {SERVICE_LIKELIHOOD}"))
        clear = [s for s in inp.open_services if _cleartext(s)]
        counted = min(len(clear), CLEARTEXT_CAP)
        parts.append(("cleartext services", str(len(clear)),
                      counted * CLEARTEXT_LIKELIHOOD,
                      (", ".join(clear) or "none")
                      + f"; {counted} counted x {CLEARTEXT_LIKELIHOOD}"))
        answering = n > 0
    outside = (inp.zone is None or not inp.zone.startswith("iot-")) and answering
    where = "zone unknown" if inp.zone is None else f"zone {inp.zone}"
    if outside:
        seen = "services assumed" if inp.open_services is None else "services answer"
        evidence = f"{seen} in {where}, not a dedicated IoT zone"
    elif not answering:
        evidence = "no open service observed"
    else:
        evidence = f"services answer only inside dedicated {where}"
    parts.append(("reachable outside an IoT zone", "yes" if outside else "no",
                  OUTSIDE_IOT_LIKELIHOOD if outside else 0.0, evidence))
    return parts


def _cleartext(service: str) -> bool:
    tokens = set(service.lower().replace(",", " ").split())
    return bool(tokens & _CLEARTEXT_NAMES or tokens & _CLEARTEXT_PORTS)


# --------------------------------------------------------------------------- residual
def _failed_check_factors(checks: Iterable[CheckState], scale: float) -> list[Factor]:
    worst_by_id: dict[str, CheckState] = {}
    for c in checks:
        prev = worst_by_id.get(c.check_id)
        if prev is None or c.status.rank > prev.status.rank:
            worst_by_id[c.check_id] = c
    failed: dict[Severity, list[str]] = {}
    for c in worst_by_id.values():
        if c.status is Status.FAIL:
            failed.setdefault(c.severity, []).append(c.check_id)
    factors = []
    for sev in sorted(failed, key=lambda s: -s.rank):
        ids = sorted(failed[sev])
        w = FAILED_CHECK_POINTS[sev]
        factors.append(Factor(f"failed {sev.value} checks", str(len(ids)), w,
                              _pts(w * len(ids) * scale),
                              f"{', '.join(ids)}; {w} each x control scale {scale:.3f}",
                              Stage.RESIDUAL))
    return factors


def _threat_factors(profile: ThreatProfile, states: tuple[ThreatState, ...],
                    scale: float) -> list[Factor]:
    total = sum(t.weight for t in profile.threats)
    factors = []
    for t, s in zip(profile.threats, states, strict=True):
        share = t.weight / total
        if s.status == ThreatStatus.EXPOSED:
            w, how = THREAT_EXPOSED_BUDGET * share, "exposed"
        elif s.status == ThreatStatus.MITIGATED:
            w, how = -THREAT_MITIGATED_BUDGET * share, "mitigated"
        else:
            w = THREAT_EXPOSED_BUDGET * share * THREAT_UNKNOWN_SHARE
            how = f"unknown, counted as {THREAT_UNKNOWN_SHARE:.0%} of exposed"
        factors.append(Factor(
            f"threat {t.id} ({_STRIDE_NAMES[t.stride]})", s.status, round(w, 4),
            _pts(w * scale),
            f"{how}: {s.because}; weight {t.weight:g} of {total:g} x control scale "
            f"{scale:.3f}", Stage.RESIDUAL))
    return factors


def _vuln_factors(inp: RiskInput, scale: float) -> list[Factor]:
    counts: list[tuple[str, int, float]] = [("KEV findings", inp.kev, KEV_POINTS)]
    counts += [(f"P{p} findings", inp.vulns_by_priority.get(p, 0), PRIORITY_POINTS[p])
               for p in sorted(PRIORITY_POINTS)]
    counts.append(("overdue findings", inp.overdue, OVERDUE_POINTS))
    factors = []
    for name, n, w in counts:
        if n <= 0:
            continue
        counted = min(n, VULN_COUNT_CAP)
        factors.append(Factor(name, str(n), w, _pts(w * counted * scale),
                              f"{counted} of {n} counted x {w:g} x control scale "
                              f"{scale:.3f}", Stage.RESIDUAL))
    return factors


# ------------------------------------------------------------------- threat profiles
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_PROFILE_KEYS = frozenset({"impact", "note", "threat"})
_THREAT_KEYS = frozenset({"id", "stride", "title", "mitigated_by", "weight", "note"})
_PROFILE_NAMES = frozenset({"default", *(t.value for t in DeviceType)})
DEFAULT_PROFILE = "default"


def parse_threat_profiles(data: Mapping[str, Any], origin: str,
                          known_checks: frozenset[str] | set[str] | None = None
                          ) -> Mapping[str, ThreatProfile]:
    """Profiles from one parsed threat-profile file; ``origin`` names it in errors.

    A type's profile adds to the ``default`` profile's threats (a threat with the same id
    replaces the default one) and takes its impact when it gives none. With
    ``known_checks``, a threat mitigated by an unknown check is refused.
    """
    extra = set(data) - {"profile"}
    if extra:
        raise InputError(f"{origin}: unknown top-level key {sorted(extra)[0]!r}")
    table = data.get("profile")
    if not isinstance(table, Mapping) or not table:
        raise InputError(f"{origin}: no [profile.<device type>] tables")
    parsed: dict[str, tuple[dict[str, Impact] | None, list[Threat], str]] = {}
    for name, body in table.items():
        where = f"{origin}: profile {name}"
        if name not in _PROFILE_NAMES:
            raise InputError(f"{where}: not a device type (or 'default')")
        if not isinstance(body, Mapping):
            raise InputError(f"{where}: not a table")
        unknown = set(body) - _PROFILE_KEYS
        if unknown:
            raise InputError(f"{where}: unknown key {sorted(unknown)[0]!r}")
        impact = _parse_impact(body["impact"], where) if "impact" in body else None
        note = body.get("note", "")
        if not isinstance(note, str):
            raise InputError(f"{where}: note must be text")
        rows = body.get("threat", [])
        if not isinstance(rows, list):
            raise InputError(f"{where}: threat must be a list of [[...threat]] tables")
        threats: list[Threat] = []
        for i, row in enumerate(rows, 1):
            t = _parse_threat(row, f"{where}: threat {i}", known_checks)
            if any(t.id == other.id for other in threats):
                raise InputError(f"{where}: threat {i}: duplicate id {t.id!r}")
            threats.append(t)
        parsed[name] = (impact, threats, note)

    base = parsed.get(DEFAULT_PROFILE)
    if base is not None and base[0] is None:
        raise InputError(f"{origin}: profile default: missing impact")
    profiles: dict[str, ThreatProfile] = {}
    for name, (impact, threats, note) in parsed.items():
        if name != DEFAULT_PROFILE and base is not None:
            own = {t.id for t in threats}
            threats = [t for t in base[1] if t.id not in own] + threats
            impact = impact or base[0]
        if impact is None:
            raise InputError(f"{origin}: profile {name}: missing impact (and no default)")
        if not threats:
            raise InputError(f"{origin}: profile {name}: no threats")
        profiles[name] = ThreatProfile(name, impact["confidentiality"], impact["integrity"],
                                       impact["availability"], tuple(threats), note.strip())
    return profiles


def profile_for(profiles: Mapping[str, ThreatProfile], device_type: str) -> ThreatProfile:
    """The device type's profile, or the default one."""
    found = profiles.get(device_type) or profiles.get(DEFAULT_PROFILE)
    if found is None:
        raise InputError(f"no threat profile for {device_type!r} and no default profile")
    return found


def _parse_impact(value: Any, where: str) -> dict[str, Impact]:
    if not isinstance(value, Mapping):
        raise InputError(f"{where}: impact must be a table of confidentiality, integrity, "
                         "availability")
    extra = set(value) - set(AXES)
    if extra:
        raise InputError(f"{where}: impact: unknown axis {sorted(extra)[0]!r}")
    out = {}
    for axis in AXES:
        if axis not in value:
            raise InputError(f"{where}: impact: missing {axis}")
        try:
            out[axis] = Impact(value[axis])
        except ValueError:
            raise InputError(f"{where}: impact: {axis} must be low, medium or high, "
                             f"not {value[axis]!r}") from None
    return out


def _parse_threat(row: Any, where: str, known_checks: Iterable[str] | None) -> Threat:
    if not isinstance(row, Mapping):
        raise InputError(f"{where}: not a table")
    unknown = set(row) - _THREAT_KEYS
    if unknown:
        raise InputError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    for key in ("id", "stride", "title", "mitigated_by", "weight"):
        if key not in row:
            raise InputError(f"{where}: missing {key}")
    tid = row["id"]
    if not isinstance(tid, str) or not _ID.match(tid):
        raise InputError(f"{where}: id must be lower-case words joined by -, not {tid!r}")
    where = f"{where} ({tid})"
    stride = row["stride"]
    if stride not in STRIDE:
        raise InputError(f"{where}: stride must be one of {', '.join(STRIDE)}, "
                         f"not {stride!r}")
    title = row["title"]
    if not isinstance(title, str) or not title.strip() or "\n" in title.strip():
        raise InputError(f"{where}: title must be one non-empty line")
    checks = row["mitigated_by"]
    if (not isinstance(checks, list) or not checks
            or not all(isinstance(c, str) and c for c in checks)):
        raise InputError(f"{where}: mitigated_by must be a non-empty list of check ids")
    if len(set(checks)) != len(checks):
        raise InputError(f"{where}: mitigated_by lists a check twice")
    if known_checks is not None:
        known = set(known_checks)
        for c in checks:
            if c not in known:
                raise InputError(f"{where}: unknown check id {c!r}")
    weight = row["weight"]
    if (isinstance(weight, bool) or not isinstance(weight, int | float)
            or not math.isfinite(weight) or not 0 < weight <= 10):
        raise InputError(f"{where}: weight must be a number above 0 and at most 10")
    return Threat(tid, stride, title.strip(), tuple(checks), float(weight))
