"""An open debug / diagnostic console, as left enabled on many embedded devices.

It greets with the family's banner and echoes a prompt; ``help``, ``version`` and
``exit`` answer like a vendor shell. It never runs anything.

Must not: execute input or reveal anything beyond the device's persona.
"""

from __future__ import annotations

import asyncio

from fleetwarden.adapters.lab.protocols.base import LabContext, read_line, wire
from fleetwarden.domain.lab import LabDevice, LabService

_MAX_COMMANDS = 50


async def serve_debug(device: LabDevice, service: LabService, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter, lab: LabContext) -> None:
    banner = device.persona.get("debug_banner", "")
    if banner:
        writer.write(wire(banner))
        await writer.drain()
    for _ in range(_MAX_COMMANDS):
        line = await read_line(reader)
        if not line:
            return
        command = line.strip().decode("ascii", "replace").lower()
        if command in {"exit", "quit", "logout"}:
            writer.write(b"bye\r\n")
            return
        if command == "help":
            writer.write(b"commands: help version exit\r\n# ")
        elif command == "version":
            writer.write(wire(f"{device.model} {device.firmware_version}\r\n# "))
        else:
            writer.write(b"unknown command\r\n# ")
        await writer.drain()
