"""Compliance assessment: look at devices, run every check, keep the results (R8, R9).

An assessment is a discovery run (same targets, scope rules and audit) followed by the
deeper probes discovery does not make: a full TLS scan of every TLS service and, only on
segments where the tenant authorised it, a few well-known default credentials. The facts
gathered per device, with its register record and vulnerability findings, go through
every check plug-in; each device's results replace its earlier ones in one transaction
with the assessment's audit event. ``--no-probe`` assesses from the latest discovery
observations instead and sends nothing.

Must not: probe outside the tenant's scope (discovery refuses it first), try credentials
where the tenant has not authorised it, or keep a password anywhere.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fleetwarden import __version__
from fleetwarden.checks import Check, run_checks
from fleetwarden.domain.compliance.facts import (
    CredentialTest,
    DeviceFacts,
    TlsScan,
    VulnSummary,
)
from fleetwarden.domain.compliance.records import DeviceContext, NewResult, StoredResult
from fleetwarden.domain.compliance.results import Outcome
from fleetwarden.domain.discovery import ServiceObservation
from fleetwarden.domain.findings import FindingQuery
from fleetwarden.domain.inventory import DiscoveredHost, service_from_view
from fleetwarden.domain.model import Device
from fleetwarden.errors import InputError, NotFound
from fleetwarden.ports import (
    AssessProgress,
    ComplianceTools,
    DeviceQuery,
    ScanOptions,
    UnitOfWork,
)
from fleetwarden.services import audit
from fleetwarden.services.context import Permission, Platform, Principal, require
from fleetwarden.services.discovery import DiscoverRequest, discover
from fleetwarden.services.vulns import response_days

TOOL = f"fleetwarden {__version__}"
#: Services whose TLS is scanned in depth (besides any service discovery saw TLS on).
TLS_SERVICES = frozenset({"https", "mqtts", "rtsps", "ftps", "imaps", "ldaps", "sips"})
#: Vulnerability ids kept in a check's evidence (the count is exact).
MAX_IDS = 20
#: Devices assessed per transaction when an assessment covers a whole segment or more.
BATCH = 2000


@dataclass(frozen=True, slots=True)
class AssessRequest:
    targets: tuple[str, ...] = ()
    device_id: int | None = None
    segment: str | None = None
    frameworks: tuple[str, ...] = ()
    """Only run checks mapped to these frameworks (empty: every check)."""
    options: ScanOptions = field(default_factory=lambda: ScanOptions(udp=True))
    probe: bool = True
    """False: use the latest discovery observations, send nothing."""
    tls: bool = True
    credentials: bool = True
    """Try default credentials where the tenant authorised it (never elsewhere)."""
    allow_outside_scope: bool = False


@dataclass(frozen=True, slots=True)
class AssessmentRun:
    id: int
    scan_id: int | None
    findings: list[dict[str, Any]]
    """The ``assess --format json`` contract, one object per (subject, check)."""
    counts: Mapping[str, int]
    devices: int
    unregistered: int
    warnings: tuple[str, ...] = ()


@dataclass(slots=True)
class _Subject:
    """One assessed thing: a registered device, an unregistered host, or both."""

    ip: str | None
    device: Device | None = None
    host_id: int | None = None
    vendor: str | None = None
    services: tuple[ServiceObservation, ...] | None = None


def assess(platform: Platform, principal: Principal, request: AssessRequest, *,
           progress: AssessProgress | None = None,
           on_start: Callable[[int], None] | None = None) -> AssessmentRun:
    """Run one assessment (see the module). ``on_start`` gets the run's id once the scope
    is checked and the start audited, before any packet: the API answers 202 then."""
    require(principal, Permission.WRITE)
    if request.allow_outside_scope:
        require(principal, Permission.ADMIN)
    tools = platform.compliance_tools()
    checks = _selected_checks(platform, request.frameworks)
    scope_devices, targets = _scope(platform, principal, request)
    shown = list(targets) or ([f"device:{request.device_id}"] if request.device_id else [])
    if request.segment:
        shown.append(f"segment:{request.segment}")
    options = {"probe": request.probe, "tls": request.tls, "credentials": request.credentials,
               "frameworks": list(request.frameworks), "ports": request.options.ports,
               "udp": request.options.udp, "profile": request.options.profile}
    with platform.uow(principal.tenant, True) as uow:
        run_id = uow.compliance.add_assessment(actor=principal.actor, targets=shown,
                                               options=options, tool=TOOL,
                                               started_at=platform.now())
        audit.record(platform, uow, principal.actor, "compliance.assessment.start",
                     "assessment", run_id, after={"targets": shown[:64], "options": options})
        uow.commit()
    if on_start is not None:
        on_start(run_id)
    try:
        return _run(platform, principal, request, run_id, checks, scope_devices, targets,
                    tools, progress)
    except BaseException as exc:  # Ctrl-C too: an assessment never stays "running"
        with platform.uow(principal.tenant, True) as uow:
            message = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            uow.compliance.finish_assessment(run_id, status="failed",
                                             finished_at=platform.now(), summary={},
                                             error=message)
            audit.record(platform, uow, principal.actor, "compliance.assessment.failed",
                         "assessment", run_id, after={"error": message})
            uow.commit()
        raise


def _run(platform: Platform, principal: Principal, request: AssessRequest, run_id: int,
         checks: Sequence[Check], scope_devices: list[Device], targets: tuple[str, ...],
         tools: ComplianceTools, progress: AssessProgress | None) -> AssessmentRun:
    scan_id = None
    warnings: list[str] = []
    if request.probe:
        report = discover(
            platform, principal,
            DiscoverRequest(targets=targets, segment=request.segment, options=request.options,
                            allow_outside_scope=request.allow_outside_scope),
            progress=(lambda done, total, _found: progress("scan", done, total))
            if progress else None)
        scan_id = report.scan.id
        warnings += report.warnings
        subjects = _from_report(platform, principal, report.hosts, scope_devices)
    else:
        subjects = _from_store(platform, principal, scope_devices)
    tls = _tls(tools, subjects, progress) if request.probe and request.tls else {}
    creds = (_credentials(platform, principal, tools, subjects, progress)
             if request.probe and request.credentials else {})
    now = platform.now()
    results: list[NewResult] = []
    contract: list[dict[str, Any]] = []
    mapping = _requirements_by_check(tools)
    with platform.uow(principal.tenant, True) as uow:
        facts_of = _Facts(uow, principal, subjects, tls, creds, now, probed=request.probe)
        for i, s in enumerate(subjects, 1):
            facts = facts_of.build(s)
            for check, outcome in _run_checks(checks, facts):
                results.append(NewResult(
                    device_id=facts.device_id, host_id=s.host_id if not s.device else None,
                    ip=s.ip, check_id=check.meta.id, status=outcome.status,
                    severity=check.meta.severity, reason=outcome.reason,
                    evidence=outcome.evidence))
                contract.append(_finding(facts, check, outcome, mapping, request.frameworks))
            if progress and (i % 50 == 0 or i == len(subjects)):
                progress("checks", i, len(subjects))
        device_ids = [s.device.id for s in subjects if s.device and s.device.id]
        host_ids = [s.host_id for s in subjects if not s.device and s.host_id]
        uow.compliance.replace_results(device_ids=device_ids, host_ids=host_ids,
                                       results=results, assessment_id=run_id, tool=TOOL,
                                       at=now)
        counts = dict(Counter(r.status.value for r in results))
        summary = {"devices": len(device_ids), "unregistered": len(host_ids),
                   "results": len(results), "counts": counts, "scan_id": scan_id,
                   "digest": _digest(results)}
        uow.compliance.finish_assessment(run_id, status="done", finished_at=platform.now(),
                                         summary=summary, scan_id=scan_id)
        audit.record(platform, uow, principal.actor, "compliance.assessment.done",
                     "assessment", run_id, after=summary)
        uow.commit()
    return AssessmentRun(run_id, scan_id, contract, counts, len(device_ids), len(host_ids),
                         tuple(warnings))


def recent_runs(platform: Platform, principal: Principal, limit: int = 50
                ) -> list[dict[str, Any]]:
    """The tenant's latest assessment runs, newest first, with their counts."""
    require(principal, Permission.READ)
    with platform.uow(principal.tenant, False) as uow:
        return uow.compliance.assessments(max(1, min(limit, 1000)))


def device_results(platform: Platform, principal: Principal, device_id: int
                   ) -> list[StoredResult]:
    """The latest result of every check on one device."""
    require(principal, Permission.READ)
    with platform.uow(principal.tenant, False) as uow:
        if uow.devices.get(device_id) is None:
            raise NotFound(f"device {device_id} not found")
        return uow.compliance.results(device_id=device_id)


# --------------------------------------------------------------------- scope
def _scope(platform: Platform, principal: Principal, request: AssessRequest
           ) -> tuple[list[Device], tuple[str, ...]]:
    """Registered devices the request names (assessed even when silent) and targets."""
    given = [x for x in (request.targets, request.device_id, request.segment) if x]
    if not given:
        raise InputError("nothing to assess: give TARGET..., --device ID or --segment NAME")
    if len(given) > 1:
        raise InputError("give one of TARGET..., --device or --segment, not several")
    with platform.uow(principal.tenant, False) as uow:
        if request.device_id is not None:
            device = uow.devices.get(request.device_id)
            if device is None:
                raise NotFound(f"device {request.device_id} not found")
            ips = tuple(ip for ip in device.ip_addresses if _is_ipv4(ip))
            if request.probe and not ips:
                raise InputError(f"device {device.id} ({device.name}) has no IPv4 address to "
                                 "probe: add one, or assess from stored observations with "
                                 "--no-probe")
            return [device], ips
        if request.segment is not None:
            seg = uow.discovery.segment_cidrs().get(request.segment)
            if seg is None:
                raise NotFound(f"segment {request.segment!r} not found")
            return list(uow.devices.iterate(DeviceQuery(segment_id=seg[0]))), ()
    if not request.probe:
        raise InputError("--no-probe assesses registered devices: give --device or --segment")
    return [], tuple(request.targets)


def _selected_checks(platform: Platform, frameworks: Sequence[str]) -> list[Check]:
    tools = platform.compliance_tools()
    every = tools.checks()
    if not frameworks:
        return list(every.values())
    known = {f.id for f in tools.frameworks()}
    for f in frameworks:
        if f not in known:
            raise InputError(f"unknown framework {f!r}; known: {', '.join(sorted(known))}")
    wanted = {c for rid, cs in tools.requirement_checks().items()
              if rid.split("/", 1)[0] in frameworks for c in cs}
    return [c for cid, c in every.items() if cid in wanted]


def _requirements_by_check(tools: ComplianceTools) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for rid, cs in tools.requirement_checks().items():
        for c in cs:
            out.setdefault(c, []).append(rid)
    return {c: sorted(r) for c, r in out.items()}


def _is_ipv4(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 4
    except ValueError:
        return False


# ------------------------------------------------------------------- subjects
def _from_report(platform: Platform, principal: Principal, hosts: Sequence[Mapping[str, Any]],
                 scope_devices: Sequence[Device]) -> list[_Subject]:
    ids = {h["inventory"]["device_id"] for h in hosts if h["inventory"].get("device_id")}
    with platform.uow(principal.tenant, False) as uow:
        found = uow.devices.get_many(ids) if ids else {}
    subjects: list[_Subject] = []
    seen: set[int] = set()
    for h in hosts:
        inv = h["inventory"]
        if inv.get("status") == "missing":
            continue
        device = found.get(inv.get("device_id") or -1)
        if device is not None:
            if device.id in seen:
                continue
            seen.add(device.id or 0)
        fp = h.get("fingerprint") or {}
        subjects.append(_Subject(
            ip=h.get("ip"), device=device, host_id=inv.get("host_id"),
            vendor=(device.vendor if device else None) or fp.get("vendor"),
            services=tuple(service_from_view(v) for v in h.get("services") or ())))
    # Devices in scope that did not answer are assessed on what the register knows.
    subjects += [_Subject(ip=d.ip_addresses[0] if d.ip_addresses else None, device=d,
                          vendor=d.vendor) for d in scope_devices if d.id not in seen]
    return subjects


def _from_store(platform: Platform, principal: Principal, scope_devices: Sequence[Device]
                ) -> list[_Subject]:
    with platform.uow(principal.tenant, False) as uow:
        hosts: dict[int, DiscoveredHost] = {}
        for h in uow.discovery.hosts_of_devices([d.id for d in scope_devices if d.id]):
            if h.device_id is not None and (
                    h.device_id not in hosts or _newer(h, hosts[h.device_id])):
                hosts[h.device_id] = h
    out = []
    for d in scope_devices:
        latest = hosts.get(d.id or 0)
        out.append(_Subject(
            ip=(latest.ip if latest else None) or (d.ip_addresses[0] if d.ip_addresses
                                                   else None),
            device=d, host_id=latest.id if latest else None,
            vendor=d.vendor or (latest.vendor if latest else None),
            services=tuple(service_from_view(v) for v in latest.services) if latest else None))
    return out


def _newer(a: DiscoveredHost, b: DiscoveredHost) -> bool:
    """Whether ``a`` is the later sighting (hosts never seen rank first by id)."""
    if a.last_seen and b.last_seen:
        return a.last_seen > b.last_seen
    return bool(a.last_seen) or (not b.last_seen and (a.id or 0) > (b.id or 0))


# --------------------------------------------------------------------- probes
def _tls(tools: ComplianceTools, subjects: Sequence[_Subject],
         progress: AssessProgress | None
         ) -> dict[tuple[str, int], TlsScan]:
    targets = sorted({(s.ip, v.port, v.service) for s in subjects if s.ip and s.services
                      for v in s.services
                      if v.transport == "tcp" and (v.tls is not None or v.service in TLS_SERVICES)})
    if not targets:
        return {}
    return tools.scan_tls(
        targets, progress=(lambda d, t: progress("tls", d, t)) if progress else None)


def _credentials(platform: Platform, principal: Principal, tools: ComplianceTools,
                 subjects: Sequence[_Subject], progress: AssessProgress | None
                 ) -> dict[str, CredentialTest]:
    allowed = _authorised_networks(platform, principal)
    hosts = [(s.ip, s.vendor, s.services) for s in subjects if s.ip and s.services]
    if not hosts:
        return {}

    def authorised(ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in allowed)

    return tools.test_credentials(
        hosts, authorised=authorised,
        progress=(lambda d, t: progress("credentials", d, t)) if progress else None)


def _authorised_networks(platform: Platform, principal: Principal
                         ) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    with platform.uow(principal.tenant, False) as uow:
        # the stored settings, not the principal's copy (an API principal is cached)
        names = set(uow.tenant.settings.credential_test_segments)
        segs = uow.discovery.segment_cidrs()
    return [ipaddress.ip_network(c, strict=False) for name, (_, cidrs) in segs.items()
            if name in names for c in cidrs]


# ---------------------------------------------------------------------- facts
class _Facts:
    """Builds each subject's DeviceFacts, reading register facts in a few batched queries."""

    def __init__(self, uow: UnitOfWork, principal: Principal, subjects: Sequence[_Subject],
                 tls: Mapping[tuple[str, int], TlsScan], creds: Mapping[str, CredentialTest],
                 now: datetime, *, probed: bool) -> None:
        self.uow, self.now, self.tls, self.creds, self.probed = uow, now, tls, creds, probed
        settings = uow.tenant.settings
        self.settings = settings
        self.days = response_days(settings)
        ids = [s.device.id for s in subjects if s.device and s.device.id]
        self.context: dict[int, DeviceContext] = uow.compliance.device_context(ids)
        self.cert_peers, self.key_peers = _peers(uow, subjects)

    def build(self, s: _Subject) -> DeviceFacts:
        d = s.device
        ctx = self.context.get(d.id or 0) if d else None
        services = s.services if s.services is not None else None
        tls = None
        if services is not None and self.tls:
            tls = tuple(self.tls[(s.ip or "", v.port)] for v in services
                        if (s.ip or "", v.port) in self.tls)
        return DeviceFacts(
            now=self.now, ip=s.ip, device_id=d.id if d else None, host_id=s.host_id,
            device_name=d.name if d else None,
            device_type=d.device_type.value if d else None,
            vendor=s.vendor, model=d.model if d else None,
            firmware_version=d.firmware_version if d else None,
            lifecycle_state=d.lifecycle_state.value if d else None,
            segment=ctx.segment if ctx else None, probed=self.probed and services is not None,
            services=services, tls_scans=tls, credentials=self.creds.get(s.ip or ""),
            certificate_peers=self._peer_counts(s, self.cert_peers, "sha256"),
            public_key_peers=self._peer_counts(s, self.key_peers, "public_key_sha256"),
            approved_services=ctx.approved_services if ctx else None,
            vulns=self._vulns(d, ctx) if d and ctx else None,
            firmware_updated=ctx.firmware_updated_at.date()
            if ctx and ctx.firmware_updated_at else None,
            end_of_support=ctx.end_of_support if ctx else None,
            update_max_age_days=self.settings.update_max_age_days,
            cert_expiry_warning_days=self.settings.cert_expiry_warning_days)

    @staticmethod
    def _peer_counts(s: _Subject, peers: Mapping[str, set[str]], attr: str) -> dict[str, int]:
        me = _subject_key(s)
        out = {}
        for v in s.services or ():
            cert = v.tls.certificate if v.tls else None
            value = getattr(cert, attr, None) if cert else None
            if value:
                out[value] = len(peers.get(value, set()) - {me})
        return out

    def _vulns(self, d: Device, ctx: DeviceContext) -> VulnSummary:
        if not ctx.has_sbom:
            return VulnSummary(has_sbom=False)
        kev = self.uow.findings.findings(FindingQuery(device_id=d.id, kev=True, limit=MAX_IDS),
                                         self.now, self.days)
        overdue = self.uow.findings.findings(
            FindingQuery(device_id=d.id, priorities=(1, 2), overdue=True, limit=MAX_IDS),
            self.now, self.days)
        return VulnSummary(has_sbom=True,
                           kev=tuple(sorted({r["vulnerability_id"] for r in kev})),
                           overdue_p1_p2=tuple(sorted({r["vulnerability_id"] for r in overdue})))


def _subject_key(s: _Subject) -> str:
    if s.device is not None:
        return f"d{s.device.id}"
    return f"h{s.host_id}" if s.host_id else f"ip{s.ip}"


def _peers(uow: UnitOfWork, subjects: Sequence[_Subject]
           ) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Who presents each certificate and each public key: this run's subjects plus every
    stored host of the tenant that presents one of the same certificates."""
    certs: dict[str, set[str]] = {}
    keys: dict[str, set[str]] = {}

    def add(who: str, services: Iterable[ServiceObservation]) -> None:
        for v in services:
            c = v.tls.certificate if v.tls else None
            if c is None:
                continue
            if c.sha256:
                certs.setdefault(c.sha256, set()).add(who)
            if c.public_key_sha256:
                keys.setdefault(c.public_key_sha256, set()).add(who)

    for s in subjects:
        add(_subject_key(s), s.services or ())
    if certs:
        for h in uow.discovery.hosts_with_certificates(sorted(certs)):
            who = f"d{h.device_id}" if h.device_id else f"h{h.id}"
            add(who, (service_from_view(v) for v in h.services))
    return certs, keys


# ------------------------------------------------------------------- outcomes
def _run_checks(checks: Sequence[Check], facts: DeviceFacts) -> list[tuple[Check, Outcome]]:
    return run_checks(facts, checks)


def _finding(facts: DeviceFacts, check: Check, outcome: Outcome,
             mapping: Mapping[str, list[str]], frameworks: Sequence[str]) -> dict[str, Any]:
    reqs = mapping.get(check.meta.id, [])
    if frameworks:
        reqs = [r for r in reqs if r.split("/", 1)[0] in frameworks]
    return {"device_id": facts.device_id, "host_id": facts.host_id if not facts.device_id
            else None, "device_name": facts.device_name, "ip": facts.ip,
            "check_id": check.meta.id, "title": check.meta.title,
            "status": outcome.status.value, "severity": check.meta.severity.value,
            "requirements": reqs, "evidence": dict(outcome.evidence), "reason": outcome.reason}


def _digest(results: Sequence[NewResult]) -> str:
    """SHA-256 over the stored results: the audit event pins exactly what was kept."""
    h = hashlib.sha256()
    for r in results:
        h.update(json.dumps([r.device_id, r.host_id, r.check_id, r.status.value, r.reason,
                             r.evidence], sort_keys=True, default=str).encode())
    return h.hexdigest()

