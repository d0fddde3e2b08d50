"""``read_dhcp_leases``: ISC dhcpd and dnsmasq lease files, malformed and huge lines."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from fleetwarden.adapters.discovery.passive import read_dhcp_leases
from fleetwarden.adapters.discovery.passive._common import file_time
from fleetwarden.domain.discovery import Field, Source
from fleetwarden.errors import InputError

DATA = Path(__file__).resolve().parents[2] / "data" / "discovery"


def _error(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        read_dhcp_leases(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return message


def test_isc_leases_last_block_wins_and_clients_only():
    path = DATA / "dhcpd.leases"
    result = read_dhcp_leases(path)
    assert result.source is Source.DHCP_LEASES
    hosts = {o.mac: o for o in result.observations}
    assert set(hosts) == {"ac:cc:8e:75:52:79", "00:c0:b7:96:04:59", "38:8a:21:b2:76:81",
                          "40:84:32:a5:07:92"}  # not the abandoned lease, nor the broken ones
    camera = hosts["ac:cc:8e:75:52:79"]
    assert (camera.ip, camera.hostname) == ("192.0.2.50", "kstn-cam-0501")
    assert camera.observed_at == "2026-03-02T09:00:00.000000Z"  # the later block's cltt
    assert camera.fields == {Field.DHCP_HOSTNAME: "kstn-cam-0501",
                             Field.DHCP_VENDOR_CLASS: "udhcp 1.36.1"}
    assert hosts["38:8a:21:b2:76:81"].hostname == 'depot-"tel"-0501\u00e9'  # escapes undone
    assert hosts["38:8a:21:b2:76:81"].observed_at == "2026-03-02T08:05:00.000000Z"  # epoch
    assert hosts["40:84:32:a5:07:92"].observed_at == "2026-03-02T06:00:00.000000Z"  # free
    assert result.warnings == (
        f"{path}: 1 block skipped as malformed (first: line 69: lease for a bad address)",
        f"{path}: 2 lines skipped as malformed (first: line 74: bad date)")


def test_dnsmasq_leases():
    path = DATA / "dnsmasq.leases"
    result = read_dhcp_leases(path)
    hosts = {o.ip: o for o in result.observations}
    assert set(hosts) == {"192.0.2.50", "192.0.2.51", "192.0.2.52", "2001:db8::53"}
    assert hosts["192.0.2.50"].mac == "ac:cc:8e:75:52:79"
    assert hosts["192.0.2.52"].hostname is None  # dnsmasq writes "*"
    assert hosts["2001:db8::53"].mac is None and hosts["2001:db8::53"].hostname == \
        "depot-plc-0501"
    assert {o.observed_at for o in result.observations} == {file_time(path)}
    assert result.stats["malformed"] == 2 and "line 4" in result.warnings[0]


def test_not_a_lease_file(tmp_path):
    assert "not an ISC dhcpd.leases or dnsmasq leases file" in _error(
        DATA / "leases-garbage.txt")
    junk = tmp_path / "junk"
    junk.write_bytes(os.urandom(8192))
    assert "not an ISC" in _error(junk)
    assert "no such file" in _error(tmp_path / "absent")


def test_nothing_parses_is_an_error():
    message = _error(DATA / "dhcpd-truncated.leases")
    assert "no lease could be read" in message and "never closed" not in message.split(
        "first:")[0]


def test_huge_lines_are_skipped_without_being_held(tmp_path):
    path = tmp_path / "dnsmasq.leases"
    with path.open("wb") as fh:
        fh.write(b"1772528400 ac:cc:8e:75:52:79 192.0.2.50 cam *\n")
        fh.write(b"1772528400 02:00:00:00:00:01 192.0.2.51 " + b"h" * (3 * 1024 * 1024)
                 + b" *\n")
        fh.write(b"\x00\xff\xfe binary junk \x80\x81\n")
        fh.write(b"1772528400 00:c0:b7:96:04:59 192.0.2.52 ups *\n")
    started = time.monotonic()
    result = read_dhcp_leases(path)
    assert time.monotonic() - started < 3
    assert [o.ip for o in result.observations] == ["192.0.2.50", "192.0.2.52"]
    assert result.stats["malformed"] == 2
    assert "longer than 64 KiB" in result.warnings[0]


def test_huge_isc_hostname_line(tmp_path):
    path = tmp_path / "dhcpd.leases"
    path.write_bytes(b'lease 192.0.2.9 {\n  cltt 1 2026/03/02 09:00:00;\n'
                     b'  hardware ethernet 02:00:00:00:00:09;\n'
                     b'  client-hostname "' + b"x" * (2 * 1024 * 1024) + b'";\n}\n')
    result = read_dhcp_leases(path)
    [host] = result.observations
    assert host.hostname is None and host.mac == "02:00:00:00:00:09"
    assert result.stats["malformed"] == 1
