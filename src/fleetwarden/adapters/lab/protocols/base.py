"""What every simulated protocol gets from the lab runtime, and small wire helpers.

The helpers exist once so that every personality (and the pcap writer) turns persona
text into bytes, cleans header values, reads lines and looks up firmware components the
same way.

A TCP personality is ``async def serve(device, service, reader, writer, lab)``: the
runtime has already done TLS for TLS services, closes the writer afterwards and logs
anything the handler raises, so a handler only speaks its protocol. A UDP personality
is ``def answer(device, service, datagram, peer, lab) -> bytes | None``. Handlers must
bound everything a client controls (line length, message size, idle time): clients of
the lab are scanners and fuzzers.

Must not: bind sockets the runtime binds for it (the one exception, FTP's passive data
listener, goes through ``lab.sockets`` under ``--netns``), or write anything outside
``lab.run_dir``.
"""

from __future__ import annotations

import asyncio
import re
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


#: Surrogates ``surrogateescape`` cannot turn back into a byte (only U+DC80..U+DCFF can).
_STRAY_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")


def wire(text: str) -> bytes:
    """Persona text as bytes; lone surrogates become the invalid bytes they stand for.

    A surrogate that stands for no byte becomes U+FFFD instead of raising, so no persona
    text can make a handler fail.
    """
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return _STRAY_SURROGATE.sub("\ufffd", text).encode("utf-8", "surrogateescape")


def header_value(value: str | bytes) -> bytes:
    """Text (``wire``-encoded) or bytes as one header value: never a CR, LF or NUL, so no
    persona text can end a header line early and forge another (HTTP, RTSP, SSDP)."""
    raw = wire(value) if isinstance(value, str) else value
    return raw.replace(b"\r", b"").replace(b"\n", b"").replace(b"\0", b"")


def component_version(device: LabDevice, name: str) -> str | None:
    """The version of firmware component ``name`` (``busybox``, ``linux``...), if any:
    what a device's banners and fingerprints derive from."""
    return next((c.version for c in device.components if c.name == name), None)


async def read_line(reader: asyncio.StreamReader, *,
                    timeout: float = IDLE_TIMEOUT) -> bytes | None:
    """One line without its LF or CR LF: b"" for a blank line (someone pressed Enter),
    None at EOF, on timeout, or when the line is longer than ``MAX_LINE``."""
    try:
        line = await asyncio.wait_for(reader.readuntil(b"\n"), timeout)
    except (asyncio.LimitOverrunError, asyncio.IncompleteReadError, TimeoutError,
            ConnectionError):
        return None
    line = line[:-1].removesuffix(b"\r")
    return line if len(line) <= MAX_LINE else None


async def read_exactly(reader: asyncio.StreamReader, n: int, *,
                       timeout: float = IDLE_TIMEOUT) -> bytes | None:
    """Exactly ``n`` bytes, or None at EOF or timeout."""
    try:
        return await asyncio.wait_for(reader.readexactly(n), timeout)
    except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
        return None
