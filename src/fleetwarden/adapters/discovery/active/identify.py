"""Service identification of one open port (or UDP port): which probe, in which order.

A TCP port is asked in the language its number suggests (``hints``): HTTP, TLS then
HTTP or MQTT inside, RTSP, MQTT, Modbus. When that answer does not fit, or the port has
no hint, the fallback is: listen for a banner (SSH, FTP, Telnet, consoles), then plain
HTTP, then TLS. Whatever happens, one port's identification ends within the profile's
``service_deadline`` and never raises: junk, resets and silence only mean less is known.

UDP ports have one probe each (explicit registry, ``UDP_PROBES``); a UDP port of
unknown purpose gets all of them at once, and the first one answered counts.

Must not: send credentials or anything that changes a device, or let one port's
trouble stop the scan.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from fleetwarden.adapters.discovery.active import (
    banner,
    http,
    mdns,
    modbus,
    mqtt,
    rtsp,
    snmp,
    ssdp,
    tls,
    udp_misc,
)
from fleetwarden.adapters.discovery.active.draft import Draft
from fleetwarden.adapters.discovery.active.hints import Hint, nominal, tcp_hint
from fleetwarden.adapters.discovery.active.net import Dialer, Stream

log = logging.getLogger("fleetwarden.discovery")


# ------------------------------------------------------------------------ TCP
async def identify_tcp(dialer: Dialer, port: int, *, banner_wait: float,
                       deadline: float) -> Draft:
    """The service on an open TCP port, as far as the probes could tell."""
    draft = Draft(port, "tcp")
    try:
        async with asyncio.timeout(deadline):
            await _identify(dialer, draft, tcp_hint(port), banner_wait)
    except TimeoutError:
        log.debug("%s:%s identification hit its deadline", dialer.ip, port)
    except Exception:  # noqa: BLE001 - a device's junk must never stop the scan
        log.debug("%s:%s identification failed", dialer.ip, port, exc_info=True)
    return draft


async def _identify(dialer: Dialer, draft: Draft, hint: Hint | None, banner_wait: float
                    ) -> None:
    if hint in (Hint.HTTP, Hint.UPNP):
        if await _plain(dialer, draft, _http_on(dialer)):
            if hint is Hint.UPNP:
                draft.service = "upnp"
            return
    elif hint is Hint.HTTPS or hint is Hint.MQTTS:
        if await _tls(dialer, draft, inner=hint):
            return
    elif hint is Hint.RTSP:
        if await _plain(dialer, draft, lambda s, d: rtsp.identify(s, dialer.ip, d,
                                                                  dialer.read_timeout)):
            return
    elif hint is Hint.MQTT:
        if await _plain(dialer, draft, lambda s, d: mqtt.identify(s, d, dialer.read_timeout)):
            return
    elif hint is Hint.MODBUS and await _plain(
            dialer, draft, lambda s, d: modbus.identify(s, d, dialer.read_timeout)):
        return
    await _fallback(dialer, draft, hint, banner_wait)


async def _fallback(dialer: Dialer, draft: Draft, hint: Hint | None, banner_wait: float
                    ) -> None:
    """Banner, then plain HTTP, then TLS: for unknown ports and answers that did not fit."""
    wait = dialer.read_timeout if hint is Hint.BANNER else banner_wait
    data = await banner.read_banner(dialer, draft.port, wait)
    if data:
        banner.interpret(data, draft)
        if draft.service == "ssh":
            await banner.ssh_host_key(dialer, draft)
        return
    if hint not in (Hint.HTTP, Hint.UPNP) and await _plain(dialer, draft, _http_on(dialer)):
        return
    if hint not in (Hint.HTTPS, Hint.MQTTS):
        await _tls(dialer, draft, inner=Hint.HTTPS)


def _http_on(dialer: Dialer) -> Callable[[Stream, Draft], Awaitable[bool]]:
    async def run(stream: Stream, draft: Draft) -> bool:
        if not await http.identify(stream, dialer, draft):
            return False
        if draft.service == "unknown":
            draft.service = "https" if stream.ssl_object() else "http"
        return True
    return run


async def _plain(dialer: Dialer, draft: Draft,
                 probe: Callable[[Stream, Draft], Awaitable[bool]]) -> bool:
    async with dialer.stream(draft.port) as stream:
        return stream is not None and await probe(stream, draft)


async def _tls(dialer: Dialer, draft: Draft, *, inner: Hint) -> bool:
    """Handshake, record TLS, then speak ``inner`` inside; True when TLS worked."""
    context: ssl.SSLContext = tls.client_context()
    async with dialer.stream(draft.port, tls=context) as stream:
        info = tls.tls_info(stream) if stream is not None else None
        if stream is None or info is None:
            return False
        tls.record(info, draft)
        if inner is Hint.MQTTS:
            found = await mqtt.identify(stream, draft, dialer.read_timeout)
        else:
            found = await _http_on(dialer)(stream, draft)
        if not found:
            draft.service = "unknown"
    if info.version not in ("TLSv1", "TLSv1.1"):
        draft.put(tls.TLS_LEGACY_FIELD, await tls.legacy_version(dialer, draft.port))
    return True


# ------------------------------------------------------------------------ UDP
class UdpProbe(StrEnum):
    SNMP = "snmp"
    SSDP = "ssdp"
    MDNS = "mdns"
    COAP = "coap"
    BACNET = "bacnet"


#: The probe a UDP port's number calls for (nominal numbers; shifted ports map back).
UDP_PORTS: dict[int, UdpProbe] = {161: UdpProbe.SNMP, 1900: UdpProbe.SSDP,
                                  5353: UdpProbe.MDNS, 5683: UdpProbe.COAP,
                                  47808: UdpProbe.BACNET}


@dataclass
class UdpResult:
    draft: Draft | None = None
    hostname: str | None = None
    description_port: int | None = None
    """The TCP port SSDP's LOCATION pointed at (its service is the UPnP description)."""
    mac: str | None = None


async def _snmp(dialer: Dialer, port: int, communities: tuple[str, ...]) -> UdpResult:
    found = await snmp.identify(dialer, port, communities)
    return UdpResult(found[0], mac=found[1]) if found else UdpResult()


async def _ssdp(dialer: Dialer, port: int, communities: tuple[str, ...]) -> UdpResult:
    found = await ssdp.identify(dialer, port)
    return UdpResult(*((found[0], None, found[1]) if found else (None, None, None)))


async def _mdns(dialer: Dialer, port: int, communities: tuple[str, ...]) -> UdpResult:
    found = await mdns.identify(dialer, port)
    return UdpResult(found[0], found[1]) if found else UdpResult()


async def _coap(dialer: Dialer, port: int, communities: tuple[str, ...]) -> UdpResult:
    return UdpResult(await udp_misc.identify_coap(dialer, port))


async def _bacnet(dialer: Dialer, port: int, communities: tuple[str, ...]) -> UdpResult:
    return UdpResult(await udp_misc.identify_bacnet(dialer, port))


UDP_PROBES: dict[UdpProbe, Callable[[Dialer, int, tuple[str, ...]], Awaitable[UdpResult]]] = {
    UdpProbe.SNMP: _snmp, UdpProbe.SSDP: _ssdp, UdpProbe.MDNS: _mdns,
    UdpProbe.COAP: _coap, UdpProbe.BACNET: _bacnet,
}


async def identify_udp(dialer: Dialer, port: int, communities: tuple[str, ...], *,
                       deadline: float) -> UdpResult:
    """What answered on a UDP port (an empty result when nothing did)."""
    kind = UDP_PORTS.get(port) or UDP_PORTS.get(nominal(port))
    kinds = [kind] if kind else list(UdpProbe)
    try:
        async with asyncio.timeout(deadline):
            # A port of unknown purpose gets every probe at once (each its own socket,
            # still under the host's limits); the first that is answered counts.
            tasks = [asyncio.ensure_future(UDP_PROBES[k](dialer, port, communities))
                     for k in kinds]
            try:
                for next_done in asyncio.as_completed(tasks):
                    result = await next_done
                    if result.draft is not None:
                        return result
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
    except TimeoutError:
        log.debug("%s:%s/udp identification hit its deadline", dialer.ip, port)
    except Exception:  # noqa: BLE001 - a device's junk must never stop the scan
        log.debug("%s:%s/udp identification failed", dialer.ip, port, exc_info=True)
    return UdpResult()
