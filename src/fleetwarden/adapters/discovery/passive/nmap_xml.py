"""Imported discovery from an nmap XML report (``discover --nmap-xml FILE``, ``nmap -oX``).

Each ``<host>`` that is up becomes a ``HostObservation`` (source ``nmap_xml``): its
IPv4 (else IPv6) address, MAC and the vendor nmap names for it, the first host name,
and every open port with nmap's service name, product, version and extra info. Script
output nmap already gathered is kept where a fingerprint rule can use it:
``http-title``, ``http-server-header``, ``banner``, ``snmp-sysdescr``, ``ssh-hostkey``
and ``ssl-cert`` (the certificate is read from its PEM, so every ``CertificateInfo``
field is computed here, not trusted from nmap's text).

The report is parsed with defusedxml, streamed host by host. The only document type
declaration allowed is nmap's own bare ``<!DOCTYPE nmaprun>``: any other DTD, any
entity declaration (the "billion laughs" bomb) and any external reference is refused
with a one-line ``InputError``, before a single entity is expanded. A report cut short
keeps the hosts before the break, with a warning; a file that is not an nmap report is
an ``InputError``.

Must not: resolve entities, fetch anything, trust nmap's text beyond ``bounded``, or
hold more than one ``<host>`` element at a time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, iterparse

from fleetwarden.adapters.discovery.passive._common import (
    MAX_HOSTS,
    Notes,
    PassiveResult,
    Progress,
    device_ip,
    device_mac,
    file_time,
    iso_from_seconds,
    one_line,
    open_input,
)
from fleetwarden.adapters.discovery.passive._tls import certificate_info
from fleetwarden.domain.discovery import (
    CertificateInfo,
    Field,
    HostObservation,
    ServiceObservation,
    Source,
    TlsInfo,
    bounded,
)
from fleetwarden.errors import InputError

#: nmap facts the ``Field`` vocabulary has no name for yet (kept under these names).
NMAP_EXTRAINFO = "nmap.extrainfo"
NMAP_CPE = "nmap.cpe"
#: nmap's service names where this project's vocabulary says otherwise.
_SERVICE_NAMES = {"mbap": "modbus", "http-alt": "http", "http-proxy": "http",
                  "https-alt": "https", "ssl": "tls", "upnp": "upnp", "tcpwrapped": "unknown",
                  "rtsp-alt": "rtsp", "snmptrap": "snmp"}
_TLS_NAMES = {"http": "https", "mqtt": "mqtts", "unknown": "tls", "tls": "tls"}
_SCRIPT_FIELDS = {"http-title": Field.HTTP_TITLE, "http-server-header": Field.HTTP_SERVER,
                  "snmp-sysdescr": Field.SNMP_SYSDESCR, "banner": Field.BANNER}


class _Refused(DefusedXmlException):
    """A document type declaration nmap never writes."""


class _NmapParser(DefusedXMLParser):
    """defusedxml's parser, allowing only the bare ``<!DOCTYPE nmaprun>`` nmap writes."""

    def __init__(self) -> None:
        super().__init__(target=TreeBuilder(), forbid_dtd=True, forbid_entities=True,
                         forbid_external=True)

    def defused_start_doctype_decl(self, name: str, sysid: str | None, pubid: str | None,
                                   has_internal_subset: Any) -> None:
        if has_internal_subset:
            raise _Refused("the file declares a DTD with declarations of its own (entities: "
                           "an XML bomb or an external-entity attack?)")
        if sysid or pubid:
            raise _Refused(f"the file refers to an external DTD ({one_line(sysid or pubid, 80)})")
        if name != "nmaprun":
            raise _Refused(f"the document type is {one_line(name, 40)!r}, not nmaprun")


def read_nmap_xml(path: Path, *, progress: Progress | None = None) -> PassiveResult:
    """Hosts that were up in an nmap XML report, with their open ports."""
    fh, size = open_input(path)
    notes = Notes(path)
    hosts: list[HostObservation] = []
    fallback = file_time(path)
    seen = 0
    with fh:
        try:
            root: Element | None = None
            for event, elem in iterparse(fh, events=("start", "end"), parser=_NmapParser()):
                if root is None:
                    root = elem
                    if elem.tag != "nmaprun":
                        raise InputError(f"{path}: not an nmap XML report (root element "
                                         f"<{bounded(elem.tag[:60])}>, expected <nmaprun>)")
                    start = _number(elem.get("start"))
                    if start is not None:
                        fallback = iso_from_seconds(start)
                    continue
                if event != "end" or elem.tag != "host":
                    continue
                seen += 1
                if len(hosts) < MAX_HOSTS:
                    host = _host(elem, fallback, notes)
                    if host is not None:
                        hosts.append(host)
                elif len(hosts) == MAX_HOSTS:
                    notes.say(f"more than {MAX_HOSTS:,} hosts; the rest were not read")
                root.clear()  # keep one host in memory, not the whole report
                if progress is not None:
                    progress(min(fh.tell(), size), size)
        except DefusedXmlException as exc:
            raise InputError(f"{path}: refused: {_refusal(exc)}") from None
        except ParseError as exc:
            line, column = getattr(exc, "position", (0, 0))
            where = f"line {line}, column {column}"
            if root is None or seen == 0:
                raise InputError(f"{path}: not well-formed XML ({where}: "
                                 f"{_reason(exc)})") from None
            notes.say(f"the XML breaks off at {where} ({_reason(exc)}); the "
                      f"{seen:,} host{'s' if seen != 1 else ''} before it "
                      f"{'were' if seen != 1 else 'was'} read")
    if root is None:
        raise InputError(f"{path}: empty file, not an nmap XML report")
    stats = {"bytes": size, "hosts_in_report": seen, "hosts": len(hosts),
             "malformed": notes.skipped}
    return PassiveResult(Source.NMAP_XML, str(path), tuple(hosts), notes.warnings(), stats)


def _refusal(exc: DefusedXmlException) -> str:
    kind = type(exc).__name__
    if isinstance(exc, _Refused):
        return str(exc)
    if kind == "DTDForbidden":
        return "the file declares a document type (DTD); nmap reports carry none but " \
               "<!DOCTYPE nmaprun>"
    if kind == "EntitiesForbidden":
        return "the file declares XML entities (an XML bomb?)"
    if kind == "ExternalReferenceForbidden":
        return "the file refers to an external entity"
    return f"unsafe XML ({kind})"


def _reason(exc: ParseError) -> str:
    return (bounded(str(exc).split(":", 1)[0]) or "parse error")[:80]


# ---------------------------------------------------------------------- hosts
def _host(elem: Element, fallback: str, notes: Notes) -> HostObservation | None:
    status = elem.find("status")
    if status is not None and status.get("state") != "up":
        return None
    ip4 = ip6 = mac = None
    fields: dict[str, str] = {}
    for address in elem.iter("address"):
        kind, addr = address.get("addrtype"), address.get("addr") or ""
        if kind == "ipv4" and ip4 is None:
            ip4 = device_ip(addr)
        elif kind == "ipv6" and ip6 is None:
            ip6 = device_ip(addr)
        elif kind == "mac" and mac is None:
            mac = device_mac(addr)
            vendor = bounded(address.get("vendor"))
            if mac and vendor:
                fields[Field.MAC_VENDOR] = vendor
    ip = ip4 or ip6
    if ip is None and mac is None:
        notes.skip("hosts", "a host with no usable address")
        return None
    names = [n.get("name") for n in elem.iter("hostname") if n.get("name")]
    when = _number(elem.get("endtime")) or _number(elem.get("starttime"))
    services = tuple(sorted((s for s in (_service(p, notes) for p in elem.iter("port")) if s),
                            key=lambda s: (s.transport, s.port)))
    return HostObservation(
        source=Source.NMAP_XML, observed_at=iso_from_seconds(when) if when else fallback,
        ip=ip, mac=mac, hostname=bounded(names[0]) if names else None, services=services,
        fields=dict(sorted(fields.items())))


def _service(port: Element, notes: Notes) -> ServiceObservation | None:
    state = port.find("state")
    transport = port.get("protocol")
    number = _number(port.get("portid"))
    if state is None or state.get("state") != "open" or transport not in ("tcp", "udp") \
            or number is None or not 0 < number < 65536:
        return None
    info = port.find("service")
    info = info if info is not None else Element("service")
    name = (bounded(info.get("name")) or "unknown").lower()
    name = _SERVICE_NAMES.get(name, name)
    tunnelled = info.get("tunnel") == "ssl"
    if tunnelled:
        name = _TLS_NAMES.get(name, name)
    fields: dict[str, str] = {}
    extra = bounded(info.get("extrainfo"))
    if extra:
        fields[NMAP_EXTRAINFO] = extra
    cpes = [c.text for c in info.iter("cpe") if c.text]
    if cpes:
        fields[NMAP_CPE] = bounded(",".join(cpes[:16])) or ""
    banner, certificate = None, None
    for script in port.iter("script"):
        sid, output = script.get("id"), bounded(script.get("output"))
        if sid in _SCRIPT_FIELDS and output:
            text = _script_text(script, sid) or output
            if sid == "snmp-sysdescr":  # nmap adds the uptime on lines of its own
                text = text.split("\n  System uptime:", 1)[0]
            fields[_SCRIPT_FIELDS[sid]] = text
            if sid == "banner":
                banner = text
        elif sid == "ssl-cert":
            certificate = _certificate(script, notes)
            if certificate is not None:
                fields[Field.TLS_SUBJECT] = certificate.subject
                fields[Field.TLS_ISSUER] = certificate.issuer
        elif sid == "ssh-hostkey":
            key = _ssh_key_sha256(script)
            if key:
                fields[Field.SSH_HOST_KEY] = key
    tls = TlsInfo(version=None, certificate=certificate) if tunnelled or certificate else None
    return ServiceObservation(
        port=number, transport=transport, service=name, product=bounded(info.get("product")),
        version=bounded(info.get("version")), banner=banner, tls=tls,
        fields=dict(sorted(fields.items())))


def _script_text(script: Element, sid: str) -> str | None:
    """The structured value where nmap gives one (the title, the header line)."""
    if sid == "http-title":
        elem = script.find("elem[@key='title']")
        return bounded(elem.text) if elem is not None else None
    if sid == "http-server-header":
        elem = script.find("elem")
        return bounded(elem.text) if elem is not None else None
    return None


def _certificate(script: Element, notes: Notes) -> CertificateInfo | None:
    pem = script.find("elem[@key='pem']")
    if pem is None or not pem.text:
        return None
    try:
        der = x509.load_pem_x509_certificate(pem.text.encode("ascii", "replace")).public_bytes(
            serialization.Encoding.DER)
        return certificate_info(der)
    except ValueError as exc:
        notes.skip("certificates", str(exc))
        return None


def _ssh_key_sha256(script: Element) -> str | None:
    """SHA-256 (hex) of the first host key blob nmap printed (``ssh-hostkey``)."""
    for table in script.iter("table"):
        key = table.find("elem[@key='key']")
        if key is not None and key.text:
            try:
                return hashlib.sha256(base64.b64decode(key.text.strip(),
                                                       validate=True)).hexdigest()
            except (binascii.Error, ValueError):
                return None
    return None


def _number(text: str | None) -> int | None:
    if text is None or not text.strip().isdigit():
        return None
    return int(text.strip())
