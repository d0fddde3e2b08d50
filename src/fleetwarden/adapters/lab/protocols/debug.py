"""An open debug / diagnostic console, as left enabled on many embedded devices.

It greets with the family's banner and answers at the banner's own prompt (the text
after its last line break, ``# `` when the banner ends a line): ``help``, ``version``
and ``exit`` answer like a vendor shell, and a blank line (the "Press Enter" the
banner may ask for) just shows the prompt again. It never runs anything.

Must not: execute input or reveal anything beyond the device's persona.
"""

from __future__ import annotations

import asyncio

from fleetwarden.adapters.lab.protocols.base import LabContext, read_line, wire
from fleetwarden.domain.lab import LabDevice, LabService

#: Lines (blank ones included) a session may send before the device hangs up.
_MAX_COMMANDS = 50
_DEFAULT_PROMPT = "# "


def prompt(banner: str) -> str:
    """The prompt a banner ends with (``xmsh> `` after ``...\\r\\nxmsh> ``), else ``# ``."""
    return banner.rpartition("\n")[2] or _DEFAULT_PROMPT


async def serve_debug(device: LabDevice, service: LabService, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter, lab: LabContext) -> None:
    banner = device.persona.get("debug_banner", "")
    again = wire(prompt(banner))
    if banner:
        writer.write(wire(banner))
        await writer.drain()
    for _ in range(_MAX_COMMANDS):
        line = await read_line(reader)
        if line is None:
            return
        command = line.strip().decode("ascii", "replace").lower()
        if command in {"exit", "quit", "logout"}:
            writer.write(b"bye\r\n")
            return
        if not command:
            writer.write(again)
        elif command == "help":
            writer.write(b"commands: help version exit\r\n" + again)
        elif command == "version":
            writer.write(wire(f"{device.model} {device.firmware_version}\r\n") + again)
        else:
            writer.write(b"unknown command\r\n" + again)
        await writer.drain()
