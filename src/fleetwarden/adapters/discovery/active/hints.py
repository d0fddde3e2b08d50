"""Which protocol a port most likely speaks, so each service is asked once, in its language.

A hint only decides what to try first; when the answer does not fit, the identifier
falls back to listening for a banner, then plain HTTP, then TLS. Ports the lab (or an
appliance running unprivileged) shifts by ``LAB_PORT_OFFSET`` keep their hint.

Must not: do I/O.
"""

from __future__ import annotations

from enum import StrEnum

from fleetwarden.adapters.discovery.active.targets import LAB_PORT_OFFSET


class Hint(StrEnum):
    BANNER = "banner"
    """The server speaks first (SSH, FTP, Telnet, debug consoles)."""
    HTTP = "http"
    HTTPS = "https"
    UPNP = "upnp"
    """HTTP serving a UPnP description."""
    RTSP = "rtsp"
    MQTT = "mqtt"
    MQTTS = "mqtts"
    MODBUS = "modbus"


_TCP: dict[int, Hint] = {
    21: Hint.BANNER, 22: Hint.BANNER, 23: Hint.BANNER, 25: Hint.BANNER, 2323: Hint.BANNER,
    2332: Hint.BANNER, 4242: Hint.BANNER, 5555: Hint.BANNER, 9527: Hint.BANNER,
    9999: Hint.BANNER, 10001: Hint.BANNER, 102: Hint.BANNER,
    80: Hint.HTTP, 81: Hint.HTTP, 82: Hint.HTTP, 631: Hint.HTTP, 5000: Hint.HTTP,
    7547: Hint.HTTP, 8000: Hint.HTTP, 8001: Hint.HTTP, 8008: Hint.HTTP, 8080: Hint.HTTP,
    8081: Hint.HTTP, 8088: Hint.HTTP, 8888: Hint.HTTP, 9000: Hint.HTTP,
    443: Hint.HTTPS, 1443: Hint.HTTPS, 4443: Hint.HTTPS, 5001: Hint.HTTPS,
    8443: Hint.HTTPS, 55443: Hint.HTTPS,
    49152: Hint.UPNP, 49153: Hint.UPNP,
    554: Hint.RTSP, 8554: Hint.RTSP,
    1883: Hint.MQTT, 8883: Hint.MQTTS,
    502: Hint.MODBUS,
}

#: Ports whose unsolicited text is a console rather than an unknown service.
DEBUG_PORTS = frozenset({102, 2323, 2332, 4242, 5555, 9527, 9999, 10001})
TELNET_PORTS = frozenset({23})


def nominal(port: int) -> int:
    """The port a device would use were it not shifted (20021 -> 21)."""
    if port - LAB_PORT_OFFSET in range(1, 1024):
        return port - LAB_PORT_OFFSET
    return port


def tcp_hint(port: int) -> Hint | None:
    return _TCP.get(port) or _TCP.get(nominal(port))
