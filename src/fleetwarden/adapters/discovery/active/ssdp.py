"""SSDP and UPnP identification: a unicast M-SEARCH, then the device description.

The search answer gives SERVER (``upnp.server``) and LOCATION. The description XML is
fetched only when LOCATION is plain HTTP on the very host that answered (never another
address: a device could otherwise point the scanner anywhere) and parsed with
defusedxml (no DTDs, no entities) into the ``upnp.*`` fields: manufacturer, model name
and number, serial, firmware, friendly name and device type.

Must not: follow LOCATION to another host, read more than ``DESCRIPTION_BYTES``, or
parse XML with anything but defusedxml.
"""

from __future__ import annotations

from urllib.parse import urlsplit
from xml.etree.ElementTree import Element  # noqa: S405 - type only; parsing is defusedxml

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import ParseError, fromstring  # type: ignore[import-untyped]

from fleetwarden.adapters.discovery.active import http
from fleetwarden.adapters.discovery.active.draft import Draft
from fleetwarden.adapters.discovery.active.net import Dialer
from fleetwarden.domain.discovery import Field

DESCRIPTION_BYTES = 64 * 1024
SEARCH = (b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\n"
          b"MX: 1\r\nST: ssdp:all\r\nUSER-AGENT: fleetwarden-discovery\r\n\r\n")
_DEVICE_FIELDS = {
    "manufacturer": Field.UPNP_MANUFACTURER, "modelName": Field.UPNP_MODEL_NAME,
    "modelNumber": Field.UPNP_MODEL_NUMBER, "serialNumber": Field.UPNP_SERIAL,
    "firmwareVersion": Field.UPNP_FIRMWARE, "friendlyName": Field.UPNP_FRIENDLY_NAME,
    "deviceType": Field.UPNP_DEVICE_TYPE,
}


def parse_search_answer(datagram: bytes) -> dict[str, str] | None:
    """Lower-cased headers of an ``HTTP/1.1 200`` search answer, else None."""
    text = datagram[:8192].decode("utf-8", "replace").replace("\r\n", "\n")
    lines = text.split("\n")
    if not lines[0].upper().startswith("HTTP/1.1 200"):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:64]:
        name, colon, value = line.partition(":")
        if colon and name.strip():
            headers.setdefault(name.strip().lower(), value.strip())
    return headers


def same_host_location(location: str, ip: str) -> tuple[int, str] | None:
    """(port, path) when LOCATION is http:// on ``ip`` itself, else None."""
    try:
        split = urlsplit(location)
        port = split.port or 80
    except ValueError:
        return None
    if split.scheme.lower() != "http" or split.hostname != ip:
        return None
    path = (split.path or "/") + (f"?{split.query}" if split.query else "")
    if len(path) > 512 or not path.startswith("/"):
        return None
    return port, path


def parse_description(xml: bytes) -> dict[str, str]:
    """The root device's fields from a UPnP description (empty when it does not parse)."""
    try:
        root = fromstring(xml[:DESCRIPTION_BYTES], forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError, SyntaxError):
        return {}
    device = next((el for el in root.iter() if _local(el) == "device"), None)
    if device is None:
        return {}
    found: dict[str, str] = {}
    for child in device:
        name = _local(child)
        if name in _DEVICE_FIELDS and child.text and name not in found:
            found[name] = child.text
    return found


def _local(element: Element) -> str:
    tag = element.tag if isinstance(element.tag, str) else ""
    return tag.rsplit("}", 1)[-1]


async def identify(dialer: Dialer, port: int) -> tuple[Draft, int | None] | None:
    """(the SSDP service, the description's TCP port) when the host answered a search."""
    answers = await dialer.exchange(port, [SEARCH], timeout=dialer.udp_timeout,
                                    until=lambda d: parse_search_answer(d) is not None)
    headers = next((h for h in map(parse_search_answer, answers) if h is not None), None)
    if headers is None:
        return None
    draft = Draft(port, "udp", "ssdp")
    draft.put(Field.UPNP_SERVER, headers.get("server"))
    draft.set_banner("\n".join(f"{k}: {v}" for k, v in headers.items()))
    where = same_host_location(headers.get("location", ""), dialer.ip)
    if where is None:
        return draft, None
    desc_port, path = where
    async with dialer.stream(desc_port) as stream:
        host = f"{dialer.ip}:{desc_port}"
        response = await http.get(stream, host, path, dialer.read_timeout) if stream else None
    if response is not None and response.status == 200:
        for name, value in parse_description(response.body).items():
            draft.put(_DEVICE_FIELDS[name], value)
    return draft, desc_port
