"""What every passive reader promises: the registry, the result shape, and observations
that are valid whatever the source (source, ISO 8601 UTC time, MAC and IP forms)."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from pathlib import Path

import pytest

from fleetwarden.adapters.discovery.passive import READERS, PassiveResult, read_passive
from fleetwarden.adapters.lab.pcap import write_pcap
from fleetwarden.adapters.lab.plan import plan_lab
from fleetwarden.domain.discovery import MAX_TEXT, Source

DATA = Path(__file__).resolve().parents[2] / "data" / "discovery"
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pcap") / "lab.pcap"
    write_pcap(plan_lab("small-force", count=5), path, None)
    return path


def _inputs(capture: Path) -> dict[Source, list[Path]]:
    return {
        Source.PCAP: [capture],
        Source.NMAP_XML: [DATA / "nmap-scan.xml", DATA / "nmap-truncated-after-host.xml"],
        Source.DHCP_LEASES: [DATA / "dhcpd.leases", DATA / "dnsmasq.leases"],
        Source.ARP_TABLE: [DATA / name for name in ("arp-ip-neigh.txt", "arp-proc-net-arp.txt",
                                                     "arp-windows.txt", "arp-macos.txt")],
    }


def test_every_passive_source_has_a_reader():
    assert set(READERS) == set(Source) - {Source.ACTIVE}
    with pytest.raises(ValueError, match="not a passive source"):
        read_passive(Source.ACTIVE, DATA / "nmap-scan.xml")


def test_every_observation_is_valid(capture):
    for source, paths in _inputs(capture).items():
        for path in paths:
            result = read_passive(source, path)
            assert isinstance(result, PassiveResult)
            assert result.source is source and result.path == str(path)
            assert result.observations, path
            assert all(isinstance(w, str) and "\n" not in w and str(path) in w
                       for w in result.warnings)
            assert result.stats["hosts"] == len(result.observations)
            for host in result.observations:
                assert host.source is source
                assert host.observed_at.endswith("Z")
                datetime.fromisoformat(host.observed_at.replace("Z", "+00:00"))
                assert host.ip or host.mac
                if host.mac:
                    assert MAC.match(host.mac)
                if host.ip:
                    assert str(ipaddress.ip_address(host.ip)) == host.ip
                for _, text, _ in host.all_fields():
                    assert isinstance(text, str) and len(text) <= MAX_TEXT
                for service in host.services:
                    assert service.transport in ("tcp", "udp") and 0 < service.port < 65536
