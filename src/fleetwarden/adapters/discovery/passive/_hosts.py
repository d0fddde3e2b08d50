"""Facts about hosts as a passive reader gathers them, turned into observations at the end.

``HostTable`` keeps facts per MAC and per IP address, each with the time it was first
seen, and which address belongs to which MAC. Facts carry their times so that two
tables (two parts of one capture, read side by side) merge to the same result as one
table that read everything.

Must not: parse anything, decide what a device is, or keep device text without
``bounded``.
"""

from __future__ import annotations

from fleetwarden.adapters.discovery.passive._common import (
    MAX_HOSTS,
    MAX_VALUES,
    MULTI_VALUED,
    iso_from_us,
)
from fleetwarden.domain.discovery import (
    CertificateInfo,
    HostObservation,
    ServiceObservation,
    Source,
    TlsInfo,
    bounded,
)


class ServiceFacts:
    """What was seen of one port of one host."""

    __slots__ = ("first", "name", "fields", "tls_version", "certificate")

    def __init__(self, first: int, name: str) -> None:
        self.first = first
        self.name = name
        self.fields: dict[str, tuple[int, str]] = {}
        self.tls_version: tuple[int, str] | None = None
        self.certificate: tuple[int, CertificateInfo] | None = None

    def named(self, name: str) -> None:
        """A protocol seen on the port beats ``unknown`` (an open port, nothing more)."""
        if self.name == "unknown":
            self.name = name

    def field(self, name: str, value: str | bytes | None, ts: int) -> None:
        text = bounded(value)
        if text and (name not in self.fields or ts < self.fields[name][0]):
            self.fields[name] = (ts, text)

    def tls(self, version: str | None, certificate: CertificateInfo | None, ts: int) -> None:
        if version and (self.tls_version is None or ts < self.tls_version[0]):
            self.tls_version = (ts, version)
        if certificate and (self.certificate is None or ts < self.certificate[0]):
            self.certificate = (ts, certificate)

    def merge(self, other: ServiceFacts) -> None:
        self.first = min(self.first, other.first)
        self.named(other.name)
        for name, (ts, text) in other.fields.items():
            self.field(name, text, ts)
        if other.tls_version:
            self.tls(other.tls_version[1], None, other.tls_version[0])
        if other.certificate:
            self.tls(None, other.certificate[1], other.certificate[0])

    def observation(self, port: int, transport: str) -> ServiceObservation:
        tls = None
        if self.tls_version or self.certificate:
            tls = TlsInfo(version=self.tls_version[1] if self.tls_version else None,
                          certificate=self.certificate[1] if self.certificate else None)
        return ServiceObservation(
            port=port, transport=transport, service=self.name, tls=tls,
            fields={k: v for k, (_, v) in sorted(self.fields.items())})


class Facts:
    """What was seen of one MAC or one IP address, each fact with its first time."""

    __slots__ = ("first", "hostname", "fields", "multi", "services")

    def __init__(self, first: int) -> None:
        self.first = first
        self.hostname: tuple[int, int, str] | None = None
        """(rank, time, name): the best-ranked source, then the earliest."""
        self.fields: dict[str, tuple[int, str]] = {}
        self.multi: dict[str, dict[str, int]] = {}
        self.services: dict[tuple[int, str], ServiceFacts] = {}

    def seen(self, ts: int) -> None:
        if ts < self.first:
            self.first = ts

    def field(self, name: str, value: str | bytes | None, ts: int) -> None:
        text = bounded(value)
        if not text:
            return
        if name in MULTI_VALUED:
            values = self.multi.setdefault(name, {})
            if text in values:
                values[text] = min(values[text], ts)
            elif len(values) < MAX_VALUES:
                values[text] = ts
        elif name not in self.fields or ts < self.fields[name][0]:
            self.fields[name] = (ts, text)

    def name(self, value: str | bytes | None, rank: int, ts: int) -> None:
        text = bounded(value)
        if text:
            text = text.strip().rstrip(".")
        if text and (self.hostname is None or (rank, ts) < self.hostname[:2]):
            self.hostname = (rank, ts, text)

    def service(self, port: int, transport: str, name: str, ts: int) -> ServiceFacts:
        key = (port, transport)
        found = self.services.get(key)
        if found is None:
            found = self.services[key] = ServiceFacts(ts, name)
        else:
            found.first = min(found.first, ts)
            found.named(name)
        return found

    def merge(self, other: Facts) -> None:
        self.seen(other.first)
        if other.hostname:
            rank, ts, text = other.hostname
            self.name(text, rank, ts)
        for name, (ts, text) in other.fields.items():
            self.field(name, text, ts)
        for name, values in other.multi.items():
            for text, ts in values.items():
                self.field(name, text, ts)
        for key, svc in other.services.items():
            mine = self.services.get(key)
            if mine is None:  # a copy: merging must never change ``other``
                mine = self.services[key] = ServiceFacts(svc.first, svc.name)
            mine.merge(svc)

    def host_fields(self) -> dict[str, str]:
        out = {k: v for k, (_, v) in self.fields.items()}
        for name, values in self.multi.items():
            ordered = sorted(values.items(), key=lambda item: item[1])  # stable: as sent
            out[name] = bounded(MULTI_VALUED[name].join(text for text, _ in ordered)) or ""
        return dict(sorted(out.items()))


class HostTable:
    """Facts per MAC and per IP, and which IP belongs to which MAC (latest wins).

    Facts from unicast IP traffic go to the IP (the frame's MAC may be a router's);
    ARP, DHCP and link-local multicast say which MAC an IP belongs to. At the end every
    bound IP's facts join its MAC's."""

    def __init__(self, max_hosts: int = MAX_HOSTS) -> None:
        self.macs: dict[str, Facts] = {}
        self.ips: dict[str, Facts] = {}
        self.bindings: dict[str, tuple[int, int, str]] = {}
        """ip -> (strength, time, mac): a stronger binding wins, then a later one."""
        self.max_hosts = max_hosts
        self.over = 0
        """Facts dropped because the table was full."""

    def mac(self, mac: str, ts: int) -> Facts | None:
        found = self.macs.get(mac)
        if found is None:
            if len(self.macs) + len(self.ips) >= self.max_hosts:
                self.over += 1
                return None
            found = self.macs[mac] = Facts(ts)
        else:
            found.seen(ts)
        return found

    def ip(self, ip: str, ts: int) -> Facts | None:
        found = self.ips.get(ip)
        if found is None:
            if len(self.macs) + len(self.ips) >= self.max_hosts:
                self.over += 1
                return None
            found = self.ips[ip] = Facts(ts)
        else:
            found.seen(ts)
        return found

    def bind(self, ip: str, mac: str, ts: int, strength: int = 1) -> None:
        """``ip`` is ``mac``'s (from ARP, a DHCP ACK, link-local multicast)."""
        old = self.bindings.get(ip)
        if old is not None and old[2] == mac and ts >= old[1]:
            # The binding again, later (the MAC was seen by then): only its time moves.
            if strength > old[0] or strength == old[0] and ts > old[1]:
                self.bindings[ip] = (strength, ts, mac)
            return
        if self.mac(mac, ts) is None:
            return
        if old is None or strength > old[0] or strength == old[0] and ts >= old[1]:
            self.bindings[ip] = (strength, ts, mac)

    def merge(self, other: HostTable) -> None:
        """Add a table built from another part of the same input (``other`` is used up:
        its facts become this table's)."""
        for mine, theirs in ((self.macs, other.macs), (self.ips, other.ips)):
            for key, facts in theirs.items():
                if key in mine:
                    mine[key].merge(facts)
                else:
                    mine[key] = facts
        for ip, binding in other.bindings.items():
            old = self.bindings.get(ip)
            if old is None or binding[:2] >= old[:2]:
                self.bindings[ip] = binding
        self.over += other.over

    def observations(self, source: Source) -> list[HostObservation]:
        """One observation per MAC (with its latest IPv4, else IPv6, address) and one
        per address no MAC was bound to, in order of first sight."""
        owned: dict[str, list[str]] = {}
        for ip, (_, _, mac) in self.bindings.items():
            owned.setdefault(mac, []).append(ip)
        hosts: list[tuple[str | None, str | None, Facts]] = []
        for mac, facts in self.macs.items():
            merged = Facts(facts.first)
            merged.merge(facts)
            ips = owned.get(mac, [])
            for ip in ips:
                if ip in self.ips:
                    merged.merge(self.ips[ip])
            best = max(ips, key=lambda a: (":" not in a, self.bindings[a][1]), default=None)
            hosts.append((mac, best, merged))
        hosts += [(None, ip, facts) for ip, facts in self.ips.items()
                  if ip not in self.bindings]
        hosts.sort(key=lambda h: (h[2].first, h[0] or "", h[1] or ""))
        return [_observation(source, mac, ip, facts) for mac, ip, facts in hosts]


def _observation(source: Source, mac: str | None, ip: str | None,
                 facts: Facts) -> HostObservation:
    services = tuple(facts.services[key].observation(*key)
                     for key in sorted(facts.services, key=lambda k: (k[1], k[0])))
    return HostObservation(
        source=source, observed_at=iso_from_us(facts.first), ip=ip, mac=mac,
        hostname=facts.hostname[2] if facts.hostname else None, services=services,
        fields=facts.host_fields())
