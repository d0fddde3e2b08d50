"""Priority of a finding (device x vulnerability), with the reasons that made it (R5).

A finding scores points, on a CVSS-like scale of tenths: the CVSS base score of the
vulnerability (x10), then exploitation signals (in CISA KEV, EPSS), then context: the
component seen answering on the network by discovery, the device's network zone, its
criticality and the classification of the data its IoT systems handle. Thresholds turn
points into P1..P4, and a KEV entry never ranks below P2. The tenant's response times
per priority give the due date.

The weights live here once. The findings query computes the same sum in SQL from the
tables below (``adapters/db/findings.py``), so a list filtered by priority over a million
devices needs no Python per row; ``score`` is the reference and what explains a finding.

Must not: read storage, or weigh a factor it cannot name in ``reasons``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from fleetwarden.domain.classification import Classification
from fleetwarden.domain.vocab import Criticality, Zone

NO_CVSS_POINTS = 50
"""A vulnerability without any CVSS is scored as a medium one, and says so."""

KEV_POINTS = 30
RANSOMWARE_POINTS = 5
EXPOSED_POINTS = 10
"""The vulnerable component answered on the network (discovery read its banner)."""

EPSS_STEPS: tuple[tuple[float, int], ...] = ((0.5, 20), (0.1, 10), (0.01, 0))
"""(lowest EPSS, points), highest first; below the last step: ``EPSS_LOW_POINTS``."""
EPSS_LOW_POINTS = -5

CRITICALITY_POINTS: dict[str, int] = {
    Criticality.CRITICAL: 15, Criticality.HIGH: 8, Criticality.MEDIUM: 0, Criticality.LOW: -8,
}
ZONE_POINTS: dict[str, int] = {
    Zone.DMZ: 15, Zone.GUEST: 10, Zone.CELLULAR: 10, Zone.CORPORATE: 5,
    Zone.MANAGEMENT: 5, Zone.OT: 5,
}
"""Zones not listed (the dedicated ``iot-*`` segments) add nothing."""
CLASSIFICATION_POINTS: dict[str, int] = {
    Classification.OFFICIAL: 0, Classification.OFFICIAL_SENSITIVE: 5,
    Classification.SECRET: 10, Classification.TOP_SECRET: 15,
}

THRESHOLDS: tuple[tuple[int, int], ...] = ((110, 1), (85, 2), (60, 3))
"""(lowest points, priority), highest first; anything lower is P4."""
KEV_FLOOR = 2
"""A vulnerability exploited in the wild is at least P2, whatever its context."""

DEFAULT_RESPONSE_DAYS: tuple[int, int, int, int] = (7, 30, 60, 90)
"""Days to remediate P1..P4 unless the tenant sets its own."""


@dataclass(frozen=True, slots=True)
class VulnSignals:
    """What the vulnerability itself brings, the same on every device."""

    cvss_score: float | None = None
    cvss_version: str | None = None
    epss: float | None = None
    kev: bool = False
    ransomware: bool = False


@dataclass(frozen=True, slots=True)
class DeviceContext:
    """Where the vulnerable component runs."""

    exposed: bool = False
    zone: str | None = None
    criticality: str = Criticality.MEDIUM
    classification: str | None = None


@dataclass(frozen=True, slots=True)
class Priority:
    level: int
    """1 (most urgent) .. 4."""
    points: int
    reasons: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"P{self.level}"


def signal_points(s: VulnSignals) -> tuple[int, list[str]]:
    """Points from the vulnerability alone (stored once per match)."""
    reasons = []
    if s.cvss_score is None:
        points = NO_CVSS_POINTS
        reasons.append(f"no CVSS score: counted as {NO_CVSS_POINTS / 10:.1f} (+{points})")
    else:
        points = round(s.cvss_score * 10)
        reasons.append(f"CVSS {s.cvss_version or ''} base {s.cvss_score:.1f} (+{points})"
                       .replace("CVSS  ", "CVSS "))
    if s.kev:
        points += KEV_POINTS
        reasons.append(f"in CISA KEV: exploited in the wild (+{KEV_POINTS})")
        if s.ransomware:
            points += RANSOMWARE_POINTS
            reasons.append(f"KEV: used in ransomware campaigns (+{RANSOMWARE_POINTS})")
    if s.epss is not None:
        step = epss_points(s.epss)
        points += step
        reasons.append(f"EPSS {s.epss:.3f} ({step:+d})")
    return points, reasons


def epss_points(epss: float) -> int:
    for lowest, pts in EPSS_STEPS:
        if epss >= lowest:
            return pts
    return EPSS_LOW_POINTS


def context_points(c: DeviceContext) -> tuple[int, list[str]]:
    """Points from where the component runs (computed per device)."""
    points, reasons = 0, []
    if c.exposed:
        points += EXPOSED_POINTS
        reasons.append(f"component answers on the network (discovery) (+{EXPOSED_POINTS})")
    zone_pts = ZONE_POINTS.get(c.zone or "", 0)
    if c.zone:
        points += zone_pts
        reasons.append(f"segment zone {c.zone} ({zone_pts:+d})")
    crit = CRITICALITY_POINTS.get(c.criticality, 0)
    points += crit
    reasons.append(f"device criticality {c.criticality} ({crit:+d})")
    if c.classification:
        cls = CLASSIFICATION_POINTS.get(c.classification, 0)
        points += cls
        reasons.append(f"handles {c.classification} data ({cls:+d})")
    return points, reasons


def level_for(points: int, kev: bool) -> int:
    level = next((lvl for lowest, lvl in THRESHOLDS if points >= lowest), 4)
    return min(level, KEV_FLOOR) if kev else level


CONTEXT_MIN = (min(CRITICALITY_POINTS.values()) + min(0, *ZONE_POINTS.values())
               + min(0, *CLASSIFICATION_POINTS.values()))
CONTEXT_MAX = (max(CRITICALITY_POINTS.values()) + max(0, *ZONE_POINTS.values())
               + max(0, *CLASSIFICATION_POINTS.values()))
"""The range a device's context can add (exposure is the match's, counted apart)."""


def points_range(level: int, kev: bool) -> tuple[int, int] | None:
    """The points [low, high] that give ``level`` (None: the level cannot happen)."""
    bounds = [(lowest, lvl) for lowest, lvl in THRESHOLDS]
    low = next((lowest for lowest, lvl in bounds if lvl == level), None)
    high = next((lowest - 1 for lowest, lvl in bounds if lvl == level - 1), None)
    if level == 4:
        low = None
    if kev:
        if level > KEV_FLOOR:
            return None
        if level == KEV_FLOOR:
            low = None
    return (low if low is not None else -(1 << 30), high if high is not None else 1 << 30)


def score(signals: VulnSignals, context: DeviceContext) -> Priority:
    """The finding's priority and every factor that counted."""
    base, reasons = signal_points(signals)
    return explain(base, reasons, context, signals.kev)


def explain(base: int, base_reasons: list[str], context: DeviceContext, kev: bool
            ) -> Priority:
    """Priority from the points a vulnerability brings (stored with its match) and the
    device's context, with every factor named."""
    ctx, ctx_reasons = context_points(context)
    points = base + ctx
    level = level_for(points, kev)
    reasons = [*base_reasons, *ctx_reasons]
    if kev and level_for(points, False) > KEV_FLOOR:
        reasons.append(f"raised to P{KEV_FLOOR}: in KEV")
    reasons.append(f"{points} points -> P{level}")
    return Priority(level, points, tuple(reasons))


def due_date(first_seen: date, level: int,
             response_days: tuple[int, int, int, int] = DEFAULT_RESPONSE_DAYS) -> date:
    """When a finding of ``level`` first seen on ``first_seen`` must be remediated."""
    return first_seen + timedelta(days=response_days[level - 1])


def check_response_days(days: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Four whole days, 1..3650, not shorter for a lower priority; ValueError otherwise."""
    if len(days) != 4:
        raise ValueError("give four response times: P1, P2, P3 and P4")
    if any(d < 1 or d > 3650 for d in days):
        raise ValueError("response times must be 1 to 3650 days")
    if any(later < earlier for earlier, later in zip(days, days[1:], strict=False)):
        raise ValueError("a lower priority cannot have a shorter response time")
    return (days[0], days[1], days[2], days[3])
