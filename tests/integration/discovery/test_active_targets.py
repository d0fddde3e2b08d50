"""TARGET and --ports strings: what they expand to, and the one-line errors for the rest.

No traffic: parsing and scope checks only.
"""

from __future__ import annotations

import pytest

from fleetwarden.adapters.discovery.active import (
    IOT_TOP_TCP,
    IOT_TOP_UDP,
    LAB_PORT_OFFSET,
    MAX_ADDRESSES,
    PortPlan,
    parse_ports,
    parse_targets,
)
from fleetwarden.errors import InputError


def test_address_cidr_and_both_range_forms():
    assert list(parse_targets("127.0.0.1")) == ["127.0.0.1"]
    assert len(parse_targets("127.1.0.0/24")) == 256
    assert list(parse_targets("127.1.0.250-127.1.1.1")) == [
        "127.1.0.250", "127.1.0.251", "127.1.0.252", "127.1.0.253", "127.1.0.254",
        "127.1.0.255", "127.1.1.0", "127.1.1.1"]
    assert list(parse_targets(" 127.1.0.5-7 ")) == ["127.1.0.5", "127.1.0.6", "127.1.0.7"]


def test_overlapping_targets_are_merged_and_counted_once():
    targets = parse_targets(["127.2.0.0/25", "127.2.0.100-127.2.0.200", "127.2.0.5"])
    assert targets.ranges == ((int.from_bytes(bytes([127, 2, 0, 0]), "big"),
                               int.from_bytes(bytes([127, 2, 0, 200]), "big")),)
    assert len(targets) == 201


def test_scope_and_limits():
    with pytest.raises(InputError, match="at most 1048576"):
        parse_targets("127.0.0.0/8")
    assert len(parse_targets("127.0.0.0/12")) == MAX_ADDRESSES
    with pytest.raises(InputError, match="outside 127.0.0.0/8"):
        parse_targets(["127.0.0.1", "10.1.2.3"])
    # the caller's authorised scope may lift the loopback rule (parsing only, no scan) ...
    assert len(parse_targets("10.1.2.0/30", allow_non_loopback=True)) == 4
    # ... but never for blocks nobody may scan
    for never in ("224.0.0.251", "0.0.0.0/8", "255.255.255.255", "239.255.255.250"):
        with pytest.raises(InputError, match="never scanned"):
            parse_targets(never, allow_non_loopback=True)


@pytest.mark.parametrize("spec", ["127.0.0.9-1", "127.0.0.9-127.0.0.1", "a.b.c.d",
                                  "127.0.0.1/", "127.0.0.1 127.0.0.2", "-",
                                  "127.0.0.1-300", "2001:db8::1"])
def test_bad_targets_name_the_bad_piece(spec):
    with pytest.raises(InputError) as caught:
        parse_targets(spec)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 200


def test_iot_top_documents_the_lab_offset():
    assert {21, 22, 23, 80, 443, 502, 554, 1883, 8883, 8000, 8080, 8443, 37777,
            49152} <= set(IOT_TOP_TCP)
    assert {p + LAB_PORT_OFFSET for p in (21, 22, 23, 80, 443, 502, 554)} <= set(IOT_TOP_TCP)
    assert {161, 1900, 5353, 20161} <= set(IOT_TOP_UDP)
    assert 55 <= len([p for p in IOT_TOP_TCP if p < LAB_PORT_OFFSET or p > 30000]) <= 70
    assert parse_ports("IOT-TOP") == PortPlan(IOT_TOP_TCP, IOT_TOP_UDP)


def test_port_lists():
    assert parse_ports("22,80,443,8000-8003") == PortPlan((22, 80, 443, 8000, 8001, 8002,
                                                           8003), ())
    assert parse_ports("80,U:161,u:1900,T:23") == PortPlan((23, 80), (161, 1900))
    assert parse_ports("80,161") == PortPlan((80, 161), (161,))  # 161 means SNMP too


@pytest.mark.parametrize("spec", ["", "0", "65536", "80-70", "http", "80,,443", "U:",
                                  "1-2-3", "22;80"])
def test_bad_port_lists(spec):
    with pytest.raises(InputError, match="port list|empty port list"):
        parse_ports(spec)
