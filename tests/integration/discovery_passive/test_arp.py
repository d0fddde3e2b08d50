"""``read_arp_table``: ip neigh, /proc/net/arp, Windows and macOS ``arp -a`` output."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetwarden.adapters.discovery.passive import read_arp_table
from fleetwarden.adapters.discovery.passive._common import file_time
from fleetwarden.domain.discovery import Source
from fleetwarden.errors import InputError

DATA = Path(__file__).resolve().parents[2] / "data" / "discovery"


def _entries(name: str) -> list[tuple[str | None, str | None]]:
    result = read_arp_table(DATA / name)
    assert result.source is Source.ARP_TABLE and result.warnings == ()
    assert {o.observed_at for o in result.observations} == {file_time(DATA / name)}
    return [(o.ip, o.mac) for o in result.observations]


def test_ip_neigh_skips_failed_incomplete_and_multicast():
    assert _entries("arp-ip-neigh.txt") == [
        ("192.0.2.1", "02:fa:c0:00:02:01"), ("192.0.2.50", "ac:cc:8e:75:52:79"),
        ("192.0.2.51", "00:c0:b7:96:04:59"),
        ("fe80::aecc:8eff:fe75:5279", "ac:cc:8e:75:52:79")]


def test_proc_net_arp_skips_incomplete():
    assert _entries("arp-proc-net-arp.txt") == [
        ("192.0.2.1", "02:fa:c0:00:02:01"), ("192.0.2.50", "ac:cc:8e:75:52:79"),
        ("192.0.2.51", "00:c0:b7:96:04:59")]


def test_windows_arp_skips_broadcast_and_multicast():
    assert _entries("arp-windows.txt") == [
        ("192.0.2.1", "02:fa:c0:00:02:01"), ("192.0.2.50", "ac:cc:8e:75:52:79"),
        ("198.51.100.1", "00:c0:b7:96:04:59")]


def test_macos_arp_normalises_short_macs_and_keeps_names():
    result = read_arp_table(DATA / "arp-macos.txt")
    assert [(o.ip, o.mac, o.hostname) for o in result.observations] == [
        ("192.0.2.1", "02:fa:c0:00:02:01", None),
        ("192.0.2.50", "ac:cc:8e:75:52:79", "kstn-cam-0501.lab.example")]
    assert result.stats["incomplete"] == 1


def test_not_an_arp_table(tmp_path):
    for name in ("leases-garbage.txt", "nmap-scan.xml"):
        with pytest.raises(InputError, match="not an ARP table"):
            read_arp_table(DATA / name)
    with pytest.raises(InputError, match="no such file"):
        read_arp_table(tmp_path / "absent")


def test_unknown_and_huge_lines_are_counted(tmp_path):
    path = tmp_path / "neigh.txt"
    path.write_bytes(b"192.0.2.1 dev eth0 lladdr 02:fa:c0:00:02:01 REACHABLE\n"
                     b"something else entirely\n" + b"y" * (2 * 1024 * 1024) + b"\n"
                     b"192.0.2.9 dev eth0 INCOMPLETE\n")
    result = read_arp_table(path)
    assert [o.ip for o in result.observations] == ["192.0.2.1"]
    assert result.stats["malformed"] == 2 and len(result.warnings) == 1


def test_only_incomplete_entries_give_an_empty_result(tmp_path):
    path = tmp_path / "neigh.txt"
    path.write_text("192.0.2.9 dev eth0 INCOMPLETE\n192.0.2.8 dev eth0 FAILED\n")
    result = read_arp_table(path)
    assert result.observations == () and "no complete entry" in result.warnings[0]
