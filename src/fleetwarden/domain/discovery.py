"""What discovery observes about a host, whatever the source (R4).

Active scans, packet captures, nmap XML, DHCP leases and ARP tables all produce the same
``HostObservation`` values, so fingerprinting and reconciliation never care where a fact
came from, only how sure it is. Everything a device says is untrusted: text fields are
already decoded (invalid bytes replaced) and bounded by ``MAX_TEXT`` before they get
here, and they are data, never markup.

Protocol facts that fingerprint rules read are ``fields``: a mapping from a name in the
``Field`` vocabulary to the text the device sent. Host-level facts (DHCP, ARP, SNI) sit on
the host; per-service facts on the service.

Must not: do I/O, parse wire formats, or trust any text it carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

#: Longest text kept from any one device field (banners can be megabytes).
MAX_TEXT = 4096


class Source(StrEnum):
    ACTIVE = "active"
    PCAP = "pcap"
    NMAP_XML = "nmap_xml"
    DHCP_LEASES = "dhcp_leases"
    ARP_TABLE = "arp_table"


class Field(StrEnum):
    """Protocol fields a fingerprint rule may read; new ones are added, never renamed."""

    BANNER = "banner"
    """First line(s) a service sent unasked (Telnet, FTP, SSH, debug consoles)."""
    HTTP_SERVER = "http.server"
    HTTP_TITLE = "http.title"
    HTTP_REALM = "http.realm"
    HTTP_AUTH = "http.auth"
    """basic, digest or form (from WWW-Authenticate or a login form)."""
    HTTP_USER_AGENT = "http.user_agent"
    RTSP_SERVER = "rtsp.server"
    RTSP_REALM = "rtsp.realm"
    SSH_BANNER = "ssh.banner"
    SSH_HOST_KEY = "ssh.host_key_sha256"
    TELNET_BANNER = "telnet.banner"
    FTP_BANNER = "ftp.banner"
    MQTT_BROKER = "mqtt.broker_version"
    """$SYS/broker/version, when the broker lets an anonymous client read it."""
    MQTT_AUTH = "mqtt.auth"
    """open (anonymous CONNECT accepted) or required."""
    SNMP_SYSDESCR = "snmp.sysdescr"
    SNMP_SYSOBJECTID = "snmp.sysobjectid"
    SNMP_SYSNAME = "snmp.sysname"
    SNMP_COMMUNITY = "snmp.community"
    """The community that was answered (``public`` is a finding)."""
    UPNP_MANUFACTURER = "upnp.manufacturer"
    UPNP_MODEL_NAME = "upnp.model_name"
    UPNP_MODEL_NUMBER = "upnp.model_number"
    UPNP_SERIAL = "upnp.serial"
    UPNP_FIRMWARE = "upnp.firmware"
    UPNP_FRIENDLY_NAME = "upnp.friendly_name"
    UPNP_DEVICE_TYPE = "upnp.device_type"
    UPNP_SERVER = "upnp.server"
    """SSDP SERVER / NOTIFY header."""
    UPNP_LOCATION = "upnp.location"
    UPNP_USN = "upnp.usn"
    MDNS_SERVICES = "mdns.services"
    """Comma-separated DNS-SD service types."""
    MDNS_TXT = "mdns.txt"
    """TXT key=value pairs, joined with ``;``."""
    MODBUS_VENDOR = "modbus.vendor"
    MODBUS_PRODUCT = "modbus.product"
    MODBUS_REVISION = "modbus.revision"
    TLS_LEGACY = "tls.legacy"
    """Highest TLS version below 1.2 the service still accepts (e.g. ``TLSv1``)."""
    TLS_SUBJECT = "tls.subject"
    TLS_ISSUER = "tls.issuer"
    TLS_SNI = "tls.sni"
    DHCP_HOSTNAME = "dhcp.hostname"
    DHCP_VENDOR_CLASS = "dhcp.vendor_class"
    DHCP_PARAMETER_LIST = "dhcp.parameter_list"
    """Option 55 as comma-separated decimal codes."""
    NMAP_EXTRAINFO = "nmap.extrainfo"
    NMAP_CPE = "nmap.cpe"
    MAC_VENDOR = "mac.vendor"
    """IEEE OUI registry organisation of the MAC address."""


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    subject: str
    """RFC 4514 string, e.g. ``CN=hq-cam-0501,O=Hikvision``."""
    issuer: str
    not_before: str | None
    not_after: str
    """ISO 8601 UTC."""
    sha256: str
    """Fingerprint of the DER certificate, lower-case hex."""
    self_signed: bool
    sans: tuple[str, ...] = ()
    public_key_sha256: str | None = None
    """Fingerprint of the SubjectPublicKeyInfo: the same key on two devices is a finding."""
    key_type: str | None = None
    """rsa, ec, ed25519 ..."""
    key_bits: int | None = None
    signature_algorithm: str | None = None


@dataclass(frozen=True, slots=True)
class TlsInfo:
    version: str | None
    """Negotiated protocol, e.g. ``TLSv1.2``."""
    cipher: str | None = None
    certificate: CertificateInfo | None = None


@dataclass(frozen=True, slots=True)
class ServiceObservation:
    port: int
    transport: str
    """tcp or udp."""
    service: str
    """http, https, rtsp, ssh, telnet, ftp, mqtt, mqtts, snmp, ssdp, upnp, mdns, modbus,
    debug, or ``unknown`` for an open port nothing recognised."""
    product: str | None = None
    version: str | None = None
    banner: str | None = None
    """What the service said, decoded and bounded; untrusted text."""
    fields: Mapping[str, str] = field(default_factory=dict)
    tls: TlsInfo | None = None


@dataclass(frozen=True, slots=True)
class HostObservation:
    source: Source
    observed_at: str
    """ISO 8601 UTC of the observation (the packet's time for captures)."""
    ip: str | None = None
    mac: str | None = None
    """Lower-case, colon-separated."""
    hostname: str | None = None
    services: tuple[ServiceObservation, ...] = ()
    fields: Mapping[str, str] = field(default_factory=dict)
    """Host-level facts (DHCP, ARP, SNI, User-Agent) in the ``Field`` vocabulary."""

    def all_fields(self) -> list[tuple[str, str, ServiceObservation | None]]:
        """Every (field, text, service) fact of the host, host-level ones first."""
        out: list[tuple[str, str, ServiceObservation | None]] = [
            (name, text, None) for name, text in self.fields.items()]
        for service in self.services:
            out += [(name, text, service) for name, text in service.fields.items()]
        return out


def bounded(text: str | bytes | None) -> str | None:
    """Untrusted device text as a bounded str (bytes decoded with replacement)."""
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text[:MAX_TEXT * 4].decode("utf-8", "replace")
    return text[:MAX_TEXT]
