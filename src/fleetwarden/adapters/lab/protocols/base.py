"""What every simulated protocol gets from the lab runtime, and small wire helpers.

A TCP personality is ``async def serve(device, service, reader, writer, lab)``: the
runtime has already done TLS for TLS services, closes the writer afterwards and logs
anything the handler raises, so a handler only speaks its protocol. A UDP personality
is ``def answer(device, service, datagram, peer, lab) -> bytes | None``. Handlers must
bound everything a client controls (line length, message size, idle time): clients of
the lab are scanners and fuzzers.

Must not: bind sockets (the runtime does), or write anything outside ``lab.run_dir``.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fleetwarden.domain.lab import LabDevice, LabService

#: Seconds a client may stay silent before a simulated device hangs up.
IDLE_TIMEOUT = 30.0
#: Longest line or header block a simulated device reads.
MAX_LINE = 8192


class TlsProvider(Protocol):
    def listener_context(self, device: LabDevice, service: LabService) -> ssl.SSLContext:
        """The context a TLS service listens with (cheap; certificates come later)."""
        ...

    def server_context(self, device: LabDevice, service: LabService) -> ssl.SSLContext:
        """The TLS context a device serves on a TLS service (made on first use)."""
        ...


@dataclass
class LabContext:
    run_dir: Path
    """Where the running lab keeps files (certificates, keys); private to the lab."""
    tls: TlsProvider
    state: dict[tuple[int, str], Any] = field(default_factory=dict)
    """Per-device protocol state, keyed by (device index, protocol), e.g. retained MQTT."""
    sockets: Callable[[LabDevice, str, int], socket.socket] | None = None
    """With ``--netns``: makes a bound socket inside the device's namespace."""

    def bound_socket(self, device: LabDevice, service: LabService) -> socket.socket | None:
        """A pre-bound socket for the service in --netns mode; None on loopback."""
        if self.sockets is None:
            return None
        return self.sockets(device, service.transport, service.port)

    def device_state(self, device: LabDevice, protocol: str, make: Callable[[], Any]) -> Any:
        key = (device.index, protocol)
        if key not in self.state:
            self.state[key] = make()
        return self.state[key]


TcpHandler = Callable[
    [LabDevice, LabService, asyncio.StreamReader, asyncio.StreamWriter, LabContext],
    Awaitable[None],
]
UdpHandler = Callable[[LabDevice, LabService, bytes, tuple[str, int], LabContext], bytes | None]


def upnp_uuid(device: LabDevice) -> str:
    """The device's UPnP UDN (without ``uuid:``): SSDP and the description XML agree."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fleetwarden-lab:{device.serial}"))


def wire(text: str) -> bytes:
    """Persona text as bytes; lone surrogates become the invalid bytes they stand for."""
    return text.encode("utf-8", "surrogateescape")


async def read_line(reader: asyncio.StreamReader, *, timeout: float = IDLE_TIMEOUT) -> bytes:
    """One line (without CR/LF), at most ``MAX_LINE`` bytes; b"" at EOF or timeout."""
    try:
        line = await asyncio.wait_for(reader.readuntil(b"\n"), timeout)
    except asyncio.LimitOverrunError:
        return b""
    except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
        return b""
    return line[:MAX_LINE].rstrip(b"\r\n")


async def read_exactly(reader: asyncio.StreamReader, n: int, *,
                       timeout: float = IDLE_TIMEOUT) -> bytes | None:
    """Exactly ``n`` bytes, or None at EOF or timeout."""
    try:
        return await asyncio.wait_for(reader.readexactly(n), timeout)
    except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
        return None
