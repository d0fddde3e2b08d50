"""The estate at a glance (the dashboard's overview): figures computed off the request
and kept per tenant, and the daily summary snapshot they take their trends from.

What is measured, and where from (``compute``, one read-only unit of work):

* devices by type, lifecycle state and site: one GROUP BY over the register (every
  device, disposed included, so each number is what the devices list shows for it);
* unregistered devices: discovered hosts waiting in the queue;
* KEV exposure and findings by priority: the findings report (``findings.report`` by
  site, as ``report summary`` counts them): devices with a KEV finding that is not
  fixed; active (open or affected) findings per P1..P4, and how many of those are
  overdue;
* risk distribution: the **inherent** risk level (``domain.risk.assess_risk``) of every
  device not disposed, from what the register says: type, criticality, the zone of its
  segment, and for members of IoT systems the systems' business impact and the highest
  classification of their data (aggregates included), as ``services.risk`` gathers them.
  Open services are left to the domain's stated assumption, and compliance checks and
  findings (the residual score) are left out: gathering them per device is a scan of
  every check result and of the findings fan-out, minutes at 1,000,000 devices. Devices
  with the same inputs share a score, so ``assess_risk`` runs once per distinct input,
  not per device. The device page shows the full, residual score.
* compliance % per framework and the trends: the daily ``report_snapshots`` that
  ``services.compliance_report.summary_report`` writes (a whole compliance report,
  about 24 s per 100,000 devices: never on a request). ``daily_snapshot`` takes the
  day's snapshot when there is none; ``serve``'s worker calls it, so nobody has to run
  a command.

Why a cache: at 1,000,000 devices the GROUP BY and the findings fan-out take seconds,
the page must render in a few hundred milliseconds. ``OverviewCache`` keeps the last
figures per tenant in this process with the time they were taken (the page shows it),
and recomputes them in a background thread once they are older than
``max(MIN_AGE, AGE_FACTOR x the time they took)``; meanwhile requests get the previous
figures. Only a tenant's first request waits, up to ``FIRST_WAIT`` seconds (a small
estate is computed by then; a large one shows "being computed" and reloads).

Must not: compute compliance on a request, write anything except through
``summary_report`` in ``daily_snapshot``, or let a request wait on a big estate
beyond ``FIRST_WAIT``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from fleetwarden.domain.classification import Classification, highest
from fleetwarden.domain.findings import FindingQuery
from fleetwarden.domain.lifecycle import LifecycleState
from fleetwarden.domain.model import DataItem, Tenant
from fleetwarden.domain.reconcile import HostStatus
from fleetwarden.domain.risk import (
    LEVELS,
    BusinessImpact,
    RiskInput,
    ThreatProfile,
    assess_risk,
    profile_for,
)
from fleetwarden.domain.vocab import Role
from fleetwarden.ports import DeviceGroup
from fleetwarden.services.compliance_report import summary_report
from fleetwarden.services.context import Permission, Platform, Principal, require
from fleetwarden.services.risk import all_data_items, data_in_scope, system_impact
from fleetwarden.services.vulns import response_days

log = logging.getLogger(__name__)

MIN_AGE = 60.0
"""Seconds figures are served before a refresh starts, at least."""
AGE_FACTOR = 10.0
"""...and at least this many times what computing them took (a big estate refreshes
less often, so refreshing never takes more than a tenth of the machine)."""
FIRST_WAIT = 3.0
"""Seconds a tenant's first request waits for its figures."""
TREND_DAYS = 90
WORKER_ACTOR = "fleetwarden:worker"

#: Trend charts from the daily snapshots: key -> (label, unit).
TRENDS: Mapping[str, tuple[str, str]] = {
    "devices_total": ("Devices (not disposed)", "devices"),
    "devices_unregistered": ("Unregistered devices", "devices"),
    "devices_kev": ("Devices with a KEV vulnerability", "devices"),
    "findings_p1": ("Open P1 findings", "findings"),
    "findings_overdue": ("Overdue findings", "findings"),
    "checks_failed": ("Failed compliance checks", "checks"),
}
RISK_LEVELS = ("low", *(level for _, level in reversed(LEVELS)))
"""low, medium, high, critical."""


@dataclass(frozen=True, slots=True)
class Tally:
    key: str
    """What the list behind the number filters on: a type or state value, a site id
    (empty for devices without a site), a risk level."""
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class PriorityTally:
    level: int
    active: int
    """Open or affected findings of this priority."""
    overdue: int
    """Of those, past their due date."""


@dataclass(frozen=True, slots=True)
class FrameworkCompliance:
    id: str
    title: str
    percent: float | None
    """Device-requirement pairs met, in the latest snapshot; None when not measured."""
    previous: float | None
    """The same in the snapshot before it."""


@dataclass(frozen=True, slots=True)
class Trend:
    key: str
    label: str
    unit: str
    points: tuple[tuple[date, float], ...]
    """Oldest first; days the measure was not taken are left out."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the daily summary snapshots say."""

    day: date
    taken_at: datetime | None
    compliance: tuple[FrameworkCompliance, ...]
    trends: tuple[Trend, ...]
    """The counts of ``TRENDS``, then compliance % per framework (key
    ``compliance_<framework id>``)."""


@dataclass(frozen=True, slots=True)
class Overview:
    tenant: str
    as_of: datetime
    seconds: float
    """How long computing these figures took."""
    devices: int
    """Every device in the register."""
    live: int
    """Devices not disposed."""
    by_type: tuple[Tally, ...]
    """Most devices first."""
    by_state: tuple[Tally, ...]
    """In lifecycle order; states without devices left out."""
    by_site: tuple[Tally, ...]
    """Most devices first; devices without a site under key ``""``."""
    unregistered: int
    kev_devices: int
    priorities: tuple[PriorityTally, ...]
    """P1..P4, always all four."""
    risk: tuple[Tally, ...]
    """Inherent risk of the devices not disposed: low, medium, high, critical."""
    snapshot: Snapshot | None
    """None until the first daily summary snapshot."""


# ------------------------------------------------------------------------ compute
def compute(platform: Platform, principal: Principal, *, days: int = TREND_DAYS
            ) -> Overview:
    """The tenant's figures, now (seconds at 1,000,000 devices: use ``OverviewCache``)."""
    require(principal, Permission.READ)
    tools = platform.compliance_tools()
    started = time.perf_counter()
    now = platform.now()
    with platform.uow(principal.tenant, False) as uow:
        groups = uow.overview.device_groups()
        sites = uow.overview.site_names()
        systems = uow.compliance.systems_of()
        members = uow.overview.device_groups_of(
            sorted({int(i) for s in systems for i in s["device_ids"]}))
        items = all_data_items(uow) if systems else []
        unregistered = uow.discovery.count_hosts(HostStatus.UNREGISTERED)
        respond = response_days(uow.tenant.settings)
        active = uow.findings.report("site", FindingQuery(limit=1), now, respond)
        overdue = uow.findings.report("site", FindingQuery(overdue=True, limit=1), now,
                                      respond)
        kev = uow.findings.report("site", FindingQuery(kev=True, limit=1), now, respond)
        history = uow.compliance.snapshots(now.date() - timedelta(days=days))
        taken_at = uow.overview.snapshot_taken_at(history[-1][0]) if history else None
    live = [g for g in groups if g.state != LifecycleState.DISPOSED.value]
    risk = _risk(live, members, systems, items, tools.threat_profiles())
    titles = {f.id: f.title for f in tools.frameworks()}
    return Overview(
        tenant=principal.tenant.name, as_of=now, seconds=time.perf_counter() - started,
        devices=sum(g.count for g in groups), live=sum(g.count for g in live),
        by_type=_tally(groups, lambda g: (g.device_type, g.device_type)),
        by_state=tuple(sorted(_tally(groups, lambda g: (g.state, g.state)),
                              key=lambda t: _state_rank(t.key))),
        by_site=_tally(groups, lambda g: ("", "No site") if g.site_id is None
                       else (str(g.site_id), sites.get(g.site_id, f"site {g.site_id}"))),
        unregistered=unregistered,
        # a device has one site, so distinct devices per site add up to distinct devices
        kev_devices=sum(int(r["devices"] or 0) for r in kev),
        priorities=tuple(PriorityTally(level, _sum(active, f"p{level}"),
                                       _sum(overdue, f"p{level}")) for level in (1, 2, 3, 4)),
        risk=tuple(Tally(level, level, risk.get(level, 0)) for level in RISK_LEVELS),
        snapshot=_snapshot(history, taken_at, titles))


def _sum(rows: Iterable[Mapping[str, Any]], column: str) -> int:
    return sum(int(r[column] or 0) for r in rows)


def _tally(groups: Iterable[DeviceGroup], key: Any) -> tuple[Tally, ...]:
    counts: Counter[tuple[str, str]] = Counter()
    for g in groups:
        counts[key(g)] += g.count
    return tuple(Tally(k, label, n) for (k, label), n in
                 sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][1])))


def _state_rank(state: str) -> int:
    order = [s.value for s in LifecycleState]
    return order.index(state) if state in order else len(order)


def _snapshot(history: Sequence[tuple[date, dict[str, float]]], taken_at: datetime | None,
              titles: Mapping[str, str]) -> Snapshot | None:
    if not history:
        return None
    day, latest = history[-1]
    previous = history[-2][1] if len(history) > 1 else {}
    compliance = tuple(
        FrameworkCompliance(fid, title, latest.get(f"compliance_{fid}"),
                            previous.get(f"compliance_{fid}"))
        for fid, title in titles.items())
    keyed = [(k, label, unit) for k, (label, unit) in TRENDS.items()]
    keyed += [(f"compliance_{fid}", f"{fid} compliance", "%") for fid in titles]
    trends = tuple(
        Trend(k, label, unit,
              tuple((d, float(v[k])) for d, v in history if v.get(k) is not None))
        for k, label, unit in keyed)
    return Snapshot(day, taken_at, compliance, trends)


# ------------------------------------------------------------------------- risk
_SystemContext = tuple[BusinessImpact | None, Classification | None]


def _risk(live: Sequence[DeviceGroup], members: Mapping[int, DeviceGroup],
          systems: Sequence[Mapping[str, Any]], items: Sequence[DataItem],
          profiles: Mapping[str, ThreatProfile]) -> Counter[str]:
    """Devices per inherent risk level: grouped by (type, criticality, zone) and, for
    members of IoT systems, by the set of their systems (business impact and data)."""
    counts: Counter[tuple[str, str, str | None, tuple[int, ...]]] = Counter()
    for g in live:
        counts[(g.device_type, g.criticality, g.zone, ())] += g.count
    of_device: dict[int, set[int]] = {}
    for s in systems:
        for did in s["device_ids"]:
            of_device.setdefault(int(did), set()).add(int(s["id"]))
    for did, in_systems in of_device.items():
        member = members.get(did)
        if member is None or member.state == LifecycleState.DISPOSED.value:
            continue
        base = (member.device_type, member.criticality, member.zone)
        counts[(*base, ())] -= 1
        counts[(*base, tuple(sorted(in_systems)))] += 1
    context = {int(s["id"]): _system_context(s, items) for s in systems}
    levels: Counter[str] = Counter()
    for (device_type, criticality, zone, sids), n in counts.items():
        if n <= 0:
            continue
        score = assess_risk(RiskInput(
            device_type=device_type, criticality=criticality, zone=zone,
            data_classification=highest(c for c in (context[s][1] for s in sids) if c),
            data_items=(),
            business_impact=tuple(b for b in (context[s][0] for s in sids) if b),
            open_services=None, checks=(), vulns_by_priority={}, kev=0, overdue=0),
            profile_for(profiles, device_type))
        levels[score.inherent_level] += n
    return levels


def _system_context(system: Mapping[str, Any], items: Sequence[DataItem]) -> _SystemContext:
    """The system's business impact (None when not assessed) and the highest
    classification of its data items and of every collection aggregating them."""
    in_scope = data_in_scope(items, {int(system["id"])})
    return system_impact(system), highest(x.classification for x in in_scope)


# ------------------------------------------------------------------------ snapshots
def latest_snapshot(platform: Platform, principal: Principal, *, days: int = TREND_DAYS
                    ) -> Snapshot | None:
    """What the daily summary snapshots of the last ``days`` say (compliance % per
    framework as of the latest, against the one before): a few rows, for pages that
    want those figures without the rest of the overview."""
    require(principal, Permission.READ)
    titles = {f.id: f.title for f in platform.compliance_tools().frameworks()}
    with platform.uow(principal.tenant, False) as uow:
        history = uow.compliance.snapshots(platform.now().date() - timedelta(days=days))
        taken_at = uow.overview.snapshot_taken_at(history[-1][0]) if history else None
    return _snapshot(history, taken_at, titles)


def daily_snapshot(platform: Platform, tenant: Tenant) -> bool:
    """Take the tenant's summary snapshot of today (UTC) unless there is one; True when
    it was taken. Minutes at 1,000,000 devices: for the background worker."""
    today = platform.now().date()
    with platform.uow(tenant, False) as uow:
        if uow.compliance.snapshots(today):
            return False
    summary_report(platform, Principal(tenant, WORKER_ACTOR, Role.VIEWER), days=1)
    return True


# ------------------------------------------------------------------------ the cache
def refresh_age(seconds: float, *, min_age: float = MIN_AGE, factor: float = AGE_FACTOR
                ) -> float:
    """How long figures that took ``seconds`` to compute are served before a refresh."""
    return max(min_age, factor * seconds)


@dataclass(frozen=True, slots=True)
class _Entry:
    overview: Overview
    expires: float
    """``time.monotonic()`` after which a request starts a refresh."""


class _Job:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: Exception | None = None


class OverviewCache:
    """Each tenant's latest figures in this process, refreshed in the background."""

    def __init__(self, *, min_age: float = MIN_AGE, factor: float = AGE_FACTOR,
                 first_wait: float = FIRST_WAIT) -> None:
        self._min_age = min_age
        self._factor = factor
        self._first_wait = first_wait
        self._lock = threading.Lock()
        self._entries: dict[int, _Entry] = {}
        self._jobs: dict[int, _Job] = {}

    def get(self, platform: Platform, principal: Principal) -> Overview | None:
        """The tenant's figures, perhaps a little old; None while the first are still
        being computed after ``first_wait`` seconds. A failure of the first computation
        is raised here; later failures are logged and the previous figures kept."""
        require(principal, Permission.READ)
        key = principal.tenant.id or 0
        with self._lock:
            entry = self._entries.get(key)
            job = self._jobs.get(key)
            if job is None and (entry is None or time.monotonic() >= entry.expires):
                job = self._start(platform, principal, key)
        if entry is not None:
            return entry.overview
        assert job is not None
        job.done.wait(self._first_wait)
        with self._lock:
            entry = self._entries.get(key)
        if entry is None and job.done.is_set() and job.error is not None:
            raise job.error
        return entry.overview if entry else None

    def _start(self, platform: Platform, principal: Principal, key: int) -> _Job:
        job = _Job()
        self._jobs[key] = job
        threading.Thread(target=self._refresh, args=(platform, principal, key, job),
                         name=f"overview-{key}", daemon=True).start()
        return job

    def _refresh(self, platform: Platform, principal: Principal, key: int, job: _Job) -> None:
        try:
            overview = compute(platform, principal)
            age = refresh_age(overview.seconds, min_age=self._min_age, factor=self._factor)
            with self._lock:
                self._entries[key] = _Entry(overview, time.monotonic() + age)
        except Exception as exc:  # noqa: BLE001 - raised to the waiting request
            job.error = exc
            log.exception("computing the overview of tenant %s failed", key)
        finally:
            with self._lock:
                self._jobs.pop(key, None)
            job.done.set()
