"""DNS-SD over unicast mDNS: which services a host advertises, and their TXT records.

A legacy unicast query (from an ephemeral port, RFC 6762 §6.7) for
``_services._dns-sd._udp.local`` PTR lists the service types; a second query asks
each type's PTR, whose additional records carry the instances' SRV, TXT and the host's
A record. Types become ``mdns.services`` (comma-separated, ``_http._tcp``), TXT pairs
``mdns.txt`` (``key=value`` joined with ``;``), and the A record's owner the host name.

Must not: send multicast, ask more than ``MAX_TYPES`` types, or raise on any datagram
(dnspython's many exceptions all mean "not an answer").
"""

from __future__ import annotations

import secrets

import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from fleetwarden.adapters.discovery.active.draft import Draft
from fleetwarden.adapters.discovery.active.net import Dialer
from fleetwarden.domain.discovery import Field

BROWSE = "_services._dns-sd._udp.local."
MAX_TYPES = 16
_MAX_TXT_PAIRS = 64


def _query(names: list[str]) -> dns.message.Message:
    query = dns.message.Message(id=secrets.randbelow(1 << 16))
    for name in names:
        query.question.append(dns.rrset.RRset(dns.name.from_text(name), dns.rdataclass.IN,
                                              dns.rdatatype.PTR))
    return query


def _answer(datagram: bytes, query: dns.message.Message) -> dns.message.Message | None:
    try:
        message = dns.message.from_wire(datagram, ignore_trailing=True)
    except Exception:  # noqa: BLE001 - dnspython raises many kinds; any means "not ours"
        return None
    return message if message.id == query.id and message.answer else None


async def _ask(dialer: Dialer, port: int, names: list[str]) -> dns.message.Message | None:
    query = _query(names)
    for datagram in await dialer.exchange(port, [query.to_wire()],
                                          timeout=dialer.udp_timeout,
                                          until=lambda d: _answer(d, query) is not None):
        answer = _answer(datagram, query)
        if answer is not None:
            return answer
    return None


def _types(message: dns.message.Message) -> list[str]:
    found: list[str] = []
    for rrset in message.answer:
        if rrset.rdtype != dns.rdatatype.PTR:
            continue
        for rdata in rrset:
            kind = rdata.target.to_text(omit_final_dot=True).removesuffix(".local")
            if kind not in found and len(found) < MAX_TYPES:
                found.append(kind)
    return found


async def identify(dialer: Dialer, port: int) -> tuple[Draft, str | None] | None:
    """(the mDNS service, the host's .local name) when the host answered DNS-SD."""
    browse = await _ask(dialer, port, [BROWSE])
    if browse is None:
        return None
    types = _types(browse)
    draft = Draft(port, "udp", "mdns")
    draft.put(Field.MDNS_SERVICES, ",".join(types))
    hostname = None
    if types:
        detail = await _ask(dialer, port, [f"{t}.local." for t in types])
        if detail is not None:
            draft.put(Field.MDNS_TXT, ";".join(_txt(detail)))
            hostname = _host(detail)
    return draft, hostname


def _txt(message: dns.message.Message) -> list[str]:
    pairs: list[str] = []
    for rrset in (*message.answer, *message.additional):
        if rrset.rdtype != dns.rdatatype.TXT:
            continue
        for rdata in rrset:
            for raw in rdata.strings:
                text = raw.decode("utf-8", "replace")
                if text and text not in pairs and len(pairs) < _MAX_TXT_PAIRS:
                    pairs.append(text)
    return pairs


def _host(message: dns.message.Message) -> str | None:
    for rrset in (*message.answer, *message.additional):
        if rrset.rdtype == dns.rdatatype.A:
            return str(rrset.name.to_text(omit_final_dot=True).removesuffix(".local"))
    return None
