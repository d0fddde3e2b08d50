"""SSDP search answers: how a UPnP device tells an M-SEARCH where its description lives.

The device listens on its own address (unicast M-SEARCH, as scanners send it), reads
one bounded request, and answers ``ssdp:all``, ``upnp:rootdevice``, its ``uuid:`` and
its device type with one HTTP/1.1 200 response pointing at the description XML that
the UPnP HTTP service serves. ``ssdp:all`` gets the root-device answer only, because a
handler returns a single datagram. A device without a UPnP service has no description
to point at and stays silent (the planner always offers UPnP with SSDP).

The notification targets, LOCATION and SERVER are public so that the pcap writer's
NOTIFY messages say exactly what the search answers say.

Must not: reflect anything the client sent into the reply, answer anything but a
well-formed ``ssdp:discover`` search, or let persona text break the header block.
"""

from __future__ import annotations

from email.utils import formatdate

from fleetwarden.adapters.lab.protocols.base import (
    MAX_LINE,
    LabContext,
    header_value,
    upnp_uuid,
)
from fleetwarden.domain.lab import LabDevice, LabService, Service

#: Header lines read from one M-SEARCH; the rest is ignored.
_MAX_HEADERS = 32
DEFAULT_DEVICE_TYPE = "urn:schemas-upnp-org:device:Basic:1"
DEFAULT_SERVER = "Linux UPnP/1.0"
_ROOT = b"upnp:rootdevice"


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


def targets(device: LabDevice) -> list[tuple[bytes, bytes]]:
    """(NT or ST, USN) of the root device, its UDN and its device type, in that order."""
    udn = f"uuid:{upnp_uuid(device)}".encode("ascii")
    device_type = header_value(device.persona.get("upnp_device_type") or DEFAULT_DEVICE_TYPE)
    return [(_ROOT, udn + b"::" + _ROOT), (udn, udn), (device_type, udn + b"::" + device_type)]


def location(device: LabDevice) -> bytes | None:
    """Where the UPnP service serves the description XML; None without one."""
    upnp = device.service(Service.UPNP)
    if upnp is None:
        return None
    return f"http://{device.ip}:{upnp.port}/description.xml".encode("ascii")


def server(device: LabDevice) -> bytes:
    """The SERVER header value: the persona's, or a generic one when it has none."""
    return header_value(device.persona.get("upnp_server", "")) or DEFAULT_SERVER.encode()


def _target(device: LabDevice, st: str) -> tuple[bytes, bytes] | None:
    """(ST, USN) answered for a search target, or None when the device does not match."""
    wanted = st.strip().lower().encode("latin-1")
    found = targets(device)
    if wanted == b"ssdp:all":
        return found[0]
    return next((pair for pair in found if pair[0].lower() == wanted), None)


def answer_ssdp(device: LabDevice, service: LabService, datagram: bytes, peer: tuple[str, int],
                lab: LabContext) -> bytes | None:
    """One unicast 200 OK for a matching ``ssdp:discover`` search, else silence."""
    headers = _headers(datagram)
    if headers is None or headers.get("man", "").strip('"').lower() != "ssdp:discover":
        return None
    target = _target(device, headers.get("st", ""))
    where = location(device)
    if target is None or where is None:
        return None
    st, usn = target
    lines = [
        b"HTTP/1.1 200 OK",
        b"CACHE-CONTROL: max-age=1800",
        b"DATE: " + formatdate(usegmt=True).encode("ascii"),
        b"EXT:",
        b"LOCATION: " + where,
        b"SERVER: " + server(device),
        b"ST: " + st,
        b"USN: " + usn,
        b"", b"",
    ]
    return b"\r\n".join(lines)
