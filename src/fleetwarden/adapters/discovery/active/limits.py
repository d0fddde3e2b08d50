"""How hard a scan may push: profiles, the global rate limit and adaptive timeouts.

A profile fixes the rate (new connections per second, shared by TCP connects, protocol
probes and UDP datagrams), the concurrency cap, how many connections one host may see
at once (``gentle``: one, for fragile OT kit) and the bounds of the adaptive timeouts.
Timeouts follow the network: each /24 keeps its recent round-trip times and a connect
waits about three times their 95th percentile, never less or more than the profile's
bounds.

Must not: open sockets or know any protocol.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from enum import StrEnum


class Profile(StrEnum):
    GENTLE = "gentle"
    NORMAL = "normal"
    FAST = "fast"


@dataclass(frozen=True, slots=True)
class Settings:
    rate: float
    """New connections (and UDP exchanges) per second across the whole scan."""
    concurrency: int
    """Connections open at once across the whole scan."""
    per_host: int
    """Connections one host sees at once."""
    connect_initial: float
    """Connect timeout before a network has answered anything."""
    connect_min: float
    connect_max: float
    read_min: float
    """Shortest wait for a protocol answer (devices think slower than they ACK)."""
    read_max: float
    banner_wait: float
    """How long an unknown port gets to speak first."""
    udp_wait: float
    retries: int
    """Extra connect attempts after a timeout (a refusal is an answer)."""
    service_deadline: float
    """Ceiling on identifying one port, whatever the service does."""


SETTINGS: dict[Profile, Settings] = {
    Profile.GENTLE: Settings(rate=50, concurrency=32, per_host=1, connect_initial=2.0,
                             connect_min=1.0, connect_max=6.0, read_min=4.0, read_max=10.0,
                             banner_wait=2.0, udp_wait=2.0, retries=2, service_deadline=40.0),
    Profile.NORMAL: Settings(rate=2000, concurrency=512, per_host=8, connect_initial=1.0,
                             connect_min=0.3, connect_max=3.0, read_min=2.5, read_max=6.0,
                             banner_wait=1.0, udp_wait=1.5, retries=1, service_deadline=20.0),
    Profile.FAST: Settings(rate=100_000, concurrency=1024, per_host=16, connect_initial=0.6,
                           connect_min=0.15, connect_max=1.5, read_min=2.0, read_max=4.0,
                           banner_wait=0.6, udp_wait=1.0, retries=0, service_deadline=12.0),
}


class TokenBucket:
    """Spaces connection starts at ``rate`` per second, with a burst of ``burst``.

    Each caller reserves the next free slot, so waiters are served in order and the
    long-run rate never exceeds ``rate``; slots closer than a millisecond are not slept
    for (sleeping that finely costs more than it smooths).
    """

    def __init__(self, rate: float | None, burst: float | None = None) -> None:
        self.rate = rate if rate and rate > 0 else None
        self.burst = burst if burst is not None else max(1.0, (self.rate or 0) / 100)
        self._next = 0.0

    def reserve(self) -> float:
        """Reserve the next slot; the seconds to wait for it (0 when it is now)."""
        if self.rate is None:
            return 0.0
        now = time.monotonic()
        slot = max(self._next, now - self.burst / self.rate)
        self._next = slot + 1.0 / self.rate
        delay = slot - now
        return delay if delay > 0.001 else 0.0

    async def take(self) -> None:
        delay = self.reserve()
        if delay:
            await asyncio.sleep(delay)


class RttTracker:
    """Round-trip times per /24 and the connect/read timeouts they imply."""

    _SAMPLES = 64
    _RECOMPUTE_EVERY = 8

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._samples: dict[int, deque[float]] = {}
        self._connect: dict[int, float] = {}
        self._fresh: dict[int, int] = {}

    def observe(self, ip_value: int, rtt: float) -> None:
        key = ip_value >> 8
        samples = self._samples.get(key)
        if samples is None:
            samples = self._samples[key] = deque(maxlen=self._SAMPLES)
        samples.append(rtt)
        count = self._fresh.get(key, 0) + 1
        if count >= self._RECOMPUTE_EVERY or key not in self._connect:
            ordered = sorted(samples)
            p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
            s = self.settings
            self._connect[key] = min(s.connect_max, max(s.connect_min, 3.0 * p95))
            count = 0
        self._fresh[key] = count

    def connect_timeout(self, ip_value: int) -> float:
        return self._connect.get(ip_value >> 8, self.settings.connect_initial)

    def read_timeout(self, ip_value: int) -> float:
        """A protocol answer's wait: a few connect timeouts, within the profile's bounds."""
        s = self.settings
        return min(s.read_max, max(s.read_min, 4.0 * self.connect_timeout(ip_value)))

    def udp_timeout(self, ip_value: int) -> float:
        return min(self.settings.read_max,
                   max(self.settings.udp_wait, 3.0 * self.connect_timeout(ip_value)))
