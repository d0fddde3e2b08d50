"""The device lab's vocabulary and ground truth (R18: test against a simulated estate).

A lab device is a value: who it is, what it runs, which services it offers on which
ports, which weaknesses it has, and the text it shows on the wire (its persona). The
truth record is what discovery, vulnerability and compliance tests are scored against,
so its shape is a contract: keys are only ever added, never renamed.

Must not: open sockets, read files or know about any protocol's framing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fleetwarden.errors import InputError

#: The lab binds here unless told otherwise; it matches the demo estate's segments.
DEFAULT_BIND = "127.20.0.0/16"
#: Loopback, the only place the lab may bind outside namespaces it created itself.
LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
#: With ``--netns`` devices live here (RFC 2544's benchmarking range), in namespaces only.
NETNS_RANGE = ipaddress.IPv4Network("198.18.0.0/15")
DEFAULT_NETNS_BIND = "198.18.0.0/16"
#: Added to a port below the unprivileged start when the lab may not bind it.
PORT_OFFSET = 20000
DEFAULT_TTL_SECONDS = 8 * 3600


class Weakness(StrEnum):
    """Weaknesses a lab device can have; the names are the truth's fixed vocabulary."""

    TELNET_OPEN = "telnet_open"
    FTP_OPEN = "ftp_open"
    HTTP_BASIC_CLEARTEXT = "http_basic_cleartext"
    DEFAULT_CREDENTIALS = "default_credentials"
    LEGACY_TLS = "legacy_tls"
    WEAK_CIPHERS = "weak_ciphers"
    EXPIRED_CERTIFICATE = "expired_certificate"
    SELF_SIGNED_CERTIFICATE = "self_signed_certificate"
    SHARED_CERTIFICATE = "shared_certificate"
    SNMP_PUBLIC = "snmp_public"
    UPNP_EXPOSED = "upnp_exposed"
    DEBUG_PORT_OPEN = "debug_port_open"
    MQTT_NO_AUTH = "mqtt_no_auth"
    VULNERABLE_FIRMWARE = "vulnerable_firmware"
    HOSTILE_BANNER = "hostile_banner"


class Service(StrEnum):
    """Services a lab device can offer; each has a well-known port and transport."""

    HTTP = "http"
    HTTPS = "https"
    RTSP = "rtsp"
    TELNET = "telnet"
    FTP = "ftp"
    SSH = "ssh"
    MQTT = "mqtt"
    MQTTS = "mqtts"
    SNMP = "snmp"
    SSDP = "ssdp"
    UPNP = "upnp"
    MDNS = "mdns"
    MODBUS = "modbus"
    DEBUG = "debug"


#: (nominal port, transport) of each service; ``debug`` takes its port from the family.
WELL_KNOWN: Mapping[Service, tuple[int, str]] = {
    Service.HTTP: (80, "tcp"),
    Service.HTTPS: (443, "tcp"),
    Service.RTSP: (554, "tcp"),
    Service.TELNET: (23, "tcp"),
    Service.FTP: (21, "tcp"),
    Service.SSH: (22, "tcp"),
    Service.MQTT: (1883, "tcp"),
    Service.MQTTS: (8883, "tcp"),
    Service.SNMP: (161, "udp"),
    Service.SSDP: (1900, "udp"),
    Service.UPNP: (49152, "tcp"),
    Service.MDNS: (5353, "udp"),
    Service.MODBUS: (502, "tcp"),
    Service.DEBUG: (9527, "tcp"),
}

#: Services carried over TLS (their certificate weaknesses apply to them).
TLS_SERVICES = frozenset({Service.HTTPS, Service.MQTTS})

#: The service a weakness needs; a family without it cannot have the weakness.
NEEDS: Mapping[Weakness, frozenset[Service]] = {
    Weakness.TELNET_OPEN: frozenset({Service.TELNET}),
    Weakness.FTP_OPEN: frozenset({Service.FTP}),
    Weakness.HTTP_BASIC_CLEARTEXT: frozenset({Service.HTTP}),
    Weakness.LEGACY_TLS: TLS_SERVICES,
    Weakness.WEAK_CIPHERS: TLS_SERVICES,
    Weakness.EXPIRED_CERTIFICATE: TLS_SERVICES,
    Weakness.SELF_SIGNED_CERTIFICATE: TLS_SERVICES,
    Weakness.SHARED_CERTIFICATE: TLS_SERVICES,
    Weakness.SNMP_PUBLIC: frozenset({Service.SNMP}),
    Weakness.UPNP_EXPOSED: frozenset({Service.SSDP}),
    Weakness.DEBUG_PORT_OPEN: frozenset({Service.DEBUG}),
    Weakness.MQTT_NO_AUTH: frozenset({Service.MQTT}),
}

#: The compliance check that must FAIL on a device with each weakness (issue 6's measure);
#: weaknesses missing here are not a compliance check's to find (vulnerable firmware is
#: a finding only once its SBOM and a feed are imported; a hostile banner is a test of
#: rendering, not of the device).
DETECTED_BY: Mapping[Weakness, str] = {
    Weakness.TELNET_OPEN: "telnet-open",
    Weakness.FTP_OPEN: "ftp-open",
    Weakness.HTTP_BASIC_CLEARTEXT: "http-basic-cleartext",
    Weakness.DEFAULT_CREDENTIALS: "default-credentials",
    Weakness.LEGACY_TLS: "tls-legacy-protocol",
    Weakness.WEAK_CIPHERS: "tls-weak-ciphers",
    Weakness.EXPIRED_CERTIFICATE: "cert-expired",
    Weakness.SELF_SIGNED_CERTIFICATE: "cert-self-signed",
    Weakness.SHARED_CERTIFICATE: "cert-shared",
    Weakness.SNMP_PUBLIC: "snmp-public",
    Weakness.UPNP_EXPOSED: "upnp-exposed",
    Weakness.DEBUG_PORT_OPEN: "debug-port-open",
    Weakness.MQTT_NO_AUTH: "mqtt-no-auth",
}

#: Services that check the same accounts as another: a device's one web server behind
#: HTTP and HTTPS, one broker behind 1883 and 8883. A default listed for either is
#: accepted on both (an assessor tries the TLS port of a shared login first).
SAME_LOGIN: Mapping[Service, Service] = {Service.HTTPS: Service.HTTP,
                                         Service.MQTTS: Service.MQTT}


def login_of(service: Service) -> Service:
    """The login a service checks accounts against (itself unless ``SAME_LOGIN`` says)."""
    return SAME_LOGIN.get(service, service)


def certificate_key_kind(weaknesses: frozenset[Weakness] | set[Weakness]) -> str:
    """The key a device's certificate carries: 1024-bit RSA with weak ciphers, else P-256."""
    return "rsa1024" if Weakness.WEAK_CIPHERS in weaknesses else "ec"


def shared_certificate_group(vendor: str, model: str,
                             weaknesses: frozenset[Weakness] | set[Weakness]
                             ) -> tuple[str, str, str] | None:
    """Which certificate baked into the firmware a device serves, or None when it has
    its own. Every unit of a model with ``SHARED_CERTIFICATE`` and the same key kind
    serves the one certificate of its group; the lab's certificates and its planner
    both key on this, so the weakness is only claimed where a peer really shares it."""
    if Weakness.SHARED_CERTIFICATE not in weaknesses:
        return None
    return vendor, model, certificate_key_kind(weaknesses)


@dataclass(frozen=True, slots=True)
class LabService:
    service: Service
    transport: str
    port: int
    """The port the simulated device really listens on."""
    nominal_port: int
    """The port a real device uses; differs from ``port`` only under the port offset."""


@dataclass(frozen=True, slots=True)
class Credential:
    service: Service
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class Component:
    """A piece of software inside a firmware image, as its supplier's SBOM lists it."""

    name: str
    version: str
    purl: str
    cpe: str | None = None
    supplier: str | None = None


@dataclass(frozen=True, slots=True)
class LabDevice:
    index: int
    ip: str
    mac: str
    serial: str
    vendor: str
    model: str
    device_type: str
    firmware_version: str
    hostname: str
    family: str
    site: str | None
    segment: str | None
    registered: bool
    """False for shadow devices: live on the network, absent from the register."""
    services: tuple[LabService, ...]
    weaknesses: frozenset[Weakness]
    credentials: tuple[Credential, ...]
    """Well-known default credentials the device accepts (empty when it accepts none)."""
    components: tuple[Component, ...]
    persona: Mapping[str, str] = field(default_factory=dict)
    """Resolved wire text: banners, titles, headers, sysDescr, UPnP fields (see families)."""
    secret: str = field(default="", repr=False)
    """Per-device password/community (user ``fwlab``), unlike the defaults not in the
    truth; derived from the plan's seed, so it keeps test runs reproducible, not secret."""

    def service(self, name: Service) -> LabService | None:
        return next((s for s in self.services if s.service is name), None)

    def accepts(self, service: Service, username: str, password: str) -> bool:
        """Whether a login succeeds: a default credential, or the device's own secret."""
        login = login_of(service)
        if any(login_of(c.service) is login and c.username == username
               and c.password == password for c in self.credentials):
            return True
        return bool(self.secret) and password == self.secret and username == "fwlab"


def truth_record(device: LabDevice) -> dict[str, Any]:
    """The JSON-able ground truth of one device (the ``lab truth`` contract)."""
    return {
        "ip": device.ip,
        "mac": device.mac,
        "serial": device.serial,
        "vendor": device.vendor,
        "model": device.model,
        "device_type": device.device_type,
        "firmware_version": device.firmware_version,
        "hostname": device.hostname,
        "site": device.site,
        "segment": device.segment,
        "registered": device.registered,
        "family": device.family,
        "services": [
            {"port": s.port, "transport": s.transport, "service": s.service.value,
             "nominal_port": s.nominal_port}
            for s in device.services
        ],
        "weaknesses": sorted(w.value for w in device.weaknesses),
        "credentials": [
            {"service": c.service.value, "username": c.username, "password": c.password}
            for c in device.credentials
        ],
        "components": [
            {"name": c.name, "version": c.version, "purl": c.purl, "cpe": c.cpe}
            for c in device.components
        ],
    }


def port_for(nominal: int, unprivileged_start: int, privileged: bool) -> int:
    """The real port: nominal when the lab may bind it, else nominal + ``PORT_OFFSET``."""
    if privileged or nominal >= unprivileged_start:
        return nominal
    return nominal + PORT_OFFSET


def check_bind(bind: str, *, namespaces: bool = False) -> ipaddress.IPv4Network:
    """The bind network, refused unless it is inside loopback (or lab namespaces)."""
    try:
        net = ipaddress.ip_network(bind, strict=False)
    except ValueError:
        raise InputError(f"--bind {bind!r}: not an IPv4 network such as 127.20.0.0/16") from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise InputError(f"--bind {bind}: the lab uses IPv4 only")
    if namespaces and not net.subnet_of(NETNS_RANGE):
        raise InputError(f"--bind {bind}: with --netns the lab uses {NETNS_RANGE} "
                         "(the benchmarking range), inside namespaces it creates")
    if not namespaces and not net.subnet_of(LOOPBACK):
        raise InputError(
            f"--bind {bind}: outside 127.0.0.0/8; the lab binds only to loopback "
            "(or, with --netns, inside namespaces it creates)")
    if net.num_addresses < 256:
        raise InputError(f"--bind {bind}: too small; use a /24 or larger")
    return net
