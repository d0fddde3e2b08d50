"""Placeholder until the ssh personality lands."""

from __future__ import annotations

from typing import Any

from fleetwarden.adapters.lab.protocols.base import LabContext
from fleetwarden.domain.lab import LabDevice, LabService


async def start_ssh(device: LabDevice, service: LabService, lab: LabContext) -> Any:
    raise NotImplementedError
