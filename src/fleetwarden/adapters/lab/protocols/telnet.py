"""A Telnet login console, as exposed by cameras, panels and gateways with Telnet left on.

The device negotiates like an embedded telnetd (WILL ECHO, WILL SUPPRESS-GO-AHEAD;
BusyBox firmware opens with BusyBox telnetd's exact sequence so scanners recognise it),
shows its persona banner and login prompt, checks the login against the device's
credentials (an empty user name just gets the prompt again, as BusyBox login does) and,
on success, offers a BusyBox-like shell that answers a handful of
harmless commands (``uname -a``, ``cat /proc/version``, ``busybox``) from the persona.
The shell answers are shared with the SSH personality.

Must not: execute, evaluate or store anything a client sends, or reveal anything beyond
the device's persona and components (never its secret).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from fleetwarden.adapters.lab.protocols.base import (
    IDLE_TIMEOUT,
    MAX_LINE,
    LabContext,
    component_version,
    wire,
)
from fleetwarden.domain.lab import LabDevice, LabService, Service

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
ECHO, SGA, NAWS = 1, 3, 31
#: What an embedded telnetd announces first: it echoes and suppresses go-ahead.
NEGOTIATION = bytes([IAC, WILL, ECHO, IAC, WILL, SGA])
#: BusyBox telnetd's exact opening (it also asks for the window size), which scanners
#: use to recognise it; sent by devices whose firmware has a busybox component.
BUSYBOX_NEGOTIATION = bytes([IAC, DO, ECHO, IAC, DO, NAWS]) + NEGOTIATION

_LOGIN_ATTEMPTS = 3
#: Empty user names (Enter at the prompt) before the device hangs up, as BusyBox login.
_EMPTY_NAMES = 10
_MAX_COMMANDS = 50
#: Raw bytes a session may send in all before the device hangs up.
_MAX_SESSION_BYTES = 64 * 1024
_MAX_SUBNEGOTIATION = 512
SHELL_PROMPT = "# "


# --------------------------------------------------------------------- negotiation
class TelnetParser:
    """Separates data from Telnet commands, across chunk boundaries; answers options once.

    Refusing every option except ECHO and SGA (which the device itself offered) keeps the
    negotiation short, and answering each request once means two stubborn peers cannot
    loop.
    """

    def __init__(self, requested: frozenset[int] = frozenset()) -> None:
        self._requested = requested
        """Options the device asked the client to enable (DO): a WILL just agrees."""
        self._state = "data"
        self._command = 0
        self._sub_len = 0
        self._answered: set[tuple[int, int]] = set()

    def feed(self, chunk: bytes) -> tuple[bytes, bytes]:
        """(data bytes, negotiation replies) for one chunk received from the client."""
        data, replies = bytearray(), bytearray()
        for byte in chunk:
            self._step(byte, data, replies)
        return bytes(data), bytes(replies)

    def _step(self, byte: int, data: bytearray, replies: bytearray) -> None:
        state = self._state
        if state == "data":
            if byte == IAC:
                self._state = "iac"
            else:
                data.append(byte)
        elif state == "iac":
            self._after_iac(byte, data)
        elif state == "option":
            replies += self._answer(self._command, byte)
            self._state = "data"
        elif state == "sub":
            self._sub_len += 1
            if byte == IAC:
                self._state = "sub_iac"
            elif self._sub_len > _MAX_SUBNEGOTIATION:
                self._state = "data"
        else:  # "sub_iac"
            self._state = "data" if byte == SE else "sub"

    def _after_iac(self, byte: int, data: bytearray) -> None:
        if byte == IAC:
            data.append(IAC)
            self._state = "data"
        elif byte in (WILL, WONT, DO, DONT):
            self._command, self._state = byte, "option"
        elif byte == SB:
            self._sub_len, self._state = 0, "sub"
        else:
            self._state = "data"

    def _answer(self, command: int, option: int) -> bytes:
        """The reply to one option request, or nothing when it needs none or had one."""
        if (command, option) in self._answered or command in (WONT, DONT):
            return b""
        self._answered.add((command, option))
        if command == DO:
            return b"" if option in (ECHO, SGA) else bytes([IAC, WONT, option])
        if option in self._requested:
            return b""
        return bytes([IAC, DO, option]) if option == SGA else bytes([IAC, DONT, option])


class TelnetLines:
    """Reads bounded lines of Telnet data (CR LF, CR NUL or bare LF end a line)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 requested: frozenset[int] = frozenset()) -> None:
        self.reader, self.writer = reader, writer
        self.parser = TelnetParser(requested)
        self._buffer = bytearray()
        self._after_cr = False
        self._received = 0

    async def line(self, *, echo: bool) -> bytes | None:
        """The next line without its ending; None at EOF, idle timeout or over-long input."""
        while True:
            line = self._take_line()
            if line is not None:
                if echo:
                    self.writer.write(_printable(line) + b"\r\n")
                return line
            if len(self._buffer) > MAX_LINE or not await self._fill():
                return None

    def _take_line(self) -> bytes | None:
        if self._after_cr and self._buffer:
            if self._buffer[0] in (0x0A, 0x00):
                del self._buffer[0]
            self._after_cr = False
        ends = [i for i in (self._buffer.find(b"\r"), self._buffer.find(b"\n")) if i >= 0]
        if not ends:
            return None
        end = min(ends)
        line = bytes(self._buffer[:end])
        self._after_cr = self._buffer[end] == 0x0D
        del self._buffer[:end + 1]
        return line

    async def _fill(self) -> bool:
        """Read one chunk, answer its negotiation, keep its data; False when done."""
        if self._received > _MAX_SESSION_BYTES:
            return False
        try:
            chunk = await asyncio.wait_for(self.reader.read(4096), IDLE_TIMEOUT)
        except (TimeoutError, ConnectionError):
            return False
        if not chunk:
            return False
        self._received += len(chunk)
        data, replies = self.parser.feed(chunk)
        if replies:
            self.writer.write(replies)
        self._buffer += data
        return True


def _printable(data: bytes) -> bytes:
    """Echoed input without control bytes: the device never replays escapes it was sent."""
    return bytes(b for b in data[:256] if 0x20 <= b < 0x7F)


# ------------------------------------------------------------------------ the shell
def _busybox(device: LabDevice) -> bool:
    return component_version(device, "busybox") is not None


def _kernel(device: LabDevice) -> str:
    return component_version(device, "linux") or "3.10.0"


@dataclass(frozen=True, slots=True)
class ShellReply:
    text: str
    """What the shell prints (CR LF line ends)."""
    done: bool = False
    """True when the line asked to leave the shell."""
    status: int = 0
    """Exit status of the last command, as BusyBox would report it."""


_BUILD_DATE = "Tue Mar 5 10:12:44 CST 2019"
_UNAME_FIELDS = {"s": "Linux", "n": "{host}", "r": "{kernel}", "v": f"#1 SMP PREEMPT {_BUILD_DATE}",
                 "m": "armv7l", "o": "GNU/Linux"}


def shell_answer(device: LabDevice, command_line: str) -> ShellReply:
    """What a BusyBox shell prints for one command line (``;``, ``&&``, ``||`` split it).

    Nothing is run: a few read-only commands get persona-derived text, everything else
    gets BusyBox's "not found".
    """
    text: list[str] = []
    status = 0
    for part in _SEPARATORS.split(command_line)[:_MAX_PARTS]:
        words = part.split("|", 1)[0].split()
        if not words:
            continue
        if words[0] in {"exit", "logout", "quit"}:
            return ShellReply("".join(text), True, status)
        answer, status = _command(device, words)
        text.append(answer)
    return ShellReply("".join(text), False, status)


_SEPARATORS = re.compile(r";|&&|\|\||\n")
_MAX_PARTS = 10


def _command(device: LabDevice, words: list[str]) -> tuple[str, int]:
    name, args = words[0], words[1:]
    if name == "uname":
        return _uname(device, args)
    if name == "cat":
        return _cat(device, args)
    busybox = component_version(device, "busybox")
    if name == "busybox" and busybox:
        return (f"BusyBox v{busybox} (2019-03-05 10:12:44 CST) multi-call binary.\r\n"
                "BusyBox is copyrighted by many authors between 1998-2015.\r\n"
                "Licensed under GPLv2. See source distribution for detailed\r\n"
                "copyright notices.\r\n\r\n"
                "Usage: busybox [function [arguments]...]\r\n"), 0
    return f"sh: {_safe(name)[:64]}: not found\r\n", 127


def _uname(device: LabDevice, args: list[str]) -> tuple[str, int]:
    letters = "".join(a.lstrip("-") for a in args) or "s"
    if "a" in letters:
        letters = "snrvmo"
    if any(ch not in _UNAME_FIELDS for ch in letters) or not all(a.startswith("-") for a in args):
        return "uname: invalid option\r\n", 1
    values = {"host": _safe(device.hostname), "kernel": _kernel(device)}
    fields = [_UNAME_FIELDS[ch].format_map(values) for ch in "snrvmo" if ch in letters]
    return " ".join(fields) + "\r\n", 0


def _cat(device: LabDevice, args: list[str]) -> tuple[str, int]:
    if args == ["/proc/version"]:
        return (f"Linux version {_kernel(device)} (builder@buildhost) (gcc version 4.9.4 "
                f"(crosstool-NG 1.22.0)) #1 SMP PREEMPT {_BUILD_DATE}\r\n"), 0
    name = _safe(args[0])[:64] if args else "-"
    return f"cat: can't open '{name}': No such file or directory\r\n", 1


def shell_intro(device: LabDevice) -> str:
    """What a fresh login shell prints before its first prompt."""
    if not _busybox(device):
        return "\r\n" + SHELL_PROMPT
    return ("\r\n\r\nBusyBox built-in shell (ash)\r\n"
            "Enter 'help' for a list of built-in commands.\r\n\r\n" + SHELL_PROMPT)


def _safe(text: str) -> str:
    """Printable ASCII only, so answers never carry a client's or persona's escapes."""
    return "".join(ch for ch in text if " " < ch < "\x7f") or "?"


# ------------------------------------------------------------------------ the session
def _prompts(device: LabDevice) -> tuple[bytes, bytes]:
    """(greeting, login prompt): the prompt alone is what a failed login shows again.

    A family may use its banner as the prompt (APC's ``User Name : `` with no prompt);
    an empty banner and prompt fall back to ``login: ``.
    """
    banner = device.persona.get("telnet_banner", "")
    prompt = device.persona.get("telnet_prompt", "")
    if not prompt and banner.rstrip().endswith((":", ">")):
        return wire(banner), wire(banner)
    prompt_bytes = wire(prompt or "login: ")
    greeting = wire(banner) + b"\r\n" + prompt_bytes if banner else prompt_bytes
    return greeting, prompt_bytes


async def _login(device: LabDevice, lines: TelnetLines, writer: asyncio.StreamWriter) -> bool:
    """Up to three attempts; True when one matches the device's credentials."""
    greeting, prompt = _prompts(device)
    writer.write((BUSYBOX_NEGOTIATION if _busybox(device) else NEGOTIATION) + greeting)
    empty = 0
    for attempt in range(_LOGIN_ATTEMPTS):
        if attempt:
            writer.write(b"\r\nLogin incorrect\r\n" + prompt)
        await writer.drain()
        user = await lines.line(echo=True)
        while user is not None and not user.strip():
            empty += 1
            if empty >= _EMPTY_NAMES:
                return False
            writer.write(prompt)
            await writer.drain()
            user = await lines.line(echo=True)
        if user is None:
            return False
        writer.write(b"Password: ")
        await writer.drain()
        password = await lines.line(echo=False)
        if password is None:
            return False
        writer.write(b"\r\n")
        if device.accepts(Service.TELNET, _text(user), _text(password)):
            return True
    writer.write(b"\r\nLogin incorrect\r\n")
    return False


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


async def _shell(device: LabDevice, lines: TelnetLines, writer: asyncio.StreamWriter) -> None:
    writer.write(wire(shell_intro(device)))
    for _ in range(_MAX_COMMANDS):
        await writer.drain()
        line = await lines.line(echo=True)
        if line is None:
            return
        reply = shell_answer(device, line.decode("ascii", "replace"))
        writer.write(wire(reply.text))
        if reply.done:
            return
        writer.write(wire(SHELL_PROMPT))


async def serve_telnet(device: LabDevice, service: LabService, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter, lab: LabContext) -> None:
    """One Telnet session: negotiation, banner, login, then the pretend shell."""
    lines = TelnetLines(reader, writer, frozenset({ECHO, NAWS}) if _busybox(device)
                        else frozenset())
    if await _login(device, lines, writer):
        await _shell(device, lines, writer)
    await writer.drain()
