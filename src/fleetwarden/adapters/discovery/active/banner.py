"""Services that speak first: SSH, FTP, Telnet and debug consoles, read from their banner.

The probe connects, answers nothing and reads what arrives (bounded in bytes and time,
ending early at a complete SSH line, a final FTP reply or a prompt). Telnet option
negotiation is stripped, never answered. For SSH the host key is fetched with asyncssh
(key exchange only, no authentication): its SHA-256 fingerprint, in OpenSSH's
``SHA256:<base64>`` form, is a strong identifier of the device.

Banners are untrusted text: ANSI escapes, HTML and invalid UTF-8 are kept as decoded,
bounded data, never interpreted.

Must not: send credentials or commands, answer Telnet negotiation, or read unbounded.
"""

from __future__ import annotations

import logging
import re

import asyncssh

from fleetwarden.adapters.discovery.active.draft import Draft
from fleetwarden.adapters.discovery.active.hints import DEBUG_PORTS, TELNET_PORTS, nominal
from fleetwarden.adapters.discovery.active.net import Dialer
from fleetwarden.adapters.discovery.active.products import from_ftp_banner, from_ssh_banner
from fleetwarden.domain.discovery import Field

log = logging.getLogger("fleetwarden.discovery")

#: Raw bytes read from a banner; a device sending megabytes is cut here.
BANNER_BYTES = 16 * 1024
#: Silence after the first bytes that ends a banner without a recognisable end.
QUIET_GAP = 0.15

IAC, SB, SE = 255, 250, 240
WILL, WONT, DO, DONT = 251, 252, 253, 254
#: BusyBox telnetd opens with DO ECHO, DO NAWS, WILL ECHO, WILL SGA (scanners' signature).
BUSYBOX_TELNETD = bytes([IAC, DO, 1, IAC, DO, 31, IAC, WILL, 1, IAC, WILL, 3])

_FTP_FINAL = re.compile(rb"(?:^|\n)\d{3} [^\n]*\n")
_PROMPT_END = (b":", b">", b"#", b"$", b"%")


def banner_complete(data: bytes) -> bool:
    """Whether a banner has clearly ended (saves waiting for the quiet gap)."""
    if data.startswith(b"SSH-"):
        return b"\n" in data
    if data[:3].isdigit() and data[3:4] in (b" ", b"-"):
        return bool(_FTP_FINAL.search(data))
    return data.rstrip(b" ").endswith(_PROMPT_END)


async def read_banner(dialer: Dialer, port: int, wait: float) -> bytes:
    """What the service says unasked within ``wait`` seconds (b"" when silent)."""
    async with dialer.stream(port) as stream:
        if stream is None:
            return b""
        return await stream.read_until_quiet(
            BANNER_BYTES, first=wait, gap=QUIET_GAP, total=wait + dialer.read_timeout,
            done=banner_complete)


def strip_telnet(data: bytes) -> tuple[bytes, bytes]:
    """(text, negotiation): Telnet commands removed, doubled IAC kept as one 0xFF."""
    text, negotiation = bytearray(), bytearray()
    i, n = 0, len(data)
    while i < n:
        byte = data[i]
        if byte != IAC:
            text.append(byte)
            i += 1
            continue
        command = data[i + 1] if i + 1 < n else None
        if command == IAC:
            text.append(IAC)
            i += 2
        elif command in (WILL, WONT, DO, DONT):
            negotiation += data[i:i + 3]
            i += 3
        elif command == SB:
            end = data.find(bytes([IAC, SE]), i + 2)
            i = n if end < 0 else end + 2
        else:
            i += 2
    return bytes(text), bytes(negotiation)


def is_telnet(data: bytes) -> bool:
    return len(data) >= 3 and data[0] == IAC and data[1] in (WILL, WONT, DO, DONT, SB)


def interpret(data: bytes, draft: Draft) -> None:
    """Name the service from its banner and record the banner's fields."""
    port = nominal(draft.port)
    if data.startswith(b"SSH-"):
        line = data.split(b"\n", 1)[0].rstrip(b"\r")
        draft.service = "ssh"
        draft.set_banner(line)
        draft.put(Field.SSH_BANNER, line)
        draft.put(Field.BANNER, line)
        draft.set_product(*from_ssh_banner(draft.banner))
        return
    if is_telnet(data) or (port in TELNET_PORTS and data):
        text, negotiation = strip_telnet(data)
        draft.service = "telnet"
        draft.set_banner(text)
        draft.put(Field.TELNET_BANNER, text)
        draft.put(Field.BANNER, text)
        if negotiation.startswith(BUSYBOX_TELNETD):
            draft.set_product("BusyBox telnetd")
        return
    draft.set_banner(data)
    draft.put(Field.BANNER, data)
    if data.startswith((b"220 ", b"220-")):
        greeting = (draft.banner or "").lower()
        if "smtp" in greeting and "ftp" not in greeting:
            draft.service = "smtp"
            return
        draft.service = "ftp"
        draft.put(Field.FTP_BANNER, data)
        draft.set_product(*from_ftp_banner(draft.banner))
        return
    if port in DEBUG_PORTS or data.rstrip(b" \r\n").endswith(_PROMPT_END):
        draft.service = "debug"


async def ssh_host_key(dialer: Dialer, draft: Draft) -> None:
    """Fetch the SSH host key's fingerprint (key exchange only, no login)."""
    async def fetch() -> asyncssh.SSHKey | None:
        return await asyncssh.get_server_host_key(dialer.ip, draft.port, config=None)

    try:
        key = await dialer.exclusive(fetch, dialer.read_timeout * 2)
    except asyncssh.Error as exc:
        log.debug("%s:%s ssh host key: %s", dialer.ip, draft.port, exc)
        return
    if key is not None:
        draft.put(Field.SSH_HOST_KEY, key.get_fingerprint("sha256"))
