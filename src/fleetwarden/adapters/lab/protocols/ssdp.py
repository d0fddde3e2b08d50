"""SSDP search answers: how a UPnP device tells an M-SEARCH where its description lives.

The device listens on its own address (unicast M-SEARCH, as scanners send it), reads
one bounded request, and answers ``ssdp:all``, ``upnp:rootdevice``, its ``uuid:`` and
its device type with one HTTP/1.1 200 response pointing at the description XML that
the UPnP HTTP service serves. ``ssdp:all`` gets the root-device answer only, because a
handler returns a single datagram.

Must not: reflect anything the client sent into the reply, answer anything but a
well-formed ``ssdp:discover`` search, or let persona text break the header block.
"""

from __future__ import annotations

from email.utils import formatdate

from fleetwarden.adapters.lab.protocols.base import MAX_LINE, LabContext, upnp_uuid, wire
from fleetwarden.domain.lab import LabDevice, LabService, Service

#: Header lines read from one M-SEARCH; the rest is ignored.
_MAX_HEADERS = 32
_DEFAULT_DEVICE_TYPE = "urn:schemas-upnp-org:device:Basic:1"
_ROOT = "upnp:rootdevice"


def _headers(datagram: bytes) -> dict[str, str] | None:
    """Lower-cased header names -> values of an M-SEARCH request, else None."""
    if len(datagram) > MAX_LINE:
        return None
    lines = datagram.decode("latin-1").replace("\r\n", "\n").split("\n")
    if [part.upper() for part in lines[0].split()] != ["M-SEARCH", "*", "HTTP/1.1"]:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:1 + _MAX_HEADERS]:
        if not line.strip():
            break
        name, colon, value = line.partition(":")
        if colon:
            headers.setdefault(name.strip().lower(), value.strip())
    return headers


def _clean(text: str) -> str:
    """Persona text safe inside one header line."""
    return text.replace("\r", "").replace("\n", "").replace("\0", "")


def _target(device: LabDevice, st: str) -> tuple[str, str] | None:
    """(ST, USN) answered for a search target, or None when the device does not match."""
    udn = f"uuid:{upnp_uuid(device)}"
    device_type = _clean(device.persona.get("upnp_device_type") or _DEFAULT_DEVICE_TYPE)
    wanted = st.strip().lower()
    if wanted in ("ssdp:all", _ROOT):
        return _ROOT, f"{udn}::{_ROOT}"
    if wanted == udn.lower():
        return udn, udn
    if wanted == device_type.lower():
        return device_type, f"{udn}::{device_type}"
    return None


def _location(device: LabDevice) -> str | None:
    """Where the description XML is served; None if the device has no web server."""
    web = device.service(Service.UPNP) or device.service(Service.HTTP)
    return f"http://{device.ip}:{web.port}/description.xml" if web else None


def answer_ssdp(device: LabDevice, service: LabService, datagram: bytes, peer: tuple[str, int],
                lab: LabContext) -> bytes | None:
    """One unicast 200 OK for a matching ``ssdp:discover`` search, else silence."""
    headers = _headers(datagram)
    if headers is None or headers.get("man", "").strip('"').lower() != "ssdp:discover":
        return None
    target = _target(device, headers.get("st", ""))
    location = _location(device)
    if target is None or location is None:
        return None
    st, usn = target
    server = _clean(device.persona.get("upnp_server", "")) or "Linux UPnP/1.0"
    lines = [
        "HTTP/1.1 200 OK",
        "CACHE-CONTROL: max-age=1800",
        f"DATE: {formatdate(usegmt=True)}",
        "EXT:",
        f"LOCATION: {location}",
        f"SERVER: {server}",
        f"ST: {st}",
        f"USN: {usn}",
        "", "",
    ]
    return wire("\r\n".join(lines))
