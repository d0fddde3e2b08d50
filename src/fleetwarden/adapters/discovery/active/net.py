"""The scanner's only way onto the network: connects, streams and datagrams, all limited.

Every connection and UDP exchange goes through a ``Dialer`` for one host, which takes a
token from the scan's rate limit, a slot of the global concurrency cap and a slot of
the host's own cap (one, under ``gentle``) and holds them until the connection is shut.
Reads are bounded in bytes and time; a connection is aborted, never lingered on, so a
device that stops reading cannot hold the scan.

Must not: connect anywhere but its host (whose scope the scanner has checked), read
without a byte limit and a deadline, or leave a socket or transport open.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from fleetwarden.adapters.discovery.active.limits import RttTracker, Settings, TokenBucket

T = TypeVar("T")

#: Largest chunk one read asks for.
_CHUNK = 16 * 1024
#: Errors that mean "this machine is out of sockets for a moment": wait and retry.
_TRANSIENT = {errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL, errno.ENOBUFS, errno.EAGAIN}
_TRANSIENT_TRIES = 50
#: Not an errno: a connect that got no answer in time.
_TIMED_OUT = -1
#: Datagrams one UDP exchange collects at most.
_MAX_ANSWERS = 64


class PortState(Enum):
    OPEN = "open"
    CLOSED = "closed"
    FILTERED = "filtered"


@dataclass
class Limits:
    """What all hosts of one scan share: the rate, the global cap and the RTT history."""

    settings: Settings
    bucket: TokenBucket
    gate: asyncio.Semaphore
    rtt: RttTracker


class Stream:
    """A connected TCP (or TLS) stream with bounded reads."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def read_some(self, limit: int, timeout: float) -> bytes:
        """Whatever arrives first (at most ``limit`` bytes); b"" on EOF or timeout."""
        try:
            return await asyncio.wait_for(self.reader.read(min(limit, _CHUNK)), timeout)
        except (TimeoutError, ConnectionError, OSError, ssl.SSLError):
            return b""

    async def read_until_quiet(self, limit: int, first: float, gap: float,
                               total: float, done: Callable[[bytes], bool] | None = None
                               ) -> bytes:
        """Bytes until ``limit``, EOF, ``gap`` seconds of silence after the first byte,
        ``total`` seconds in all, or ``done(data)`` says the message is complete."""
        data = bytearray()
        deadline = time.monotonic() + total
        wait = first
        while len(data) < limit:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            chunk = await self.read_some(limit - len(data), min(wait, left))
            if not chunk:
                break
            data += chunk
            if done is not None and done(bytes(data)):
                break
            wait = gap
        return bytes(data)

    async def read_exactly(self, n: int, timeout: float) -> bytes | None:
        try:
            return await asyncio.wait_for(self.reader.readexactly(n), timeout)
        except (TimeoutError, ConnectionError, OSError, ssl.SSLError,
                asyncio.IncompleteReadError):
            return None

    def ssl_object(self) -> ssl.SSLObject | None:
        obj = self.writer.get_extra_info("ssl_object")
        return obj if isinstance(obj, ssl.SSLObject) else None


class Dialer:
    """Opens limited connections to one host."""

    def __init__(self, ip: str, limits: Limits, host_gate: asyncio.Semaphore) -> None:
        self.ip = ip
        self.ip_value = int.from_bytes(socket.inet_aton(ip), "big")
        self.limits = limits
        self.host_gate = host_gate

    @property
    def read_timeout(self) -> float:
        return self.limits.rtt.read_timeout(self.ip_value)

    @property
    def udp_timeout(self) -> float:
        return self.limits.rtt.udp_timeout(self.ip_value)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """The host's and the scan's connection slots, after a rate-limit token."""
        async with self.host_gate, self.limits.gate:
            delay = self.limits.bucket.reserve()
            if delay:
                await asyncio.sleep(delay)
            yield

    async def probe_port(self, port: int) -> PortState:
        """TCP connect scan of one port, with the profile's retries after timeouts.

        This is the sweep's hot path (a /16 on 30 ports is two million calls), kept in
        one coroutine. A connect that is answered at once (any near host) never yields
        to the event loop, so it needs no slot: nothing else can start meanwhile. Slots
        are taken before the connect when they are busy, and before waiting when the
        answer is not there yet.
        """
        limits = self.limits
        host_gate, gate, bucket = self.host_gate, limits.gate, limits.bucket
        where = (self.ip, port)
        attempts = limits.settings.retries + 1
        transient = 0
        while attempts > 0 and transient < _TRANSIENT_TRIES:
            delay = bucket.reserve()
            if delay:
                await asyncio.sleep(delay)
            held = host_gate.locked() or gate.locked()
            if held:
                await host_gate.acquire()
                await gate.acquire()
            try:
                began = time.monotonic()
                code = _connect_now(where)
                if code < 0:  # still connecting: wait for it, holding both slots
                    if not held:  # both are free: nothing ran since the check
                        held = True
                        await host_gate.acquire()
                        await gate.acquire()
                    code = await _finish_connect(-code, limits.rtt.connect_timeout(
                        self.ip_value))
            finally:
                if held:
                    gate.release()
                    host_gate.release()
            if code in _TRANSIENT:
                transient += 1
                await asyncio.sleep(0.02)  # out of descriptors or source ports for a moment
                continue
            if code == _TIMED_OUT:
                attempts -= 1
                continue
            limits.rtt.observe(self.ip_value, time.monotonic() - began)
            # refused, or unreachable by ICMP: closed as far as a connect scan can tell
            return PortState.OPEN if code == 0 else PortState.CLOSED
        return PortState.FILTERED

    @asynccontextmanager
    async def stream(self, port: int, *, tls: ssl.SSLContext | None = None,
                     timeout: float | None = None) -> AsyncIterator[Stream | None]:
        """A stream to ``port`` (TLS when given a context), or None if it cannot be made."""
        wait = timeout or self.read_timeout
        async with self.slot():
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.ip, port, ssl=tls, limit=_CHUNK * 2,
                                            ssl_handshake_timeout=wait if tls else None),
                    wait * (2 if tls else 1))
            except (OSError, TimeoutError, ssl.SSLError, ValueError, EOFError):
                yield None
                return
            try:
                yield Stream(reader, writer)
            finally:
                await _shut(writer)

    async def exclusive(self, work: Callable[[], Awaitable[T]], timeout: float) -> T | None:
        """Run a library's own connection (asyncssh) under this host's limits."""
        async with self.slot():
            try:
                return await asyncio.wait_for(work(), timeout)
            except (OSError, TimeoutError, ssl.SSLError, ValueError, EOFError):
                return None

    async def exchange(self, port: int, datagrams: list[bytes], *, timeout: float,
                       until: Callable[[bytes], bool] | None = None,
                       limit: int = 65535) -> list[bytes]:
        """Send ``datagrams`` from one UDP socket and collect answers until ``until``
        accepts one (any answer, without it), the timeout, or 64 answers. UDP is lossy:
        when nothing acceptable has come back halfway through, the datagrams go again."""
        loop = asyncio.get_running_loop()
        answers: list[bytes] = []
        async with self.slot():
            sock = await _new_socket(socket.SOCK_DGRAM)
            try:
                sock.setblocking(False)
                sock.connect((self.ip, port))
                for datagram in datagrams:
                    sock.send(datagram)
                began = time.monotonic()
                deadline, resend = began + timeout, began + timeout / 2
                while len(answers) < _MAX_ANSWERS:
                    now = time.monotonic()
                    if now >= deadline:
                        break
                    if resend and now >= resend:
                        resend = 0.0
                        for datagram in datagrams:
                            sock.send(datagram)
                    wait = (resend or deadline) - now
                    try:
                        data = (await asyncio.wait_for(loop.sock_recv(sock, limit), wait))
                    except TimeoutError:
                        continue
                    answers.append(data[:limit])
                    if until is None or until(data):
                        break
            except OSError:
                pass  # ICMP port unreachable (or no buffer): what was answered is the answer
            finally:
                sock.close()
        return answers


async def _new_socket(kind: int) -> socket.socket:
    """A socket, waiting briefly while the process is out of descriptors."""
    for _ in range(_TRANSIENT_TRIES):
        try:
            return socket.socket(socket.AF_INET, kind)
        except OSError as exc:
            if exc.errno not in _TRANSIENT:
                raise
            await asyncio.sleep(0.02)
    return socket.socket(socket.AF_INET, kind)


def _connect_now(where: tuple[str, int]) -> int:
    """Start a non-blocking connect: 0, an errno, or minus the fd of a pending socket."""
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
    except OSError as exc:
        return exc.errno or errno.EMFILE
    try:
        code = sock.connect_ex(where)
        if code == errno.EINPROGRESS:
            # Asking again is one cheap syscall; near hosts have answered by now
            # (0 or a refusal), which saves a trip through the selector.
            code = sock.connect_ex(where)
            if code in (errno.EALREADY, errno.EINPROGRESS):
                return -sock.detach()
            if code == errno.EISCONN:
                code = 0
    finally:
        sock.close()
    return code


async def _finish_connect(fd: int, timeout: float) -> int:
    """Wait for a pending connect on ``fd`` (and close it): its result, or _TIMED_OUT."""
    with socket.socket(fileno=fd) as sock:
        if not await _writable(sock, timeout):
            return _TIMED_OUT
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)


async def _writable(sock: socket.socket, timeout: float) -> bool:
    """Wait for a non-blocking connect to finish; False on timeout."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    fd = sock.fileno()

    def ready() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_writer(fd, ready)
    try:
        await asyncio.wait_for(done, timeout)
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_writer(fd)


async def _shut(writer: asyncio.StreamWriter) -> None:
    """Abort (no TLS close_notify, no lingering) and wait for the socket to be gone."""
    writer.transport.abort()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 1.0)
