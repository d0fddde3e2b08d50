"""The active scan: TCP connect sweep, then service identification, then UDP probes.

The sweep (``sweep.Sweep``, in this process or, for big fast sweeps, spread over worker
processes) reports each host as soon as all its ports have answered; the host goes to
the identification workers (bounded queue: the sweep never runs far ahead), which probe
its open ports and, with ``udp=True``, its UDP ports, and build one ``HostObservation``.
Hosts with nothing open are not returned.

Every connection, probe and datagram passes the same limits (``net.Dialer``): the
profile's (or the caller's) rate, the global concurrency cap and the per-host cap, so
``gentle`` never has two connections to one host at once.

Must not: scan outside loopback unless the caller passes ``allow_non_loopback=True``
(the CLI does so only for the tenant's authorised scope), or let one host's trouble
stop the scan.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from fleetwarden.adapters.discovery.active.draft import Draft
from fleetwarden.adapters.discovery.active.identify import identify_tcp, identify_udp
from fleetwarden.adapters.discovery.active.limits import SETTINGS, Profile
from fleetwarden.adapters.discovery.active.net import Dialer
from fleetwarden.adapters.discovery.active.sweep import Sweep, new_limits, sweep_in_workers
from fleetwarden.adapters.discovery.active.targets import (
    MAX_ADDRESSES,
    PortPlan,
    Targets,
    check_scope,
    parse_ports,
    parse_targets,
)
from fleetwarden.domain.discovery import Field, HostObservation, ServiceObservation, Source
from fleetwarden.errors import InputError

#: ``progress(hosts_done, hosts_total, hosts_found)``, called as each host finishes.
Progress = Callable[[int, int, int], None]
MAX_RATE = 1_000_000
#: A sweep is spread over worker processes only when it is this big (connects) ...
SHARD_MIN_PROBES = 200_000
#: ... and the rate lets one process run flat out (roughly what one core connects/s).
SHARD_RATE_PER_PROCESS = 35_000
MAX_SHARDS = 4
#: Share of the rate kept for identification while worker processes sweep.
_IDENTIFY_SHARE = 0.1


class _Scan:
    """One scan: the sweep feeding identification workers, and the results they build."""

    def __init__(self, targets: Targets, plan: PortPlan, *, udp: bool, profile: Profile,
                 rate: float, progress: Progress | None, communities: tuple[str, ...],
                 identify: bool, allow_non_loopback: bool, shards: int | None) -> None:
        self.targets, self.plan, self.udp = targets, plan, udp and bool(plan.udp)
        self.profile, self.settings = profile, SETTINGS[profile]
        self.progress, self.communities = progress, communities
        self.identify, self.allow = identify, allow_non_loopback
        self.rate = rate
        self.total = len(targets)
        self.shards = self._shards() if shards is None else max(1, shards)
        share = _IDENTIFY_SHARE if self.shards > 1 else 1.0
        self.limits = new_limits(self.settings, rate * share)
        self.done = self.found = 0
        self.results: list[HostObservation] = []
        self.identifiers = max(4, self.settings.concurrency // (2 * self.settings.per_host))
        if self.udp:  # UDP answers are mostly waited for (silence): wait for more at once
            self.identifiers = max(self.identifiers, self.settings.concurrency // 4)
        self.queue: asyncio.Queue[tuple[str, list[int]] | None] = asyncio.Queue(
            self.identifiers * 2)

    def _shards(self) -> int:
        """Worker processes worth starting: big, fast sweeps on a machine with cores."""
        probes = self.total * len(self.plan.tcp)
        if probes < SHARD_MIN_PROBES or self.settings.per_host == 1:
            return 1
        by_rate = int(self.rate // SHARD_RATE_PER_PROCESS)
        return max(1, min(os.cpu_count() or 1, MAX_SHARDS, by_rate))

    async def run(self) -> list[HostObservation]:
        async with asyncio.TaskGroup() as group:
            identifiers = [group.create_task(self._identifier())
                           for _ in range(self.identifiers)]
            if self.shards > 1:
                await sweep_in_workers(
                    self.targets, self.plan.tcp, self.profile,
                    self.rate * (1 - _IDENTIFY_SHARE), self.shards,
                    allow_non_loopback=self.allow, report_empty=self.udp,
                    on_swept=self._swept)
            else:
                await Sweep(self.targets, self.plan.tcp, self.limits, self._swept).run()
            for _ in identifiers:
                await self.queue.put(None)
        self.results.sort(key=lambda h: socket.inet_aton(h.ip or "0.0.0.0"))  # noqa: S104
        return self.results

    async def _swept(self, ip: str | None, open_ports: list[int]) -> None:
        if ip is not None and (open_ports or self.udp):
            await self.queue.put((ip, open_ports))
        else:
            self._finish(None)

    # ---------------------------------------------------------------- identification
    async def _identifier(self) -> None:
        while True:
            job = await self.queue.get()
            if job is None:
                return
            self._finish(await self._observe(*job))

    async def _observe(self, ip: str, open_ports: list[int]) -> HostObservation | None:
        dialer = Dialer(ip, self.limits, asyncio.Semaphore(self.settings.per_host))
        s = self.settings
        if self.identify:
            drafts = list(await asyncio.gather(*(
                identify_tcp(dialer, port, banner_wait=s.banner_wait,
                             deadline=s.service_deadline) for port in open_ports)))
        else:
            drafts = [Draft(port, "tcp") for port in open_ports]
        hostname = mac = None
        if self.udp:
            udp = await asyncio.gather(*(
                identify_udp(dialer, port, self.communities, deadline=s.service_deadline)
                for port in self.plan.udp))
            described = {r.description_port for r in udp if r.description_port}
            for draft in drafts:
                if draft.port in described and draft.service in ("http", "unknown"):
                    draft.service = "upnp"
            drafts += [r.draft for r in udp if r.draft is not None]
            hostname = next((r.hostname for r in udp if r.hostname), None)
            mac = next((r.mac for r in udp if r.mac), None)
        if not drafts:
            return None
        services = tuple(d.freeze() for d in drafts)
        return HostObservation(
            source=Source.ACTIVE, observed_at=datetime.now(UTC).isoformat(timespec="seconds"),
            ip=ip, mac=mac, hostname=hostname or _sysname(services), services=services)

    def _finish(self, observation: HostObservation | None) -> None:
        self.done += 1
        if observation is not None:
            self.found += 1
            self.results.append(observation)
        if self.progress is not None:
            self.progress(self.done, self.total, self.found)


def _sysname(services: tuple[ServiceObservation, ...]) -> str | None:
    return next((s.fields[Field.SNMP_SYSNAME] for s in services
                 if Field.SNMP_SYSNAME in s.fields), None)


def check_options(ports: PortPlan | str, profile: Profile | str,
                  rate: int | None) -> tuple[PortPlan, Profile]:
    """The port plan and profile a scan would use; InputError for a bad one or a bad rate."""
    plan = parse_ports(ports) if isinstance(ports, str) else ports
    try:
        chosen = Profile(profile)
    except ValueError:
        raise InputError(f"profile {str(profile)[:32]!r}: use gentle, normal or fast") from None
    if rate is not None and not 1 <= rate <= MAX_RATE:
        raise InputError(f"rate {rate}: must be between 1 and {MAX_RATE} per second")
    return plan, chosen


async def scan(
    targets: Targets | Iterable[str] | str,
    ports: PortPlan | str = "iot-top",
    *,
    udp: bool = False,
    profile: Profile | str = Profile.NORMAL,
    rate: int | None = None,
    progress: Progress | None = None,
    snmp_communities: Iterable[str] = ("public",),
    allow_non_loopback: bool = False,
    identify: bool = True,
    shards: int | None = None,
) -> list[HostObservation]:
    """Scan ``targets`` on ``ports``; one observation per host with anything open.

    ``rate`` overrides the profile's connections per second; ``identify=False`` stops
    after the port sweep (services are then ``unknown``); ``shards`` fixes the number of
    sweep processes (default: several only for big, fast sweeps on a multi-core host).
    """
    if not isinstance(targets, Targets):
        targets = parse_targets(targets, allow_non_loopback=allow_non_loopback)
    check_scope(targets, allow_non_loopback=allow_non_loopback)
    if len(targets) > MAX_ADDRESSES:
        raise InputError(f"{len(targets)} addresses: at most {MAX_ADDRESSES} per scan")
    plan, chosen = check_options(ports, profile, rate)
    communities = tuple(snmp_communities)
    job = _Scan(targets, plan, udp=udp, profile=chosen,
                rate=float(rate or SETTINGS[chosen].rate), progress=progress,
                communities=communities, identify=identify,
                allow_non_loopback=allow_non_loopback, shards=shards)
    return await job.run()


def scan_sync(
    targets: Targets | Iterable[str] | str,
    ports: PortPlan | str = "iot-top",
    *,
    udp: bool = False,
    profile: Profile | str = Profile.NORMAL,
    rate: int | None = None,
    progress: Progress | None = None,
    snmp_communities: Iterable[str] = ("public",),
    allow_non_loopback: bool = False,
    identify: bool = True,
    shards: int | None = None,
) -> list[HostObservation]:
    """``scan`` for callers without an event loop (the CLI)."""
    return asyncio.run(scan(
        targets, ports, udp=udp, profile=profile, rate=rate, progress=progress,
        snmp_communities=snmp_communities, allow_non_loopback=allow_non_loopback,
        identify=identify, shards=shards))
