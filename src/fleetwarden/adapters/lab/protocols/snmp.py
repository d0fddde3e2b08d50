"""Placeholder until the snmp personality lands."""

from __future__ import annotations

from fleetwarden.adapters.lab.protocols.base import LabContext
from fleetwarden.domain.lab import LabDevice, LabService


def answer_snmp(device: LabDevice, service: LabService, datagram: bytes, peer: tuple[str, int],
              lab: LabContext) -> bytes | None:
    raise NotImplementedError
