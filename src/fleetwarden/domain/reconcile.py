"""Keeping the register true: which stored host a sighting is, and what changed (R4).

A *sighting* is everything one scan or file said about one host, with its fingerprint.
A *known host* is what discovery stored about a host before (a row of its own, or a
registered device discovery has not seen yet). Matching goes strongest identifier
first: serial, MAC, SSH host key, certificate (only when no other host presents the
same certificate: per-model shared certificates are common on IoT kit), then IP and
hostname, and a weak match is refused when a strong identifier contradicts it (a new
device on a re-used address is a new device). A device that moved IP stays the device.

Must not: do I/O or decide what a device *is* (fingerprinting does that).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from fleetwarden.domain.discovery import Field, HostObservation, ServiceObservation
from fleetwarden.domain.fingerprint import Fingerprint


class Outcome(StrEnum):
    """Spellings are the JSON contract's ``inventory.status``."""

    KNOWN = "known"
    CHANGED = "changed"
    NEW = "new"
    MISSING = "missing"


class HostStatus(StrEnum):
    REGISTERED = "registered"
    """Tied to a device in the register."""
    UNREGISTERED = "unregistered"
    """In the queue: approve, merge or mark rogue."""
    ROGUE = "rogue"
    """Marked as not allowed on the network; seeing it again is an alert."""


class Strength(StrEnum):
    SERIAL = "serial"
    MAC = "mac"
    SSH_HOST_KEY = "ssh_host_key"
    CERTIFICATE = "cert_sha256"
    IP = "ip"
    HOSTNAME = "hostname"


STRONG: tuple[Strength, ...] = (Strength.SERIAL, Strength.MAC, Strength.SSH_HOST_KEY,
                                Strength.CERTIFICATE)
WEAK: tuple[Strength, ...] = (Strength.IP, Strength.HOSTNAME)


@dataclass(frozen=True, slots=True)
class ServiceKey:
    port: int
    transport: str
    service: str

    def __str__(self) -> str:
        return f"{self.port}/{self.transport} {self.service}"


@dataclass(frozen=True, slots=True)
class Sighting:
    """One host as one discovery run saw it (all its observations merged)."""

    observations: tuple[HostObservation, ...]
    fingerprint: Fingerprint
    ip: str | None = None
    mac: str | None = None
    hostname: str | None = None
    ssh_host_key: str | None = None
    certificates: tuple[str, ...] = ()
    """SHA-256 of every certificate the host presented, sorted."""
    observed_at: str = ""

    @property
    def serial(self) -> str | None:
        return self.fingerprint.serial

    @property
    def services(self) -> tuple[ServiceObservation, ...]:
        seen: dict[tuple[int, str], ServiceObservation] = {}
        for obs in self.observations:
            for svc in obs.services:
                key = (svc.port, svc.transport)
                # An identified service beats an open port nothing recognised.
                if key not in seen or seen[key].service == "unknown":
                    seen[key] = svc
        return tuple(seen[k] for k in sorted(seen))

    def identifier(self, kind: Strength) -> tuple[str, ...]:
        one = {Strength.SERIAL: self.serial, Strength.MAC: self.mac,
               Strength.SSH_HOST_KEY: self.ssh_host_key, Strength.IP: self.ip,
               Strength.HOSTNAME: self.hostname}
        if kind is Strength.CERTIFICATE:
            return self.certificates
        value = one[kind]
        return (value,) if value else ()


@dataclass(frozen=True, slots=True)
class KnownHost:
    """What was stored about a host before this run."""

    host_id: int | None
    """None for a registered device discovery has never stored a host row for."""
    device_id: int | None
    status: HostStatus
    ip: str | None = None
    ips: tuple[str, ...] = ()
    """Every address the register lists for the device (ip is the last one seen)."""
    mac: str | None = None
    macs: tuple[str, ...] = ()
    hostname: str | None = None
    serial: str | None = None
    ssh_host_key: str | None = None
    certificates: tuple[str, ...] = ()
    firmware_version: str | None = None
    services: tuple[ServiceKey, ...] = ()
    service_certificates: Mapping[str, str] = field(default_factory=dict)
    """``port/transport`` -> certificate SHA-256 last seen there."""
    missing_since: str | None = None
    seen_before: bool = False
    """False for a registered device no scan has seen: its services are not a baseline."""

    def identifier(self, kind: Strength) -> tuple[str, ...]:
        many = {Strength.SERIAL: (self.serial,), Strength.MAC: (self.mac, *self.macs),
                Strength.SSH_HOST_KEY: (self.ssh_host_key,), Strength.IP: (self.ip, *self.ips),
                Strength.HOSTNAME: (self.hostname,), Strength.CERTIFICATE: self.certificates}
        return tuple(dict.fromkeys(v for v in many[kind] if v))


@dataclass(frozen=True, slots=True)
class Match:
    host: KnownHost | None
    by: Strength | None = None
    value: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    field: str
    """firmware_version, ip, mac, hostname, service_opened, service_closed, certificate,
    reappeared."""
    before: str | None
    after: str | None

    def as_dict(self) -> dict[str, str | None]:
        return {"field": self.field, "before": self.before, "after": self.after}


# ------------------------------------------------------------------------ grouping
def group_observations(observations: Iterable[HostObservation]) -> list[list[HostObservation]]:
    """Observations of the same host together: same IP, or same MAC when one lacks an IP.

    A MAC seen with two IPs (a router answering ARP for others, or DHCP churn) does not
    merge the IPs: the address is what was scanned.
    """
    by_ip: dict[str, list[HostObservation]] = {}
    by_mac_only: dict[str, list[HostObservation]] = {}
    mac_to_ip: dict[str, str] = {}
    for obs in observations:
        if obs.ip:
            by_ip.setdefault(obs.ip, []).append(obs)
            if obs.mac:
                mac_to_ip.setdefault(obs.mac, obs.ip)
        elif obs.mac:
            by_mac_only.setdefault(obs.mac, []).append(obs)
    groups = list(by_ip.values())
    for mac, group in by_mac_only.items():
        ip = mac_to_ip.get(mac)
        if ip is not None:
            by_ip[ip].extend(group)
        else:
            groups.append(group)
    return groups


def sighting(observations: Sequence[HostObservation], fp: Fingerprint) -> Sighting:
    """Merge one host's observations (active first: it is what was seen just now)."""
    ordered = sorted(observations, key=lambda o: (o.source != "active", o.observed_at))
    ip = next((o.ip for o in ordered if o.ip), None)
    mac = next((o.mac for o in ordered if o.mac), None)
    hostname = next((o.hostname for o in ordered if o.hostname), None)
    ssh_key = None
    certs: set[str] = set()
    for obs in ordered:
        for svc in obs.services:
            ssh_key = ssh_key or svc.fields.get(Field.SSH_HOST_KEY)
            if svc.tls and svc.tls.certificate:
                certs.add(svc.tls.certificate.sha256)
    return Sighting(tuple(ordered), fp, ip=ip, mac=mac, hostname=hostname,
                    ssh_host_key=ssh_key, certificates=tuple(sorted(certs)),
                    observed_at=max((o.observed_at for o in ordered), default=""))


# ------------------------------------------------------------------------ matching
def match(s: Sighting, candidates: Sequence[KnownHost], *,
          shared_certificates: frozenset[str] = frozenset()) -> Match:
    """The stored host ``s`` is, strongest identifier first; ``Match(None)`` when new.

    ``shared_certificates`` are certificates seen on more than one host (in this run or
    stored): they identify a model, not a device, and are skipped.
    """
    for kind in STRONG:
        for value in s.identifier(kind):
            if kind is Strength.CERTIFICATE and value in shared_certificates:
                continue
            hits = [c for c in candidates if value in c.identifier(kind)]
            if len(hits) == 1 or (hits and kind is not Strength.CERTIFICATE):
                return Match(_best(hits), kind, value)
    for kind in WEAK:
        for value in s.identifier(kind):
            hits = [c for c in candidates if value in c.identifier(kind)
                    and not _contradicts(s, c)]
            if hits:
                return Match(_best(hits), kind, value)
    return Match(None)


def _best(hits: Sequence[KnownHost]) -> KnownHost:
    """Prefer a registered device, then the most recently stored host row."""
    return sorted(hits, key=lambda c: (c.device_id is None, -(c.host_id or 0)))[0]


def _contradicts(s: Sighting, c: KnownHost) -> bool:
    """A strong identifier both sides have that differs: not the same device."""
    for kind in (Strength.SERIAL, Strength.MAC, Strength.SSH_HOST_KEY):
        mine, theirs = s.identifier(kind), c.identifier(kind)
        if mine and theirs and not set(mine) & set(theirs):
            return True
    return False


# ------------------------------------------------------------------------- changes
def service_keys(services: Iterable[ServiceObservation]) -> tuple[ServiceKey, ...]:
    return tuple(sorted({ServiceKey(s.port, s.transport, s.service) for s in services},
                        key=lambda k: (k.port, k.transport, k.service)))


def service_certificates(services: Iterable[ServiceObservation]) -> dict[str, str]:
    return {f"{s.port}/{s.transport}": s.tls.certificate.sha256 for s in services
            if s.tls is not None and s.tls.certificate is not None}


def changes(before: KnownHost, s: Sighting, *, complete: bool) -> list[Change]:
    """What differs between the stored host and this sighting.

    ``complete`` says the run looked at every port the host had (an active scan on the
    same port list): only then does a missing service mean it closed.
    """
    out: list[Change] = []
    fw = s.fingerprint.firmware_version
    if fw and before.firmware_version and fw != before.firmware_version:
        out.append(Change("firmware_version", before.firmware_version, fw))
    if s.ip and before.ip and s.ip != before.ip and s.ip not in before.ips:
        out.append(Change("ip", before.ip, s.ip))
    if s.mac and before.macs and s.mac not in before.identifier(Strength.MAC):
        out.append(Change("mac", before.mac or before.macs[0], s.mac))
    if before.missing_since:
        out.append(Change("reappeared", before.missing_since, s.observed_at))
    if not before.seen_before:
        return out
    now = service_keys(s.services)
    if now:
        opened = [k for k in now if _port_of(k) not in {_port_of(b) for b in before.services}]
        out += [Change("service_opened", None, str(k)) for k in opened]
        if complete:
            current = {_port_of(k) for k in now}
            out += [Change("service_closed", str(k), None) for k in before.services
                    if _port_of(k) not in current]
    for where, sha in sorted(service_certificates(s.services).items()):
        old = before.service_certificates.get(where)
        if old and old != sha:
            out.append(Change("certificate", f"{where} {old}", f"{where} {sha}"))
    return out


def _port_of(k: ServiceKey) -> tuple[int, str]:
    return (k.port, k.transport)


def outcome(host_status: HostStatus | None, found: list[Change]) -> Outcome:
    """The JSON contract's status for a sighting matched to ``host_status`` (None: new)."""
    if host_status is None or host_status is not HostStatus.REGISTERED:
        return Outcome.NEW
    return Outcome.CHANGED if found else Outcome.KNOWN
