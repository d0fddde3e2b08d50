"""The TCP connect sweep: which ports of which hosts are open, as fast as the limits allow.

``Sweep`` takes hosts in windows and interleaves their ports, so every worker stays
busy while no host sees a burst; it reports each host as soon as all its ports have
answered. A connect costs the kernel more than Python, so a big sweep (``shards`` > 1)
runs in several worker processes (``python -m ...sweep_worker``, task as JSON on stdin,
results as JSON lines on stdout), each sweeping a contiguous slice of the addresses
with its share of the rate and concurrency; a host lives in one slice, so per-host
limits hold unchanged.

Must not: identify services (the scanner does, in the parent), sweep outside loopback
unless the task says the caller allowed it, or outlive its parent's scan.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from fleetwarden.adapters.discovery.active.limits import (
    SETTINGS,
    Profile,
    RttTracker,
    Settings,
    TokenBucket,
)
from fleetwarden.adapters.discovery.active.net import Dialer, Limits, PortState
from fleetwarden.adapters.discovery.active.targets import Targets
from fleetwarden.errors import ScanError

#: A swept host: its address and open ports. The address is None for a host a worker
#: only counted (nothing open, and the caller did not ask for empty hosts by name).
Swept = Callable[[str | None, list[int]], Awaitable[None]]
_WORKER_MODULE = "fleetwarden.adapters.discovery.active.sweep_worker"


def new_limits(settings: Settings, rate: float) -> Limits:
    return Limits(settings, TokenBucket(rate), asyncio.Semaphore(settings.concurrency),
                  RttTracker(settings))


@dataclass
class _Host:
    ip: str
    dialer: Dialer
    remaining: int
    open: list[int] = field(default_factory=list)


class Sweep:
    """Connect-scans ``ports`` of every target; ``on_swept`` hears each finished host."""

    def __init__(self, targets: Targets, ports: tuple[int, ...], limits: Limits,
                 on_swept: Swept) -> None:
        self.targets, self.ports, self.limits, self.on_swept = targets, ports, limits, on_swept
        s = limits.settings
        self.window = max(64, 2 * s.concurrency // s.per_host)

    async def run(self) -> None:
        items = self._items()
        workers = min(self.limits.settings.concurrency,
                      len(self.targets) * max(1, len(self.ports)))
        await asyncio.gather(*(self._worker(items) for _ in range(max(1, workers))))

    def _items(self) -> Iterator[tuple[_Host, int] | _Host]:
        """(host, port) pairs, port-interleaved per window; a bare host needs no sweep."""
        per_host = self.limits.settings.per_host
        window: list[_Host] = []
        for ip in self.targets:
            host = _Host(ip, Dialer(ip, self.limits, asyncio.Semaphore(per_host)),
                         len(self.ports))
            if not self.ports:
                yield host
                continue
            window.append(host)
            if len(window) >= self.window:
                yield from self._interleave(window)
                window = []
        yield from self._interleave(window)

    def _interleave(self, window: list[_Host]) -> Iterator[tuple[_Host, int]]:
        for port in self.ports:
            for host in window:
                yield host, port

    async def _worker(self, items: Iterator[tuple[_Host, int] | _Host]) -> None:
        for item in items:
            if isinstance(item, _Host):
                await self.on_swept(item.ip, [])
                continue
            host, port = item
            if await host.dialer.probe_port(port) is PortState.OPEN:
                host.open.append(port)
            host.remaining -= 1
            if host.remaining == 0:
                await self.on_swept(host.ip, sorted(host.open))


# ------------------------------------------------------------------ worker processes
def shard(targets: Targets, parts: int) -> list[Targets]:
    """``targets`` cut into at most ``parts`` contiguous slices of similar size."""
    size = -(-len(targets) // parts)
    slices: list[list[tuple[int, int]]] = [[]]
    room = size
    for first, last in targets.ranges:
        while first <= last:
            take = min(room, last - first + 1)
            slices[-1].append((first, first + take - 1))
            first += take
            room -= take
            if room == 0:
                slices.append([])
                room = size
    return [Targets(tuple(s)) for s in slices if s]


async def sweep_in_workers(targets: Targets, ports: tuple[int, ...], profile: Profile,
                           rate: float, parts: int, *, allow_non_loopback: bool,
                           report_empty: bool, on_swept: Swept) -> None:
    """Sweep in ``parts`` worker processes sharing ``rate`` and the profile's concurrency;
    every host they report goes to ``on_swept``."""
    slices = shard(targets, parts)
    share = len(slices)
    task = {"ports": list(ports), "rate": rate / share, "allow": allow_non_loopback,
            "concurrency": max(1, SETTINGS[profile].concurrency // share),
            "profile": profile.value, "report_empty": report_empty}
    processes = []
    try:
        for piece in slices:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", _WORKER_MODULE, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                limit=16 * 1024 * 1024)
            processes.append(process)
            assert process.stdin is not None
            process.stdin.write(json.dumps({**task, "ranges": piece.ranges}).encode())
            process.stdin.close()
        await asyncio.gather(*(_follow(p, len(piece), report_empty, on_swept)
                               for p, piece in zip(processes, slices, strict=True)))
    finally:
        for process in processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            await process.wait()


async def _follow(process: asyncio.subprocess.Process, hosts: int, report_empty: bool,
                  on_swept: Swept) -> None:
    """Relay one worker's findings; hosts it only counted were swept with nothing open."""
    assert process.stdout is not None and process.stderr is not None
    counted = 0
    ended = False
    async for line in process.stdout:
        message = json.loads(line)
        for ip, open_ports in message.get("hosts", []):
            await on_swept(ip, open_ports)
        for _ in range(message.get("empty", 0)):
            await on_swept(None, [])
        counted += message.get("empty", 0) + len(message.get("hosts", []))
        ended = ended or bool(message.get("end"))
    problem = (await process.stderr.read()).decode("utf-8", "replace").strip()
    if await process.wait() != 0 or not ended or counted != hosts:
        last = problem.splitlines()[-1] if problem else "no message"
        raise ScanError(f"a sweep worker failed: {last[:200]}")
