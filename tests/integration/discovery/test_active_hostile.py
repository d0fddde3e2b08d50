"""The scanner against servers of our own that misbehave, count, or try to mislead it.

Small asyncio servers on this worker's loopback addresses: one accepts and never
speaks, one floods megabytes of junk, one answers HTTP with an endless body, one drops
SYNs (full accept queue), one counts how many connections it holds at once (``gentle``
must never make it two), an SSDP responder whose LOCATION points at another host (never
to be fetched), and CoAP / BACnet responders.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import cast

from fleetwarden.adapters.discovery.active import PortPlan, Profile, scan
from fleetwarden.adapters.discovery.active.banner import strip_telnet
from fleetwarden.adapters.discovery.active.hints import tcp_hint
from fleetwarden.adapters.discovery.active.snmp import (
    SYS_DESCR,
    decode_oid,
    get_request,
    parse_response,
)
from fleetwarden.domain.discovery import MAX_TEXT, Field
from tests.integration.lab.harness import next_ip

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _free_port(ip: str) -> int:
    with socket.socket() as sock:
        sock.bind((ip, 0))
        return int(sock.getsockname()[1])


async def _serve(ip: str, handler: Handler) -> tuple[asyncio.Server, int]:
    """A server on an ephemeral port that no port hint names (else it is not 'unknown')."""
    while True:
        server = await asyncio.start_server(handler, ip, 0)
        port = server.sockets[0].getsockname()[1]
        if tcp_hint(port) is None:
            return server, port
        server.close()
        await server.wait_closed()


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.read()  # until the scanner gives up and closes
    finally:
        writer.close()


async def _flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # random junk, minus the bytes a console prompt ends with ("#", "$", ">", ":" and
    # whitespace): junk that happens to end like a prompt is rightly called a debug console
    chunk = bytes(b for b in os.urandom(80 * 1024) if b not in b"#$>%: \r\n\t")[:64 * 1024]
    try:
        for _ in range(64):  # 4 MiB unless the scanner hangs up first
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def test_silent_flooding_and_closed_ports_neither_stall_nor_crash_the_scan():
    async def main() -> None:
        ip = next_ip()
        closed = _free_port(ip)
        silent, silent_port = await _serve(ip, _silent)
        flood, flood_port = await _serve(ip, _flood)
        try:
            began = time.monotonic()
            hosts = await scan([ip], PortPlan((silent_port, flood_port, closed)))
            took = time.monotonic() - began
        finally:
            for server in (silent, flood):
                server.close()
                await server.wait_closed()
        assert took < 20
        [host] = hosts
        by_port = {s.port: s for s in host.services}
        assert set(by_port) == {silent_port, flood_port}
        assert by_port[silent_port].service == "unknown" and by_port[silent_port].banner is None
        junk = by_port[flood_port]
        assert junk.service == "unknown" and junk.banner
        assert isinstance(junk.banner, str) and len(junk.banner) <= MAX_TEXT

    asyncio.run(main())


async def _endless_page(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nServer: Endless/1.0\r\n\r\n"
                     b"<html><head><title>Endless\n  page</title></head><body>")
        for _ in range(256):  # 16 MiB of body unless the scanner stops reading
            writer.write(b"<p>" + b"A" * 65530 + b"</p>")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


def test_an_endless_http_answer_is_read_within_its_bounds():
    async def main() -> None:
        ip = next_ip()
        server, port = await _serve(ip, _endless_page)
        try:
            began = time.monotonic()
            hosts = await scan([ip], PortPlan((port,)), profile=Profile.FAST)
            took = time.monotonic() - began
        finally:
            server.close()
            await server.wait_closed()
        [service] = hosts[0].services
        assert service.service == "http"
        assert (service.product, service.version) == ("Endless", "1.0")
        assert service.fields[Field.HTTP_TITLE] == "Endless page"
        assert took < 10

    asyncio.run(main())


def _client_still_open(transport: asyncio.BaseTransport) -> bool:
    """Kernel truth: has the scanner's FIN or RST reached this accepted socket yet?"""
    raw = transport.get_extra_info("socket")
    if raw is None:
        return False
    with socket.fromfd(raw.fileno(), socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except BlockingIOError:
            return True  # no data, no FIN: the client holds it open
        except OSError:
            return False  # reset


class _Counter(asyncio.Protocol):
    """Counts the connections the client holds open at once on one host.

    asyncio sees a client's close only an iteration or two after it happened, so the
    server does not count its own transports: it asks the kernel, for every accepted
    socket, whether the client's FIN or RST has arrived (at each accept, and every
    millisecond while the scan runs).
    """

    transports: set[asyncio.BaseTransport] = set()
    peak = 0
    total = 0

    @classmethod
    def reset(cls) -> None:
        cls.transports, cls.peak, cls.total = set(), 0, 0

    @classmethod
    def sample(cls) -> None:
        live = sum(_client_still_open(t) for t in list(cls.transports))
        cls.peak = max(cls.peak, live)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        type(self).transports.add(transport)
        type(self).total += 1
        type(self).sample()
        # No prompt: the scanner waits for the quiet gap, so each banner read holds its
        # connection for a while and a second one at the same time would show.
        cast(asyncio.Transport, transport).write(b"counter console\r\n")

    def connection_lost(self, exc: Exception | None) -> None:
        type(self).transports.discard(self.transport)


async def _counted_scan(profile: Profile, open_ports: int, closed_ports: int) -> int:
    """Scan one host with counting servers; the peak of connections held at once."""
    _Counter.reset()
    ip = next_ip()
    loop = asyncio.get_running_loop()
    servers = [await loop.create_server(_Counter, ip, 0) for _ in range(open_ports)]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    closed = [_free_port(ip) for _ in range(closed_ports)]

    async def sampler() -> None:
        while True:
            await asyncio.sleep(0.001)
            _Counter.sample()

    watch = asyncio.create_task(sampler())
    try:
        hosts = await scan([ip], PortPlan(tuple(sorted(ports + closed))), profile=profile)
    finally:
        watch.cancel()
        for server in servers:
            server.close()
            await server.wait_closed()
    assert {s.port for s in hosts[0].services} == set(ports)
    assert all(s.banner == "counter console" for s in hosts[0].services)
    assert _Counter.total >= 2 * open_ports  # the sweep, then one banner read per port
    return _Counter.peak


def test_gentle_profile_never_opens_two_connections_to_one_host():
    assert asyncio.run(_counted_scan(Profile.GENTLE, 6, 4)) == 1


def test_normal_profile_does_use_parallel_connections():
    assert asyncio.run(_counted_scan(Profile.NORMAL, 8, 0)) > 1


def test_rate_limit_spaces_connections():
    async def main() -> None:
        ip = next_ip()
        closed = tuple(sorted({_free_port(ip) for _ in range(30)}))
        began = time.monotonic()
        assert await scan([ip], PortPlan(closed), rate=20) == []
        assert time.monotonic() - began >= (len(closed) - 2) / 20

    asyncio.run(main())


# ------------------------------------------------------------------ SSDP, CoAP, BACnet
class _Udp(asyncio.DatagramProtocol):
    def __init__(self, answer: Callable[[bytes], bytes | None]) -> None:
        self.answer = answer
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.answer(data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


def test_ssdp_location_on_another_host_is_never_fetched():
    async def main() -> None:
        ip, elsewhere = next_ip(), next_ip()
        fetched: list[bytes] = []

        async def description(reader: asyncio.StreamReader,
                              writer: asyncio.StreamWriter) -> None:
            fetched.append(await reader.read(1024))
            writer.close()

        decoy, decoy_port = await _serve(elsewhere, description)
        answer = (f"HTTP/1.1 200 OK\r\nLOCATION: http://{elsewhere}:{decoy_port}/d.xml\r\n"
                  "SERVER: Decoy/1.0 UPnP/1.0\r\nST: upnp:rootdevice\r\n\r\n").encode()
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(lambda d: answer if d.startswith(b"M-SEARCH") else None),
            local_addr=(ip, 0))
        port = transport.get_extra_info("sockname")[1]
        try:
            hosts = await scan([ip], PortPlan((), (port,)), udp=True)
        finally:
            transport.close()
            decoy.close()
            await decoy.wait_closed()
        [service] = hosts[0].services
        assert service.service == "ssdp"
        assert service.fields[Field.UPNP_SERVER] == "Decoy/1.0 UPnP/1.0"
        assert Field.UPNP_MANUFACTURER not in service.fields
        assert fetched == []

    asyncio.run(main())


def _coap_answer(data: bytes) -> bytes | None:
    if len(data) < 4 or data[1] != 0x01:
        return None
    tkl = data[0] & 0x0F
    ack = bytes([0x60 | tkl, 0x45]) + data[2:4] + data[4:4 + tkl]  # ACK 2.05 Content
    return ack + b"\xff" + b'</sensors/temp>;rt="temperature";if="sensor"'


def _i_am(data: bytes) -> bytes | None:
    if data[-2:] != b"\x10\x08":
        return None
    apdu = bytes([0x10, 0x00, 0xC4, 0x02, 0x00, 0x04, 0xD2,  # device, instance 1234
                  0x22, 0x05, 0xC4, 0x91, 0x00, 0x21, 0x07])  # 1476 bytes, seg, vendor 7
    npdu = b"\x01\x00" + apdu
    return b"\x81\x0b" + (4 + len(npdu)).to_bytes(2, "big") + npdu


def test_coap_and_bacnet_probes():
    async def main() -> None:
        ip = next_ip()
        loop = asyncio.get_running_loop()
        coap, _ = await loop.create_datagram_endpoint(lambda: _Udp(_coap_answer),
                                                      local_addr=(ip, 5683))
        bacnet, _ = await loop.create_datagram_endpoint(lambda: _Udp(_i_am),
                                                        local_addr=(ip, 47808))
        try:
            hosts = await scan([ip], PortPlan((), (5683, 47808)), udp=True)
        finally:
            coap.close()
            bacnet.close()
        by_port = {s.port: s for s in hosts[0].services}
        assert by_port[5683].service == "coap"
        assert "</sensors/temp>" in (by_port[5683].banner or "")
        assert by_port[47808].service == "bacnet"
        assert by_port[47808].banner == "BACnet device 1234 vendor 7"

    asyncio.run(main())


def test_unsolicited_junk_datagrams_are_ignored():
    async def main() -> None:
        ip = next_ip()
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(lambda d: os.urandom(900)), local_addr=(ip, 0))
        port = transport.get_extra_info("sockname")[1]
        try:
            hosts = await scan([ip], PortPlan((), (port,)), udp=True, profile=Profile.FAST)
        finally:
            transport.close()
        assert hosts == []

    asyncio.run(main())


# ------------------------------------------------------------------ parsers on junk
def test_telnet_negotiation_is_stripped_across_commands():
    data = bytes([255, 253, 1, 255, 251, 3, 255, 250, 31, 0, 80, 255, 240]) + b"hi\xff\xffthere"
    text, negotiation = strip_telnet(data + b"\xff")
    assert text == b"hi\xffthere"
    assert negotiation == bytes([255, 253, 1, 255, 251, 3])


def test_snmp_codec_round_trip_and_junk():
    request = get_request(b"public", 77, (SYS_DESCR,))
    assert decode_oid(bytes([0x2B, 6, 1, 2, 1, 1, 1, 0])) == SYS_DESCR
    response = bytearray(request)
    response[response.index(0xA0)] = 0xA2  # a GetResponse echoing the request
    community, request_id, values = parse_response(bytes(response))
    assert (community, request_id) == (b"public", 77)
    assert values == [(SYS_DESCR, 0x05, b"")]
    for junk in (b"", b"\x30\x84\xff\xff\xff\xff", request[:10], os.urandom(200)):
        try:
            parse_response(junk)
        except Exception as exc:  # noqa: BLE001 - only the module's own error is allowed
            assert type(exc).__name__ in {"Malformed", "IndexError"}


def test_a_port_that_drops_syns_is_filtered_within_the_timeout_bounds():
    """A listener whose accept queue is full drops SYNs: the connect must time out
    (adaptive timeout, one retry under ``normal``) instead of hanging the scan."""
    ip = next_ip()
    with socket.socket() as listener:
        listener.bind((ip, 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                filler.connect_ex((ip, port))
            time.sleep(0.1)
            began = time.monotonic()
            hosts = asyncio.run(scan([ip], PortPlan((port,)), profile=Profile.NORMAL))
            took = time.monotonic() - began
        finally:
            for filler in fillers:
                filler.close()
    assert hosts == []  # filtered is not open
    assert 1.0 <= took < 8.0  # two attempts of the initial 1 s timeout, give or take
