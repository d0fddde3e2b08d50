"""Compliance status per requirement, per device and for the estate; summary measures.

Each device's latest check results, the attestations and waivers that apply to it (its
own, its model's, the organisation's) go through ``domain.compliance.rollup``. Devices
whose results have the same statuses and the same attestations and waivers share a
verdict, so a report over 100,000 devices evaluates a few hundred distinct situations and
counts the rest; only the listed entries (bounded, worst first) are evaluated one by one.

Must not: list a requirement as passing because nothing was known about it.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fleetwarden.domain.compliance.catalogue import Framework, Requirement
from fleetwarden.domain.compliance.exceptions import Attestation, SubjectType, Waiver
from fleetwarden.domain.compliance.report import (
    ComplianceReport,
    Entry,
    EvidenceRecord,
    FrameworkResult,
    RequirementResult,
)
from fleetwarden.domain.compliance.results import Severity, Status
from fleetwarden.domain.compliance.rollup import CheckResult, Verdict, verdict
from fleetwarden.domain.compliance.summary import Measure, SummaryReport, TrendPoint
from fleetwarden.domain.findings import FindingQuery
from fleetwarden.domain.lifecycle import LifecycleState
from fleetwarden.domain.model import Device
from fleetwarden.domain.reconcile import HostStatus
from fleetwarden.domain.records import RecordKind
from fleetwarden.errors import InputError, NotFound
from fleetwarden.ports import ComplianceTools, DeviceQuery, UnitOfWork
from fleetwarden.services.assessment import TOOL
from fleetwarden.services.context import Permission, Platform, Principal, require
from fleetwarden.services.vulns import response_days

DEFAULT_ENTRY_LIMIT = 100
#: Statuses whose devices are listed under a requirement (MANUAL only on request: before
#: attestations it is most of the estate on most requirements, and the counts say so).
_LISTED = (Status.FAIL, Status.ERROR, Status.WAIVED)
_LISTED_WITH_MANUAL = (*_LISTED, Status.MANUAL)
_PROBE_NEEDS = {"services", "tls", "credentials"}


@dataclass(slots=True)
class _Raw:
    """One stored result kept for the evidence of a listed entry."""

    status: Status
    severity: Severity
    reason: str
    evidence: str
    assessed_at: datetime
    tool: str


_Applicable = tuple[dict[str, Attestation], dict[str, Waiver], dict[str, Waiver],
                    tuple[Any, ...]]


@dataclass(slots=True)
class _Exceptions:
    """Active attestations and waivers, indexed by what they apply to."""

    attest: dict[tuple[SubjectType, int], dict[str, Attestation]] = field(default_factory=dict)
    waive: dict[tuple[SubjectType, int | None], list[Waiver]] = field(default_factory=dict)

    def for_device(self, device: Device, tenant_id: int) -> _Applicable:
        """(attestation per requirement, waiver per check, waiver per requirement, key);
        the device's own beat its model's, which beat the organisation's."""
        layers = [(SubjectType.TENANT, tenant_id)]
        if device.model_id is not None:
            layers.append((SubjectType.MODEL, device.model_id))
        layers.append((SubjectType.DEVICE, device.id or 0))
        attest: dict[str, Attestation] = {}
        by_check: dict[str, Waiver] = {}
        by_req: dict[str, Waiver] = {}
        key: list[Any] = []
        for layer in layers:
            found = self.attest.get(layer)
            if found:
                attest.update(found)
                key.append(("a", layer))
            wl = self.waive.get(layer if layer[0] is not SubjectType.TENANT
                                else (SubjectType.TENANT, None))
            for w in wl or ():
                if w.check_id:
                    by_check[w.check_id] = w
                elif w.requirement_id:
                    by_req[w.requirement_id] = w
                key.append(("w", w.id))
        return attest, by_check, by_req, tuple(key)


def frameworks_for(tools: ComplianceTools, ids: Sequence[str]) -> list[Framework]:
    every = list(tools.frameworks())
    if not ids:
        return every
    known = {f.id: f for f in every}
    for i in ids:
        if i not in known:
            raise InputError(f"unknown framework {i!r}; known: {', '.join(sorted(known))}")
    return [known[i] for i in ids]


def compliance_report(platform: Platform, principal: Principal, *,
                      frameworks: Sequence[str] = (), site: str | None = None,
                      entry_limit: int = DEFAULT_ENTRY_LIMIT, list_manual: bool = False
                      ) -> ComplianceReport:
    """The report auditors read: every requirement of the chosen frameworks, its status
    over the devices in scope (every device not disposed, or one site's), with evidence.
    Devices are listed (worst first, ``entry_limit`` per requirement) when they FAIL, are
    in ERROR or WAIVED, and with ``list_manual`` also when MANUAL."""
    return _report(platform, principal, frameworks, site, entry_limit,
                   list_manual=list_manual)[0]


def _report(platform: Platform, principal: Principal, frameworks: Sequence[str],
            site: str | None, entry_limit: int, recent_since: datetime | None = None,
            list_manual: bool = False) -> tuple[ComplianceReport, _Builder]:
    require(principal, Permission.READ)
    if not 0 <= entry_limit <= 100_000:
        raise InputError("--entries must be 0..100000")
    tools = platform.compliance_tools()
    chosen = frameworks_for(tools, frameworks)
    req_checks = tools.requirement_checks()
    meta = {cid: c.meta for cid, c in tools.checks().items()}
    now = platform.now()
    with platform.uow(principal.tenant, False) as uow:
        site_id = _site_id(uow, site)
        exc = _exceptions(uow, now)
        head = uow.audit.head()
        builder = _Builder(chosen, req_checks, entry_limit, meta,
                           _LISTED_WITH_MANUAL if list_manual else _LISTED)
        builder.recent_since = recent_since
        tenant_id = uow.tenant.id or 0
        for device, raws in _with_results(uow, _devices(uow, site_id)):
            attest, wc, wr, key = exc.for_device(device, tenant_id)
            builder.add(device, raws, attest, wc, wr, key)
    report = ComplianceReport(
        tenant=principal.tenant.name, generated_at=now, generated_by=principal.actor,
        audit_head_seq=head.seq if head else 0, audit_head_hash=head.hash if head else "",
        tool=TOOL, device_count=builder.devices, frameworks=builder.result(), site=site,
        assessed_from=builder.oldest, assessed_to=builder.newest)
    return report, builder


def device_compliance(platform: Platform, principal: Principal, device_id: int, *,
                      frameworks: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every requirement's verdict for one device, with the check results behind it."""
    require(principal, Permission.READ)
    tools = platform.compliance_tools()
    chosen = frameworks_for(tools, frameworks)
    req_checks = tools.requirement_checks()
    now = platform.now()
    with platform.uow(principal.tenant, False) as uow:
        device = uow.devices.get(device_id)
        if device is None:
            raise NotFound(f"device {device_id} not found")
        raws = {r.check_id: _Raw(r.status, r.severity, r.reason, json.dumps(r.evidence),
                                 r.assessed_at, r.tool)
                for r in uow.compliance.results(device_id=device_id)}
        attest, wc, wr, _ = _exceptions(uow, now).for_device(device, uow.tenant.id or 0)
    results = _check_results(raws)
    out = []
    for f in chosen:
        for req in f.requirements:
            checks = req_checks.get(req.id, ())
            v = verdict(checks, results, attest.get(req.id), wc, wr.get(req.id))
            out.append({"requirement_id": req.id, "title": req.title, "group": req.group,
                        "mandatory": req.mandatory, "status": v.status.value,
                        "reason": v.reason, "decided_by": v.decided_by,
                        "check_id": v.check_id, "checks": list(checks),
                        "attestation_id": v.attestation_id, "waiver_id": v.waiver_id,
                        "assessed_at": raws[v.check_id].assessed_at.isoformat()
                        if v.check_id in raws else None})
    return out


# ------------------------------------------------------------------- building
class _Builder:
    def __init__(self, frameworks: Sequence[Framework], req_checks: Mapping[str, tuple[str, ...]],
                 limit: int, meta: Mapping[str, Any],
                 listed: tuple[Status, ...] = _LISTED) -> None:
        self.listed = listed
        self.frameworks = frameworks
        self.reqs: list[Requirement] = [r for f in frameworks for r in f.requirements]
        self.checks = [tuple(req_checks.get(r.id, ())) for r in self.reqs]
        self.limit = limit
        self.meta = meta
        self.counts = [dict.fromkeys(Status, 0) for _ in self.reqs]
        self.kept: list[list[tuple[tuple[int, int], int, Entry]]] = [[] for _ in self.reqs]
        """Per requirement, a min-heap of the worst entries so far: ((status rank,
        severity rank), -device id, entry); its root is the least bad one kept."""
        self.cache: dict[tuple[Any, ...],
                         tuple[list[Status], list[tuple[int, tuple[int, int]]]]] = {}
        self.saturated: set[tuple[Any, ...]] = set()
        self.devices = 0
        self.recent_since: datetime | None = None
        self.recent = 0
        self.oldest: datetime | None = None
        self.newest: datetime | None = None

    def add(self, device: Device, raws: Mapping[str, _Raw], attest: Mapping[str, Attestation],
            wc: Mapping[str, Waiver], wr: Mapping[str, Waiver], key: tuple[Any, ...]) -> None:
        self.devices += 1
        if self.recent_since and any(r.assessed_at >= self.recent_since for r in raws.values()):
            self.recent += 1
        for r in raws.values():
            if self.oldest is None or r.assessed_at < self.oldest:
                self.oldest = r.assessed_at
            if self.newest is None or r.assessed_at > self.newest:
                self.newest = r.assessed_at
        sig = (tuple(sorted((c, r.status, r.severity) for c, r in raws.items())), key)
        cached = self.cache.get(sig)
        results = None
        if cached is None:
            results = _check_results(raws)
            verdicts = [verdict(checks, results, attest.get(req.id), wc, wr.get(req.id))
                        for req, checks in zip(self.reqs, self.checks, strict=True)]
            listed = [(i, (v.status.rank, v.severity.rank if v.severity else -1))
                      for i, v in enumerate(verdicts) if v.status in self.listed]
            cached = ([v.status for v in verdicts], listed)
            self.cache[sig] = cached
        statuses, listed = cached
        for i, s in enumerate(statuses):
            self.counts[i][s] += 1
        if sig in self.saturated or self.limit == 0:
            return
        results = results or _check_results(raws)
        did = device.id or 0
        hopeless = True
        for i, rank in listed:
            kept = self.kept[i]
            # devices come in id order, so an equal rank never displaces an earlier device
            if len(kept) >= self.limit and kept[0][0] >= rank:
                continue
            hopeless = False
            req = self.reqs[i]
            v = verdict(self.checks[i], results, attest.get(req.id), wc, wr.get(req.id))
            item = (rank, -did, self._entry(device, v, raws, attest.get(req.id), wc,
                                            wr.get(req.id)))
            if len(kept) < self.limit:
                heapq.heappush(kept, item)
            else:
                heapq.heapreplace(kept, item)
        if hopeless:
            self.saturated.add(sig)

    def _entry(self, device: Device, v: Verdict, raws: Mapping[str, _Raw],
               a: Attestation | None, wc: Mapping[str, Waiver], wr: Waiver | None) -> Entry:
        evidence: list[EvidenceRecord] = []
        raw = raws.get(v.check_id or "")
        if raw is not None and v.check_id:
            needs = set(getattr(self.meta.get(v.check_id), "needs", ()))
            evidence.append(EvidenceRecord(
                kind="check", summary=f"{v.check_id}: {raw.status} - {raw.reason}",
                method="automated-probe" if needs & _PROBE_NEEDS else "register",
                tool=raw.tool, collected_at=raw.assessed_at, details=json.loads(raw.evidence)))
        if a is not None and v.attestation_id == a.id:
            evidence.append(EvidenceRecord(
                kind="attestation", summary=a.statement, method=f"attestation ({a.method})",
                collected_at=a.attested_at, expires_at=a.expires_at, by=a.attested_by,
                files=tuple((f.name, f.sha256) for f in a.files)))
        for w in (wc.get(v.check_id or ""), wr):
            if w is not None and w.id == v.waiver_id:
                evidence.append(EvidenceRecord(
                    kind="waiver", summary=w.justification, method="waiver",
                    collected_at=w.created_at, expires_at=w.expires_at,
                    by=f"{w.requested_by}, approved by {w.approver}"))
        return Entry(subject_type="device", subject_id=device.id or 0,
                     subject_name=device.name, status=v.status, reason=v.reason,
                     ip=device.ip_addresses[0] if device.ip_addresses else None,
                     site=device.site, check_id=v.check_id, severity=v.severity,
                     evidence=tuple(evidence))

    def result(self) -> tuple[FrameworkResult, ...]:
        out = []
        i = 0
        for f in self.frameworks:
            rows = []
            for req in f.requirements:
                counts = self.counts[i]
                top = max((s for s, n in counts.items() if n), key=lambda s: s.rank,
                          default=Status.MANUAL)
                cands = sorted(self.kept[i], key=lambda c: (c[0], c[1]), reverse=True)
                non_pass = sum(counts[s] for s in self.listed)
                rows.append(RequirementResult(
                    requirement_id=req.id, title=req.title, group=req.group,
                    reference=req.reference, mandatory=req.mandatory, status=top,
                    counts=dict(counts), checks=self.checks[i],
                    entries=tuple(c[2] for c in cands),
                    entries_omitted=max(0, non_pass - len(cands))))
                i += 1
            out.append(FrameworkResult(id=f.id, title=f.title, version=f.version,
                                       source=f.source, requirements=tuple(rows)))
        return tuple(out)


def _check_results(raws: Mapping[str, _Raw]) -> dict[str, CheckResult]:
    return {c: CheckResult(c, r.status, r.severity, r.reason) for c, r in raws.items()}


def _site_id(uow: UnitOfWork, site: str | None) -> int | None:
    if site is None:
        return None
    record = uow.records.by_name(RecordKind.SITE, site)
    if record is None or record.id is None:
        raise NotFound(f"site {site!r} not found")
    return record.id


def _devices(uow: UnitOfWork, site_id: int | None) -> Iterator[Device]:
    for d in uow.devices.iterate(DeviceQuery(site_id=site_id)):
        if d.lifecycle_state is not LifecycleState.DISPOSED:
            yield d


def _with_results(uow: UnitOfWork, devices: Iterator[Device]
                  ) -> Iterator[tuple[Device, dict[str, _Raw]]]:
    """Each device with its stored results, merging two id-ordered streams."""
    stream = uow.compliance.stream_results()
    try:
        pending = next(stream, None)
        for d in devices:
            did = d.id or 0
            raws: dict[str, _Raw] = {}
            while pending is not None and pending[0] < did:
                pending = next(stream, None)
            while pending is not None and pending[0] == did:
                _, check, status, severity, reason, evidence, at, tool = pending
                raws[check] = _Raw(Status(status), Severity(severity), reason, evidence,
                                   _aware(at), tool)
                pending = next(stream, None)
            yield d, raws
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _exceptions(uow: UnitOfWork, now: datetime) -> _Exceptions:
    exc = _Exceptions()
    for a in uow.compliance.attestations(active_at=now):
        exc.attest.setdefault((a.subject_type, a.subject_id), {})[a.requirement_id] = a
    for w in uow.compliance.waivers(active_at=now):
        sid = None if w.subject_type is SubjectType.TENANT else w.subject_id
        exc.waive.setdefault((w.subject_type, sid), []).append(w)
    return exc


# ---------------------------------------------------------------------- summary
def summary_report(platform: Platform, principal: Principal, *, days: int = 90
                   ) -> SummaryReport:
    """The measurables for cyber management reporting (R17), with trends: today's values
    are stored as the day's snapshot, earlier snapshots give the trend."""
    require(principal, Permission.READ)
    if not 1 <= days <= 3660:
        raise InputError("--days must be 1..3660")
    now = platform.now()
    values, labels = _measures(platform, principal, now)
    with platform.uow(principal.tenant, True) as uow:
        uow.compliance.put_snapshot(now.date(), values, now)
        history = uow.compliance.snapshots(now.date() - timedelta(days=days))
        head = uow.audit.head()
        uow.commit()
    earlier = [v for d, v in history if d < now.date()]
    previous = earlier[-1] if earlier else {}
    measures = tuple(Measure(key=k, label=labels[k][0], value=values.get(k),
                             unit=labels[k][1], previous=previous.get(k), better=labels[k][2])
                     for k in labels)
    return SummaryReport(
        tenant=principal.tenant.name, generated_at=now, generated_by=principal.actor,
        audit_head_seq=head.seq if head else 0, audit_head_hash=head.hash if head else "",
        tool=TOOL, measures=measures,
        trend=tuple(TrendPoint(at=d, values=v) for d, v in history))


def _measures(platform: Platform, principal: Principal, now: datetime
              ) -> tuple[dict[str, float], dict[str, tuple[str, str, str]]]:
    labels: dict[str, tuple[str, str, str]] = {
        "devices_total": ("Devices in the register (not disposed)", "devices", "up"),
        "devices_unregistered": ("Unregistered devices seen on the network", "devices", "down"),
        "devices_kev": ("Devices with a known-exploited vulnerability", "devices", "down"),
        "findings_p1": ("Open P1 vulnerability findings", "findings", "down"),
        "findings_p2": ("Open P2 vulnerability findings", "findings", "down"),
        "findings_overdue": ("Findings past their due date", "findings", "down"),
        "checks_failed": ("Failed compliance checks", "findings", "down"),
        "devices_assessed_30d": ("Devices assessed in the last 30 days", "%", "up"),
    }
    report, builder = _report(platform, principal, (), None, 0,
                              recent_since=now - timedelta(days=30))
    values: dict[str, float] = {"devices_total": report.device_count}
    with platform.uow(principal.tenant, False) as uow:
        days = response_days(uow.tenant.settings)
        values["devices_unregistered"] = uow.discovery.count_hosts(HostStatus.UNREGISTERED)
        rows = uow.findings.report("site", FindingQuery(limit=1), now, days)
        values["findings_p1"] = sum(int(r["p1"] or 0) for r in rows)
        values["findings_p2"] = sum(int(r["p2"] or 0) for r in rows)
        values["findings_overdue"] = sum(int(r["overdue"] or 0) for r in rows)
        # a device has one site, so distinct devices per site add up to distinct devices
        kev = uow.findings.report("site", FindingQuery(kev=True, limit=1), now, days)
        values["devices_kev"] = sum(int(r["devices"] or 0) for r in kev)
        values["checks_failed"] = uow.compliance.result_counts().get(Status.FAIL.value, 0)
    values["devices_assessed_30d"] = (round(100.0 * builder.recent / builder.devices, 1)
                                      if builder.devices else 0.0)
    for f in report.frameworks:
        key = f"compliance_{f.id}"
        labels[key] = (f"Compliance with {f.id} (device-requirement pairs met)", "%", "up")
        pct = f.compliance_percent
        if pct is not None:
            values[key] = pct
    return values, labels
