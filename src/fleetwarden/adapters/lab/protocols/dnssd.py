"""What a lab device advertises over DNS-SD: one rule for the responder and the pcap.

The mDNS responder (``mdns.py``) answers queries with these services and the pcap
writer (``pcap.py``) multicasts them unsolicited; both build their records from
``advertised`` so an active and a passive view of a device always agree.

The rule: the persona's ``mdns_services`` (comma-separated; the planner sets it for
every device that offers mDNS) lists the types. A type counts once, only when it is
shaped like ``_name._tcp`` or ``_name._udp``, and only when the device offers a
service for it to point at: a type whose SRV port would be 0 is left out, as a real
responder does not advertise what it does not run. At most ``MAX_TYPES`` are kept.

Must not: build DNS messages (the callers do, each for its own purpose) or read
anything but the device.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fleetwarden.adapters.lab.protocols.base import wire
from fleetwarden.domain.lab import LabDevice, Service

#: Service types one device advertises at most (bounds every answer and announcement).
MAX_TYPES = 16
#: RFC 6762 §10 TTLs: host-bound records (A, SRV) and the rest (PTR, TXT).
HOST_TTL, OTHER_TTL = 120, 4500
#: DNS labels and TXT strings are at most this long on the wire.
LABEL_MAX, TXT_MAX = 63, 255
#: Which of the device's services a DNS-SD type points at, first one offered wins.
PORTS: Mapping[str, tuple[Service, ...]] = {
    "_http._tcp": (Service.HTTP, Service.HTTPS),
    "_axis-video._tcp": (Service.HTTP, Service.HTTPS),
    "_ipp._tcp": (Service.HTTP, Service.HTTPS),
    "_printer._tcp": (Service.HTTP, Service.HTTPS),
    "_https._tcp": (Service.HTTPS,),
    "_ipps._tcp": (Service.HTTPS,),
    "_rtsp._tcp": (Service.RTSP,),
    "_ssh._tcp": (Service.SSH,),
    "_mqtt._tcp": (Service.MQTT,),
}
#: A vendor's own type (``_bwvdock._tcp``) points at its web interface.
DEFAULT_PORTS = (Service.HTTP, Service.HTTPS)


@dataclass(frozen=True, slots=True)
class Advert:
    """One advertised service instance: ``<instance label>.<kind>.local``."""

    kind: str
    """The service type, lower case, without ``.local`` (``_http._tcp``)."""
    port: int
    txt: tuple[bytes, ...]
    """TXT strings, each at most ``TXT_MAX`` bytes."""

    @property
    def labels(self) -> tuple[bytes, ...]:
        """The type's DNS labels (``_http``, ``_tcp``), to which callers add ``local``."""
        return tuple(wire(part) for part in self.kind.split("."))


def instance_label(device: LabDevice) -> bytes:
    """The device's host and instance label (its hostname, cut to one DNS label)."""
    return wire(device.hostname)[:LABEL_MAX] or b"device"


def advertised(device: LabDevice) -> list[Advert]:
    """The services the device advertises, in the persona's order (see the module)."""
    found: list[Advert] = []
    for kind in _types(device):
        port = _port(device, kind)
        if port is not None:
            found.append(Advert(kind, port, _txt(device, kind)))
        if len(found) == MAX_TYPES:
            break
    return found


def _types(device: LabDevice) -> list[str]:
    """The persona's types shaped like ``_name._tcp`` / ``_name._udp``, once each."""
    found: list[str] = []
    for item in device.persona.get("mdns_services", "").split(","):
        labels = item.strip().lower().removesuffix(".").removesuffix(".local").split(".")
        kind = ".".join(labels)
        if (len(labels) == 2 and labels[1] in ("_tcp", "_udp")
                and labels[0].startswith("_") and 2 <= len(labels[0]) <= LABEL_MAX
                and kind not in found):
            found.append(kind)
    return found


def _port(device: LabDevice, kind: str) -> int | None:
    for name in PORTS.get(kind, DEFAULT_PORTS):
        offered = device.service(name)
        if offered is not None:
            return offered.port
    return None


def _txt(device: LabDevice, kind: str) -> tuple[bytes, ...]:
    pairs = [("vendor", device.vendor), ("model", device.model), ("serial", device.serial),
             ("fw", device.firmware_version)]
    if kind == "_axis-video._tcp":
        pairs.append(("macaddress", device.mac.replace(":", "").upper()))
    return tuple(wire(f"{key}={value}")[:TXT_MAX] for key, value in pairs)
