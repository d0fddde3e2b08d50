"""Discovery use case: scan or read, fingerprint, reconcile with the register (R4).

One run: check the targets against the tenant's scope (its segments), audit the start,
scan and read files outside any transaction, then reconcile every host in one
transaction that also writes the alerts and audit events. ``register=False`` runs the
same reconciliation and rolls it back, so ``--no-register`` reports exactly what a real
run would have done; only the scan record and its audit event are kept.

Must not: open sockets or files itself (``DiscoveryTools`` does), or touch another
tenant's hosts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from fleetwarden.domain.discovery import HostObservation, Source
from fleetwarden.domain.fingerprint import Fingerprint
from fleetwarden.domain.inventory import (
    SEVERITY,
    Alert,
    AlertKind,
    DiscoveredHost,
    ScanRecord,
    fingerprint_view,
    service_view,
)
from fleetwarden.domain.lifecycle import ACTIVE_STATES
from fleetwarden.domain.model import Device
from fleetwarden.domain.reconcile import (
    Change,
    HostStatus,
    KnownHost,
    Match,
    Outcome,
    ServiceKey,
    Sighting,
    Strength,
    changes,
    group_observations,
    match,
    outcome,
    sighting,
)
from fleetwarden.domain.scope import Range, cidr_ranges, contains, describe, outside
from fleetwarden.domain.software_names import components_from_software
from fleetwarden.errors import InputError, NotFound, PermissionDenied
from fleetwarden.ports import ReadProgress, ScanOptions, ScanProgress, UnitOfWork
from fleetwarden.services import audit
from fleetwarden.services.context import Permission, Platform, Principal, require
from fleetwarden.services.matching import rematch_subject

#: Addresses beyond which a scan does not look for missing devices address by address.
MAX_MISSING_CHECK = 262_144
#: Device ids kept in one scan's "seen" audit event (the count is always exact).
MAX_SEEN_IDS = 100_000


@dataclass(frozen=True, slots=True)
class DiscoverRequest:
    targets: tuple[str, ...] = ()
    """Addresses, CIDRs or ranges to scan actively."""
    segment: str | None = None
    """Scan this segment's CIDRs (when no targets) and file new hosts under it."""
    options: ScanOptions = field(default_factory=ScanOptions)
    files: tuple[tuple[Source, str], ...] = ()
    """Passive sources to read: (pcap | nmap_xml | dhcp_leases | arp_table, path)."""
    register: bool = True
    allow_outside_scope: bool = False
    schedule_id: int | None = None


@dataclass(frozen=True, slots=True)
class DiscoveryReport:
    scan: ScanRecord
    hosts: list[dict[str, Any]]
    """One object per host in the ``discover --format json`` contract, by address."""
    warnings: tuple[str, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------------- scope
def check_scope(uow: UnitOfWork, ranges: Sequence[Range], *, allow_outside: bool
                ) -> list[Range]:
    """The parts of ``ranges`` outside the tenant's segments; refused unless allowed."""
    allowed = cidr_ranges(c for _, cidrs in uow.discovery.segment_cidrs().values()
                          for c in cidrs)
    left = outside(ranges, allowed)
    if left and not allow_outside:
        more = f" (and {len(left) - 1} more range(s))" if len(left) > 1 else ""
        raise PermissionDenied(
            f"{describe(left[0])}{more} is outside the scan scope of tenant "
            f"{uow.tenant.name!r} (its segments' CIDRs): add a segment covering it, or pass "
            "--allow-outside-scope")
    return left


# ------------------------------------------------------------------------ the run
def discover(platform: Platform, principal: Principal, request: DiscoverRequest, *,
             progress: ScanProgress | None = None,
             read_progress: ReadProgress | None = None,
             on_start: Callable[[ScanRecord], None] | None = None) -> DiscoveryReport:
    """Run one discovery (active, passive or both) and reconcile it (see the module).

    ``on_start`` is called with the scan record once the scope is checked and the start
    audited (before any packet is sent): the API answers 202 with its id then.
    """
    require(principal, Permission.WRITE)
    if request.allow_outside_scope:
        require(principal, Permission.ADMIN)
    tools = platform.tools()
    targets = tuple(request.targets)
    with platform.uow(principal.tenant, False) as uow:
        segment_id = None
        if request.segment is not None:
            seg = uow.discovery.segment_cidrs().get(request.segment)
            if seg is None:
                raise NotFound(f"segment {request.segment!r} not found")
            segment_id = seg[0]
            if not targets and not request.files:
                targets = tuple(describe(r) for r in cidr_ranges(seg[1]))
                if not targets:
                    raise InputError(f"segment {request.segment!r} has no IPv4 CIDR to scan")
        if not targets and not request.files:
            raise InputError("nothing to discover: give TARGET..., --segment or a file "
                             "(--pcap, --nmap-xml, --dhcp-leases, --arp-table)")
        ranges = tools.ranges(targets) if targets else []
        if ranges:
            tools.check_options(request.options)
        left = check_scope(uow, ranges, allow_outside=request.allow_outside_scope)
    sources = (["active"] if targets else []) + [str(s) for s, _ in request.files]
    scan = _start(platform, principal, request, ranges, left, sources, segment_id)
    assert scan.id is not None
    if on_start is not None:
        on_start(scan)
    try:
        observations, warnings = _collect(platform, request, ranges, progress, read_progress)
        sightings = _sightings(platform, observations)
        with platform.uow(principal.tenant, True) as uow:
            run = _Reconciliation(platform, principal, uow, scan, ranges, segment_id)
            hosts = run.apply(sightings, complete=bool(targets))
            counts = run.counts()
            summary = {**counts, "warnings": len(warnings), "hosts": len(hosts)}
            if request.register:
                _finish(platform, principal, uow, scan.id, "done", summary)
                uow.commit()
        if not request.register:
            with platform.uow(principal.tenant, True) as uow:
                _finish(platform, principal, uow, scan.id, "done", summary)
                uow.commit()
    except BaseException as exc:  # Ctrl-C too: a scan never stays "running"
        with platform.uow(principal.tenant, True) as uow:
            _finish(platform, principal, uow, scan.id, "failed", {},
                    error=str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)
            uow.commit()
        raise
    finished = replace(scan, status="done", summary=summary, finished_at=platform.now())
    return DiscoveryReport(finished, hosts, tuple(warnings), counts)


def _start(platform: Platform, principal: Principal, request: DiscoverRequest,
           ranges: Sequence[Range], left: Sequence[Range], sources: list[str],
           segment_id: int | None) -> ScanRecord:
    options = {"ports": request.options.ports, "udp": request.options.udp,
               "profile": request.options.profile, "rate": request.options.rate}
    shown = [describe(r) for r in ranges] + [path for _, path in request.files]
    with platform.uow(principal.tenant, True) as uow:
        scan = uow.discovery.add_scan(ScanRecord(
            id=None, tenant_id=uow.tenant.id or 0, sources=tuple(sources),
            actor=principal.actor, status="running", targets=tuple(shown),
            options=options if ranges else {}, started_at=platform.now(),
            outside_scope=bool(left), registered=request.register, segment_id=segment_id,
            schedule_id=request.schedule_id))
        audit.record(platform, uow, principal.actor, "discovery.scan.start", "scan", scan.id,
                     after={"sources": sources, "targets": shown[:64],
                            "target_count": len(shown), "options": scan.options,
                            "outside_scope": [describe(r) for r in left][:64],
                            "register": request.register, "schedule_id": request.schedule_id})
        uow.commit()
    return scan


def _finish(platform: Platform, principal: Principal, uow: UnitOfWork, scan_id: int,
            status: str, summary: dict[str, Any], error: str | None = None) -> None:
    uow.discovery.finish_scan(scan_id, status, platform.now(), summary, error)
    audit.record(platform, uow, principal.actor, f"discovery.scan.{status}", "scan", scan_id,
                 after={**summary, **({"error": error} if error else {})})


def _collect(platform: Platform, request: DiscoverRequest, ranges: Sequence[Range],
             progress: ScanProgress | None, read_progress: ReadProgress | None
             ) -> tuple[list[HostObservation], list[str]]:
    tools = platform.tools()
    observations: list[HostObservation] = []
    warnings: list[str] = []
    for source, path in request.files:
        read = tools.read(source, path, progress=read_progress)
        observations += read.observations
        warnings += read.warnings
    if ranges:
        observations += tools.scan([describe(r) for r in ranges], request.options,
                                   allow_non_loopback=True, progress=progress)
    return observations, warnings


def _sightings(platform: Platform, observations: Iterable[HostObservation]) -> list[Sighting]:
    tools = platform.tools()
    return [sighting(group, tools.fingerprint(group))
            for group in group_observations(observations)]


# --------------------------------------------------------------- reconciliation
@dataclass
class _Candidate:
    known: KnownHost
    host: DiscoveredHost | None
    device: Device | None


class _Reconciliation:
    """Matches a run's sightings to stored hosts and devices and writes the outcome."""

    def __init__(self, platform: Platform, principal: Principal, uow: UnitOfWork,
                 scan: ScanRecord, ranges: Sequence[Range], segment_id: int | None) -> None:
        self.platform, self.principal, self.uow = platform, principal, uow
        self.scan, self.ranges, self.segment_id = scan, ranges, segment_id
        self.now = platform.now()
        self.outcomes: dict[str, int] = {o.value: 0 for o in Outcome}
        # Most specific first, so a host lands in the narrowest segment that holds it.
        self.segments = sorted(
            ((cidr_ranges(cidrs), seg_id) for seg_id, cidrs
             in uow.discovery.segment_cidrs().values()),
            key=lambda item: sum(last - first + 1 for first, last in item[0]) or 2**33)
        self.alerts = 0
        self.seen_devices: list[int] = []

    def counts(self) -> dict[str, int]:
        return {**self.outcomes, "alerts": self.alerts}

    # ---------------------------------------------------------------- loading
    def _load(self, sightings: Sequence[Sighting]) -> tuple[list[_Candidate], frozenset[str]]:
        d = self.uow.discovery
        want: dict[Strength, set[str]] = {k: set() for k in Strength}
        for s in sightings:
            for kind in Strength:
                want[kind].update(s.identifier(kind))
        hosts: dict[int, DiscoveredHost] = {}
        for kind, column in ((Strength.SERIAL, "serial"), (Strength.MAC, "mac"),
                             (Strength.SSH_HOST_KEY, "ssh_host_key"), (Strength.IP, "ip"),
                             (Strength.HOSTNAME, "hostname")):
            for h in d.hosts_by(column, want[kind]):
                hosts[h.id or 0] = h
        for h in d.hosts_with_certificates(want[Strength.CERTIFICATE]):
            hosts[h.id or 0] = h
        device_ids: set[int] = set()
        for kind, name in ((Strength.SERIAL, "serial"), (Strength.MAC, "mac"),
                           (Strength.CERTIFICATE, "cert_sha256"), (Strength.IP, "ip"),
                           (Strength.HOSTNAME, "hostname")):
            for ids in d.devices_by(name, want[kind]).values():
                device_ids.update(ids)
        device_ids.update(h.device_id for h in hosts.values() if h.device_id is not None)
        for h in d.hosts_of_devices(device_ids):
            hosts[h.id or 0] = h
        devices = self.uow.devices.get_many(device_ids)
        candidates = [_Candidate(known_host(h, devices.get(h.device_id or -1)), h,
                                 devices.get(h.device_id or -1)) for h in hosts.values()]
        with_rows = {h.device_id for h in hosts.values() if h.device_id is not None}
        candidates += [_Candidate(known_host(None, dev), None, dev)
                       for i, dev in devices.items() if i not in with_rows]
        return candidates, _shared_certificates(sightings, hosts.values())

    # ------------------------------------------------------------------ apply
    def apply(self, sightings: Sequence[Sighting], *, complete: bool) -> list[dict[str, Any]]:
        candidates, shared = self._load(sightings)
        index: dict[tuple[Strength, str], list[_Candidate]] = {}
        for c in candidates:
            for kind in Strength:
                for value in c.known.identifier(kind):
                    index.setdefault((kind, value), []).append(c)
        out: list[dict[str, Any]] = []
        matched_devices: set[int] = set()
        for s in sightings:
            near: dict[int, _Candidate] = {}
            for kind in Strength:
                for value in s.identifier(kind):
                    for c in index.get((kind, value), ()):
                        near[id(c)] = c
            by_known = {id(c.known): c for c in near.values()}
            m = match(s, [c.known for c in near.values()], shared_certificates=shared)
            chosen = by_known[id(m.host)] if m.host is not None else None
            view = self._one(s, m, chosen, complete)
            if chosen is not None and chosen.device is not None:
                matched_devices.add(chosen.device.id or 0)
            out.append(view)
        out += self._missing(matched_devices, complete)
        if self.seen_devices:
            self.uow.discovery.mark_seen(self.seen_devices, self.now)
            audit.record(self.platform, self.uow, self.principal.actor, "discovery.seen",
                         "scan", self.scan.id,
                         after={"last_seen": self.now.isoformat(),
                                "devices": len(self.seen_devices),
                                "device_ids": self.seen_devices[:MAX_SEEN_IDS]})
        return sorted(out, key=_address_key)

    def _one(self, s: Sighting, m: Match, chosen: _Candidate | None,
             complete: bool) -> dict[str, Any]:
        tools = self.platform.tools()
        host = chosen.host if chosen else None
        fp = s.fingerprint
        if host is not None and host.overrides:
            fp = tools.fingerprint(s.observations, host.overrides)
            s = replace(s, fingerprint=fp)
        if chosen is None:
            return self._new(s)
        status = chosen.known.status
        found = changes(chosen.known, s, complete=complete)
        result = outcome(status, found)
        stored = self._store_host(s, host, chosen.device, status)
        if status is HostStatus.REGISTERED and chosen.device is not None:
            self._update_device(chosen.device, s, found, stored)
        elif status is HostStatus.ROGUE:
            self._alert(AlertKind.ROGUE_SEEN, stored, None,
                        f"rogue device seen again at {s.ip or s.mac}", {"ip": s.ip})
        self.outcomes[result.value] += 1
        return self._view(s, stored, result, found, m)

    def _new(self, s: Sighting) -> dict[str, Any]:
        stored = self._store_host(s, None, None, HostStatus.UNREGISTERED)
        fp = s.fingerprint
        what = " ".join(v for v in (fp.vendor, fp.model, fp.device_type) if v) or "unknown"
        self._alert(AlertKind.NEW, stored, None,
                    f"new device at {s.ip or s.mac}: {what}",
                    {"ip": s.ip, "mac": s.mac, "vendor": fp.vendor, "model": fp.model,
                     "device_type": fp.device_type, "confidence": fp.confidence})
        audit.record(self.platform, self.uow, self.principal.actor, "discovery.host.new",
                     "host", stored.id, after=host_summary(stored))
        self.outcomes[Outcome.NEW.value] += 1
        return self._view(s, stored, Outcome.NEW, [], Match(None))

    def _store_host(self, s: Sighting, host: DiscoveredHost | None, device: Device | None,
                    status: HostStatus) -> DiscoveredHost:
        fp = s.fingerprint
        tid = self.uow.tenant.id or 0
        sources = tuple(sorted({str(o.source) for o in s.observations}
                               | set(host.sources if host else ())))
        values = DiscoveredHost(
            id=host.id if host else None, tenant_id=tid, status=status,
            device_id=device.id if device else None,
            ip=s.ip or (host.ip if host else None), mac=s.mac or (host.mac if host else None),
            hostname=s.hostname or (host.hostname if host else None),
            serial=fp.serial or (host.serial if host else None),
            ssh_host_key=s.ssh_host_key or (host.ssh_host_key if host else None),
            certificates=s.certificates or (host.certificates if host else ()),
            vendor=fp.vendor, model=fp.model, device_type=fp.device_type,
            firmware_version=fp.firmware_version, os=fp.os, confidence=fp.confidence,
            fingerprint=fingerprint_view(fp),
            services=tuple(service_view(svc) for svc in s.services) or
            (host.services if host else ()),
            overrides=host.overrides if host else {}, sources=sources,
            segment_id=(host.segment_id if host else None) or self.segment_id
            or (device.segment_id if device else None) or self._segment_of(s.ip),
            first_seen=(host.first_seen if host else None) or self.now, last_seen=self.now,
            missing_since=None, last_scan_id=self.scan.id, note=host.note if host else None)
        if host is None:
            return self.uow.discovery.add_host(values)
        return self.uow.discovery.update_host(values)

    def _segment_of(self, ip: str | None) -> int | None:
        if ip is None:
            return None
        return next((seg_id for ranges, seg_id in self.segments if contains(ranges, ip)), None)

    def _update_device(self, device: Device, s: Sighting, found: list[Change],
                       stored: DiscoveredHost) -> None:
        fp = s.fingerprint
        ips = device.ip_addresses
        if s.ip and s.ip not in ips:
            kept = tuple(ip for ip in ips if not contains(self.ranges, ip))
            ips = (s.ip, *kept)[:32]
        macs = device.mac_addresses
        if s.mac and s.mac not in macs and not self.uow.discovery.devices_by("mac", [s.mac]):
            macs = (*macs, s.mac)[:32]
        firmware = fp.firmware_version or device.firmware_version
        assert device.id is not None
        self._record_software(device.id, fp.software)
        self.seen_devices.append(device.id)  # last_seen: one bulk update per run
        if (ips, macs, firmware) != (device.ip_addresses, device.mac_addresses,
                                     device.firmware_version):
            self.uow.devices.update(replace(device, ip_addresses=ips, mac_addresses=macs,
                                            firmware_version=firmware))
        if found:
            listed = [c.as_dict() for c in found]
            audit.record(self.platform, self.uow, self.principal.actor, "device.discovered_change",
                         "device", device.id, before=_fields(found, before=True),
                         after=_fields(found, before=False),
                         reason=f"seen by discovery scan {self.scan.id}")
            self._alert(AlertKind.CHANGED, stored, device.id,
                        f"{device.name}: " + ", ".join(_change_text(c) for c in found[:4])
                        + (f" (+{len(found) - 4} more)" if len(found) > 4 else ""),
                        {"changes": listed, "ip": s.ip})

    def _record_software(self, device_id: int, software: Sequence[str]) -> None:
        """What the device's banners say it runs becomes its ``discovery`` components."""
        found = components_from_software(software, self.platform.tools().software_products())
        if not found:
            return
        stored = self.uow.software.components_of(device_id=device_id, source="discovery")
        if set(stored) == set(found):
            return
        self.uow.software.replace_components(found, source="discovery", sbom_id=None,
                                             device_id=device_id)
        rematch_subject(self.uow, self.now, device_id=device_id)
        audit.record(self.platform, self.uow, self.principal.actor, "software.discovered",
                     "device", device_id,
                     before={"components": [f"{c.name} {c.version}" for c in stored]},
                     after={"components": [f"{c.name} {c.version}" for c in found]},
                     reason=f"named by banners in discovery scan {self.scan.id}")

    # -------------------------------------------------------------- missing
    def _missing(self, matched: set[int], complete: bool) -> list[dict[str, Any]]:
        """Registered, live devices at scanned addresses that did not answer for too long."""
        total = sum(last - first + 1 for first, last in self.ranges)
        if not complete or not self.ranges or total > MAX_MISSING_CHECK:
            return []
        d = self.uow.discovery
        addresses = (str(ipaddress.IPv4Address(v)) for first, last in self.ranges
                     for v in range(first, last + 1))
        ids = {i for found in d.devices_by("ip", addresses).values() for i in found} - matched
        if not ids:
            return []
        hosts = {h.device_id: h for h in d.hosts_of_devices(ids)}
        limit = timedelta(hours=self.uow.tenant.settings.missing_after_hours)
        out = []
        registered = self.uow.devices.get_many(ids)
        for device_id in sorted(ids):
            device = registered.get(device_id)
            if device is None or device.lifecycle_state not in ACTIVE_STATES:
                continue
            host = hosts.get(device_id)
            last = device.last_seen or (host.last_seen if host else None)
            if last is not None and self.now - last < limit:
                continue
            if host is None or host.missing_since is None:
                host = self._mark_missing(device, host, last)
            self.outcomes[Outcome.MISSING.value] += 1
            out.append(_missing_view(device, host))
        return out

    def _mark_missing(self, device: Device, host: DiscoveredHost | None,
                      last: datetime | None) -> DiscoveredHost:
        tid = self.uow.tenant.id or 0
        if host is None:
            host = self.uow.discovery.add_host(DiscoveredHost(
                id=None, tenant_id=tid, status=HostStatus.REGISTERED, device_id=device.id,
                ip=device.ip_addresses[0] if device.ip_addresses else None,
                mac=device.mac_addresses[0] if device.mac_addresses else None,
                hostname=device.hostname, serial=device.serial,
                segment_id=device.segment_id, missing_since=self.now,
                last_scan_id=self.scan.id))
        else:
            host = self.uow.discovery.update_host(replace(host, missing_since=self.now))
        since = last.isoformat() if last else "never"
        self._alert(AlertKind.MISSING, host, device.id,
                    f"{device.name} missing: not seen since {since}",
                    {"last_seen": last.isoformat() if last else None,
                     "ip": host.ip})
        audit.record(self.platform, self.uow, self.principal.actor, "device.missing", "device",
                     device.id, after={"missing_since": self.now.isoformat(),
                                       "last_seen": last.isoformat() if last else None},
                     reason=f"not seen by discovery scan {self.scan.id}")
        return host

    # ---------------------------------------------------------------- alerts
    def _alert(self, kind: AlertKind, host: DiscoveredHost, device_id: int | None, title: str,
               details: dict[str, Any]) -> None:
        alert = self.uow.discovery.add_alert(Alert(
            id=None, tenant_id=self.uow.tenant.id or 0, kind=kind, severity=SEVERITY[kind],
            title=title, details=details, created_at=self.now, device_id=device_id,
            host_id=host.id, scan_id=self.scan.id))
        audit.record(self.platform, self.uow, self.principal.actor, "alert.raise", "alert",
                     alert.id, after={"kind": kind.value, "title": alert.title,
                                      "host_id": host.id, "device_id": device_id})
        self.alerts += 1

    def _view(self, s: Sighting, host: DiscoveredHost, result: Outcome, found: list[Change],
              m: Match) -> dict[str, Any]:
        return {
            "ip": s.ip, "mac": s.mac, "hostname": s.hostname,
            "services": [service_view(svc) for svc in s.services],
            "fingerprint": fingerprint_view(s.fingerprint),
            "inventory": {"device_id": host.device_id, "host_id": host.id,
                          "status": result.value, "host_status": host.status.value,
                          "matched_by": m.by.value if m.by else None,
                          "changes": [c.as_dict() for c in found]},
            "sources": sorted({str(o.source) for o in s.observations}),
        }


# ------------------------------------------------------------------- helpers
def known_host(host: DiscoveredHost | None, device: Device | None) -> KnownHost:
    """What reconciliation compares a sighting with: the host row and its device."""
    status = host.status if host else HostStatus.REGISTERED
    if device is None and status is HostStatus.REGISTERED:
        status = HostStatus.UNREGISTERED
    services = tuple(ServiceKey(int(v["port"]), str(v["transport"]), str(v["service"]))
                     for v in (host.services if host else ()))
    certs = dict(_service_certificates(host.services)) if host else {}
    return KnownHost(
        host_id=host.id if host else None, device_id=device.id if device else None,
        status=status, ip=(host.ip if host else None) or
        (device.ip_addresses[0] if device and device.ip_addresses else None),
        ips=device.ip_addresses if device else (),
        mac=host.mac if host else None, macs=device.mac_addresses if device else (),
        hostname=(host.hostname if host else None) or (device.hostname if device else None),
        serial=(device.serial if device else None) or (host.serial if host else None),
        ssh_host_key=host.ssh_host_key if host else None,
        certificates=tuple(dict.fromkeys(
            (*(host.certificates if host else ()),
             *((device.cert_sha256,) if device and device.cert_sha256 else ())))),
        firmware_version=(device.firmware_version if device else None) or
        (host.firmware_version if host else None),
        services=services, service_certificates=certs,
        missing_since=host.missing_since.isoformat() if host and host.missing_since else None,
        seen_before=host is not None and host.last_seen is not None)


def _service_certificates(services: Iterable[Mapping[str, Any]]) -> Iterable[tuple[str, str]]:
    for v in services:
        tls = v.get("tls") or {}
        cert = tls.get("certificate") if isinstance(tls, Mapping) else None
        if isinstance(cert, Mapping) and cert.get("sha256"):
            yield f"{v['port']}/{v['transport']}", str(cert["sha256"])


def _shared_certificates(sightings: Sequence[Sighting],
                         hosts: Iterable[DiscoveredHost]) -> frozenset[str]:
    owners: dict[str, set[str]] = {}
    for s in sightings:
        for sha in s.certificates:
            owners.setdefault(sha, set()).add(f"s:{s.ip or s.mac}")
    for h in hosts:
        for sha in h.certificates:
            owners.setdefault(sha, set()).add(f"h:{h.device_id or h.id}")
    shared = set()
    for sha, who in owners.items():
        sighted = {w for w in who if w.startswith("s:")}
        if len(sighted) > 1 or len({w for w in who if w.startswith("h:")}) > 1:
            shared.add(sha)
    return frozenset(shared)


def host_summary(h: DiscoveredHost) -> dict[str, Any]:
    """What the audit log keeps of a discovered host: identity, no banners."""
    return {"status": h.status.value, "device_id": h.device_id, "ip": h.ip, "mac": h.mac,
            "hostname": h.hostname, "serial": h.serial, "vendor": h.vendor, "model": h.model,
            "device_type": h.device_type, "firmware_version": h.firmware_version,
            "overrides": dict(h.overrides)}


def _fields(found: Sequence[Change], *, before: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in found:
        value = c.before if before else c.after
        if value is None:
            continue
        if c.field in ("service_opened", "service_closed", "certificate"):
            out.setdefault(c.field, []).append(value)
        else:
            out[c.field] = value
    return out


def _change_text(c: Change) -> str:
    if c.field == "service_opened":
        return f"opened {c.after}"
    if c.field == "service_closed":
        return f"closed {c.before}"
    if c.field == "reappeared":
        return "seen again"
    if c.field == "certificate":
        return f"new certificate on {(c.after or '').split(' ')[0]}"
    return f"{c.field.replace('_', ' ')} {c.before} -> {c.after}"


def _missing_view(device: Device, host: DiscoveredHost) -> dict[str, Any]:
    return {
        "ip": device.ip_addresses[0] if device.ip_addresses else host.ip,
        "mac": device.mac_addresses[0] if device.mac_addresses else host.mac,
        "hostname": device.hostname, "services": [],
        "fingerprint": fingerprint_view(Fingerprint()),
        "inventory": {"device_id": device.id, "host_id": host.id,
                      "status": Outcome.MISSING.value, "host_status": host.status.value,
                      "matched_by": None, "changes": [],
                      "missing_since": host.missing_since.isoformat()
                      if host.missing_since else None},
        "sources": [],
    }


def _address_key(view: Mapping[str, Any]) -> tuple[int, int, str]:
    ip = view.get("ip")
    try:
        return (0, int(ipaddress.IPv4Address(ip)), "") if ip else (1, 0, view.get("mac") or "")
    except ValueError:
        return (1, 0, str(ip))


