"""Placeholder until the mqtt personality lands."""

from __future__ import annotations

import asyncio

from fleetwarden.adapters.lab.protocols.base import LabContext
from fleetwarden.domain.lab import LabDevice, LabService


async def serve_mqtt(device: LabDevice, service: LabService, reader: asyncio.StreamReader,
                   writer: asyncio.StreamWriter, lab: LabContext) -> None:
    raise NotImplementedError
