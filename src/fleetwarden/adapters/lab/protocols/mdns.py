"""DNS-SD over unicast mDNS: what a device advertises to a query sent to its port 5353.

The device owns ``<hostname>.local`` (A), one ``<hostname>.<type>.local`` instance per
DNS-SD type it advertises (SRV and TXT; which types, ports and TXT is ``dnssd``'s rule,
shared with the pcap writer) and answers the shared browse names
``_services._dns-sd._udp.local`` and ``<type>.local`` (PTR). Additional records follow
RFC 6763 §12 (PTR -> SRV, TXT, A; SRV -> A). A name the device owns but without the
asked type gets an NSEC saying so (RFC 6762 §6.1). A name it does not own gets no
answer at all, not NXDOMAIN: RFC 6762 §6 lets a responder speak only when it has
something true to say, and other devices may own the name.

A query from a port other than 5353 is a legacy unicast query (RFC 6762 §6.7): the reply
echoes its id and question, with TTLs of at most 10 s. A querier on port 5353 (a QU
question) gets the id back but no question section, as mDNS responses carry none.

Must not: answer malformed or oversized datagrams, responses or non-QUERY opcodes, or
raise on any datagram (a decode problem means silence).
"""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.PTR import PTR
from dns.rdtypes.ANY.TXT import TXT
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.SRV import SRV

from fleetwarden.adapters.lab.protocols.base import LabContext
from fleetwarden.adapters.lab.protocols.dnssd import (
    HOST_TTL,
    OTHER_TTL,
    Advert,
    advertised,
    instance_label,
)
from fleetwarden.domain.lab import LabDevice, LabService

#: RFC 6762 §17: an mDNS message is at most 9000 bytes.
_MAX_MESSAGE = 9000
_MAX_QUESTIONS = 16
_REPLY_LIMIT = 8192
_LEGACY_LIMIT = 512
_MDNS_PORT = 5353
_LEGACY_TTL = 10
_QU_BIT = 0x8000
_IN = dns.rdataclass.IN

_LOCAL = dns.name.from_text("local.")
_BROWSE = dns.name.from_text("_services._dns-sd._udp.local.")


# ------------------------------------------------------------------ the zone
class _Zone:
    """The device's records, by owner name; ``unique`` names are the device's alone."""

    def __init__(self, device: LabDevice) -> None:
        self.records: dict[dns.name.Name, list[dns.rrset.RRset]] = {}
        self.unique: set[dns.name.Name] = set()
        self.label = instance_label(device)
        self.host = dns.name.Name([self.label]).concatenate(_LOCAL)
        self._add(self.host, HOST_TTL, A(_IN, dns.rdatatype.A, device.ip), unique=True)
        for advert in advertised(device):
            self._instance(advert)

    def _add(self, name: dns.name.Name, ttl: int, rdata: dns.rdata.Rdata, *,
             unique: bool = False) -> None:
        rrsets = self.records.setdefault(name, [])
        for rrset in rrsets:
            if rrset.rdtype == rdata.rdtype:
                rrset.add(rdata)
                break
        else:
            rrsets.append(dns.rrset.from_rdata(name, ttl, rdata))
        if unique:
            self.unique.add(name)

    def _instance(self, advert: Advert) -> None:
        type_name = dns.name.Name(advert.labels).concatenate(_LOCAL)
        instance = dns.name.Name([self.label]).concatenate(type_name)
        self._add(_BROWSE, OTHER_TTL, PTR(_IN, dns.rdatatype.PTR, type_name))
        self._add(type_name, OTHER_TTL, PTR(_IN, dns.rdatatype.PTR, instance))
        srv = SRV(_IN, dns.rdatatype.SRV, 0, 0, advert.port, self.host)
        self._add(instance, HOST_TTL, srv, unique=True)
        self._add(instance, OTHER_TTL, TXT(_IN, dns.rdatatype.TXT, advert.txt), unique=True)

    def answer(self, name: dns.name.Name, rdtype: int) -> list[dns.rrset.RRset]:
        """Records for one question: matches, an NSEC for an owned name, or nothing."""
        rrsets = self.records.get(name, [])
        matched = [r for r in rrsets if rdtype in (dns.rdatatype.ANY, r.rdtype)]
        if matched or name not in self.unique:
            return matched
        types = " ".join(sorted(dns.rdatatype.to_text(r.rdtype) for r in rrsets))
        nsec = dns.rdata.from_text(_IN, dns.rdatatype.NSEC, f"{name.to_text()} {types}")
        return [dns.rrset.from_rdata(name, HOST_TTL, nsec)]

    def extras(self, answers: list[dns.rrset.RRset]) -> list[dns.rrset.RRset]:
        """RFC 6763 §12 additional records for the given answers."""
        out: list[dns.rrset.RRset] = []
        for rrset in answers:
            if rrset.rdtype == dns.rdatatype.PTR and rrset.name != _BROWSE:
                for rdata in rrset:
                    out += self.records.get(rdata.target, [])
            if rrset.rdtype == dns.rdatatype.SRV:
                out += self.records.get(self.host, [])
        if any(r.rdtype == dns.rdatatype.SRV for r in out):
            out += self.records.get(self.host, [])
        return out


# ------------------------------------------------------------------ messages
def _query(datagram: bytes) -> dns.message.Message | None:
    """The query in ``datagram``, or None if it is not one the responder answers."""
    if not 12 <= len(datagram) <= _MAX_MESSAGE:
        return None
    try:
        query = dns.message.from_wire(datagram)
    except Exception:  # noqa: BLE001 - dnspython raises many kinds; any means malformed
        return None
    if (query.flags & dns.flags.QR or query.opcode() != dns.opcode.QUERY
            or not 1 <= len(query.question) <= _MAX_QUESTIONS):
        return None
    return query


def _unique(rrsets: list[dns.rrset.RRset], seen: list[dns.rrset.RRset]) -> list[dns.rrset.RRset]:
    out: list[dns.rrset.RRset] = []
    for rrset in rrsets:
        if not any(rrset is other for other in seen + out):
            out.append(rrset)
    return out


def _limit(query: dns.message.Message, legacy: bool) -> int:
    """Reply size: mDNS queriers take 8 KiB, legacy resolvers 512 bytes or their EDNS size."""
    if not legacy:
        return _REPLY_LIMIT
    if query.edns < 0:
        return _LEGACY_LIMIT
    return min(_REPLY_LIMIT, max(query.payload, _LEGACY_LIMIT))


def _reply(query: dns.message.Message, answers: list[dns.rrset.RRset],
           additional: list[dns.rrset.RRset], legacy: bool) -> bytes | None:
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    response.flags &= ~dns.flags.RD
    if not legacy:
        response.question = []
    for section, rrsets in ((response.answer, answers), (response.additional, additional)):
        for rrset in rrsets:
            copy = rrset.copy()
            if legacy:
                copy.ttl = min(copy.ttl, _LEGACY_TTL)
            section.append(copy)
    try:
        return response.to_wire(max_size=_limit(query, legacy), prefer_truncation=True)
    except dns.exception.DNSException:
        return None


def answer_mdns(device: LabDevice, service: LabService, datagram: bytes, peer: tuple[str, int],
                lab: LabContext) -> bytes | None:
    """A unicast reply to one DNS-SD query, or None when the device has nothing to say."""
    query = _query(datagram)
    if query is None:
        return None
    zone = _Zone(device)
    answers: list[dns.rrset.RRset] = []
    for question in query.question:
        if question.rdclass & ~_QU_BIT not in (_IN, dns.rdataclass.ANY):
            continue
        answers += _unique(zone.answer(question.name, question.rdtype), answers)
    if not answers:
        return None
    additional = _unique(zone.extras(answers), answers)
    return _reply(query, answers, additional, legacy=peer[1] != _MDNS_PORT)
