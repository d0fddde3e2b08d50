"""Runs a planned lab: every device's services bound on its own address, in one loop.

One asyncio loop serves every device (1,000 devices are some 5,000 listening sockets);
TLS is layered on per connection with the device's own context, so handlers only speak
their protocol. Binding is all-or-nothing: if one address or port cannot be bound the
lab closes what it opened and reports which one and why.

Must not: bind outside loopback (plans are checked by ``check_bind``), or outlive its
TTL.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import resource
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from fleetwarden.adapters.lab.plan import LabPlan
from fleetwarden.adapters.lab.protocols import OWN_SERVERS, TCP_HANDLERS, UDP_HANDLERS
from fleetwarden.adapters.lab.protocols.base import MAX_LINE, LabContext
from fleetwarden.domain.lab import LOOPBACK, TLS_SERVICES, LabDevice, LabService
from fleetwarden.errors import LabError

log = logging.getLogger("fleetwarden.lab")

#: Largest datagram a simulated device answers with.
_MAX_DATAGRAM = 8192
#: Spare descriptors for connections on top of the listening sockets.
CONNECTION_HEADROOM = 4096
#: Open connections across all devices; beyond this new ones are closed at once, so a
#: client holding thousands of idle connections cannot starve the other devices.
MAX_CONNECTIONS = CONNECTION_HEADROOM - 512


@dataclass
class LabStats:
    connections: int = 0
    datagrams: int = 0
    handler_errors: int = 0
    refused: int = 0
    """Connections closed at once because ``MAX_CONNECTIONS`` were open."""
    started_in: float = 0.0
    sockets: int = 0
    """Listening services (TCP and UDP); FTP data channels come and go on top."""
    by_service: dict[str, int] = field(default_factory=dict)


class LabRuntime:
    """Binds, serves and closes one lab. Use ``async with`` or ``start``/``close``."""

    def __init__(self, plan: LabPlan, lab: LabContext) -> None:
        self.plan, self.lab, self.stats = plan, lab, LabStats()
        self._servers: list[Any] = []
        self._transports: list[asyncio.DatagramTransport] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.active = 0

    async def __aenter__(self) -> LabRuntime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        began = time.perf_counter()
        needed = sum(len(d.services) for d in self.plan.devices)
        raise_descriptor_limit(needed + CONNECTION_HEADROOM)
        try:
            for device in self.plan.devices:
                inside = ipaddress.IPv4Address(device.ip) in LOOPBACK
                if not inside and self.lab.sockets is None:
                    raise LabError(f"{device.ip}: the lab binds only to loopback")
                for service in device.services:
                    await self._bind(device, service)
        except BaseException:
            await self.close()
            raise
        self.stats.sockets = needed
        self.stats.started_in = time.perf_counter() - began

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for transport in self._transports:
            transport.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for server in self._servers:
            try:
                await asyncio.wait_for(server.wait_closed(), 5)
            except (TimeoutError, Exception):  # noqa: BLE001 - closing must finish
                log.debug("server did not close cleanly", exc_info=True)
        self._servers.clear()
        self._transports.clear()

    # ------------------------------------------------------------------ binding
    async def _bind(self, device: LabDevice, service: LabService) -> None:
        loop = asyncio.get_running_loop()
        try:
            if service.service in OWN_SERVERS:
                self._servers.append(await OWN_SERVERS[service.service](device, service, self.lab))
            elif service.transport == "tcp":
                tls = (self.lab.tls.listener_context(device, service)
                       if service.service in TLS_SERVICES else None)
                sock = self.lab.bound_socket(device, service)
                where: dict[str, Any] = ({"sock": sock} if sock else
                                         {"host": device.ip, "port": service.port,
                                          "reuse_address": True, "backlog": 64})
                server = await asyncio.start_server(
                    _Connection(self, device, service), limit=MAX_LINE * 2, ssl=tls,
                    ssl_handshake_timeout=15 if tls else None, **where)
                self._servers.append(server)
            else:
                sock = self.lab.bound_socket(device, service)
                # reuse_port lets mDNS on 5353 coexist with avahi/systemd-resolved, which
                # bind the wildcard address with SO_REUSEPORT; lab.lock keeps labs apart.
                where = ({"sock": sock} if sock else
                         {"local_addr": (device.ip, service.port), "reuse_port": True})
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Datagrams(self, device, service), **where)
                self._transports.append(transport)
        except OSError as exc:
            place = f"{device.ip}:{service.port}/{service.transport} ({service.service.value})"
            if exc.errno == errno.EADDRINUSE:
                raise LabError(f"{place}: address in use (is another lab running? "
                               "try `fleetwarden lab down`)") from None
            if exc.errno == errno.EACCES:
                raise LabError(f"{place}: permission denied (ports below 1024 need root; "
                               "the lab adds 20000 when it cannot bind them)") from None
            if exc.errno == errno.EMFILE:
                raise LabError(f"{place}: out of file descriptors; raise `ulimit -n` or "
                               "use fewer devices") from None
            raise LabError(f"{place}: {exc.strerror}") from None

    def count(self, service: LabService) -> None:
        key = service.service.value
        self.stats.by_service[key] = self.stats.by_service.get(key, 0) + 1


class _Connection:
    """One TCP service of one device: TLS first where due, then the protocol handler."""

    def __init__(self, runtime: LabRuntime, device: LabDevice, service: LabService) -> None:
        self.runtime, self.device, self.service = runtime, device, service
        self.handler = TCP_HANDLERS[service.service]

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stats, lab = self.runtime.stats, self.runtime.lab
        if self.runtime.active >= MAX_CONNECTIONS:
            stats.refused += 1
            writer.close()
            return
        self.runtime.active += 1
        stats.connections += 1
        self.runtime.count(self.service)
        task = asyncio.current_task()
        if task is not None:
            self.runtime._tasks.add(task)
        try:
            await self.handler(self.device, self.service, reader, writer, lab)
            await writer.drain()
        except (ConnectionError, ssl.SSLError, TimeoutError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, asyncio.CancelledError):
            pass
        except Exception:  # noqa: BLE001 - one broken session must not stop the lab
            stats.handler_errors += 1
            log.exception("lab %s %s handler failed", self.device.ip, self.service.service)
        finally:
            writer.close()
            self.runtime.active -= 1
            if task is not None:
                self.runtime._tasks.discard(task)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, runtime: LabRuntime, device: LabDevice, service: LabService) -> None:
        self.runtime, self.device, self.service = runtime, device, service
        self.handler = UDP_HANDLERS[service.service]
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.runtime.stats.datagrams += 1
        self.runtime.count(self.service)
        try:
            answer = self.handler(self.device, self.service, data, addr, self.runtime.lab)
        except Exception:  # noqa: BLE001 - a malformed datagram must not stop the lab
            self.runtime.stats.handler_errors += 1
            log.exception("lab %s %s handler failed", self.device.ip, self.service.service)
            return
        if answer and self.transport is not None:
            self.transport.sendto(answer[:_MAX_DATAGRAM], addr)


def raise_descriptor_limit(needed: int) -> None:
    """Lift the open-files limit towards ``needed`` (root may lift the hard limit too)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    for new_hard in (max(hard, needed), hard):
        target = needed if new_hard == resource.RLIM_INFINITY else min(needed, new_hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, new_hard))
        except (ValueError, OSError):
            continue
        if target >= needed:
            return
    raise LabError(f"the lab needs about {needed} open files but the limit is "
                   f"{resource.getrlimit(resource.RLIMIT_NOFILE)[0]}; raise `ulimit -n` or "
                   "use fewer devices")


def summary(stats: LabStats) -> Mapping[str, Any]:
    return {"sockets": stats.sockets, "started_in_seconds": round(stats.started_in, 3),
            "connections": stats.connections, "datagrams": stats.datagrams,
            "handler_errors": stats.handler_errors}
