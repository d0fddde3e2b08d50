"""Passive and imported discovery: files other tools wrote, read as observations.

Every reader takes a path and returns a ``PassiveResult``: ``HostObservation`` values
(the same shape active scanning produces, with ``source`` saying where they came
from), one-line warnings for damage that was skipped, and counters. A file with nothing
usable in it raises ``InputError`` with one line naming the file and the problem.

``READERS`` maps each passive ``Source`` to its reader, for the CLI's ``--pcap``,
``--nmap-xml``, ``--dhcp-leases`` and ``--arp-table``.

Must not: write anything, open a socket, or trust a byte of the files it reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from fleetwarden.adapters.discovery.passive._common import PassiveResult, Progress
from fleetwarden.adapters.discovery.passive.arp import read_arp_table
from fleetwarden.adapters.discovery.passive.leases import read_dhcp_leases
from fleetwarden.adapters.discovery.passive.nmap_xml import read_nmap_xml
from fleetwarden.adapters.discovery.passive.pcap import read_pcap
from fleetwarden.domain.discovery import Source


class Reader(Protocol):
    """How every passive reader is called (``read_pcap`` also takes ``workers``)."""

    def __call__(self, path: Path, *, progress: Progress | None = None) -> PassiveResult: ...


READERS: Mapping[Source, Reader] = {
    Source.PCAP: read_pcap,
    Source.NMAP_XML: read_nmap_xml,
    Source.DHCP_LEASES: read_dhcp_leases,
    Source.ARP_TABLE: read_arp_table,
}


def read_passive(source: Source, path: Path, *,
                 progress: Progress | None = None) -> PassiveResult:
    """Read ``path`` as ``source`` (any passive source; ``ACTIVE`` is refused)."""
    reader = READERS.get(source)
    if reader is None:
        raise ValueError(f"{source} is not a passive source")
    return reader(path, progress=progress)


__all__ = [
    "READERS",
    "PassiveResult",
    "Progress",
    "Reader",
    "read_arp_table",
    "read_dhcp_leases",
    "read_nmap_xml",
    "read_passive",
    "read_pcap",
]
