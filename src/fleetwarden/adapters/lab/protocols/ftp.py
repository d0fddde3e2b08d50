"""An FTP server (RFC 959 control channel, passive data) as found on cameras and UPS cards.

It greets with the persona's banner, checks USER/PASS against the device's credentials
(anonymous only when that is one of them) and then serves a tiny read-only root: a
configuration backup that can be fetched and a firmware image that can only be listed.
Data connections are passive only (PASV/EPSV), one per command, on the device's own
address: under ``--netns`` the listener is made in the device's namespace through
``lab.sockets``, like the runtime's own; when it cannot be opened the client gets 425.

Must not: write, delete or read real files, connect out (PORT/EPRT are refused), or
reveal anything beyond the device's persona (never its secret).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from fleetwarden.adapters.lab.protocols.base import LabContext, read_line, wire
from fleetwarden.domain.lab import LabDevice, LabService, Service

_MAX_COMMANDS = 100
_LOGIN_ATTEMPTS = 3
#: Seconds a client gets to open the passive data connection it asked for.
_DATA_TIMEOUT = 10.0
_FIRMWARE_SIZE = 16_777_216
_NEEDS_NO_LOGIN = frozenset({"USER", "PASS", "QUIT", "NOOP", "FEAT", "OPTS", "HELP"})
_WRITES = frozenset({"STOR", "STOU", "APPE", "DELE", "MKD", "XMKD", "RMD", "XRMD",
                     "RNFR", "RNTO", "SITE"})
_FEATURES = "211-Features:\r\n EPSV\r\n PASV\r\n SIZE\r\n UTF8\r\n211 End\r\n"


@dataclass
class _Session:
    """One control connection's state; handlers reply through it."""

    device: LabDevice
    writer: asyncio.StreamWriter
    peer_ip: str
    lab: LabContext
    user: str | None = None
    logged_in: bool = False
    failures: int = 0
    binary: bool = False
    passive: _Passive | None = None
    done: bool = False
    files: dict[str, bytes] = field(default_factory=dict)

    def reply(self, text: str) -> None:
        self.writer.write(wire(text if text.endswith("\r\n") else text + "\r\n"))


class _Passive:
    """A one-shot passive data listener on the device's address, closed after one use.

    Only a connection from the control connection's own address is taken, so the data
    channel cannot be hijacked by a third party (FTP bounce / PASV theft).
    """

    def __init__(self, peer_ip: str) -> None:
        self.peer_ip = peer_ip
        self.server: asyncio.Server | None = None
        self.accepted: asyncio.Future[asyncio.StreamWriter] = (
            asyncio.get_running_loop().create_future())

    async def open(self, device: LabDevice, lab: LabContext) -> int:
        """Listen on a free port of the device's address; raises OSError when it cannot."""
        if lab.sockets is None:
            self.server = await asyncio.start_server(self._accept, host=device.ip, port=0,
                                                     backlog=1)
            return int(self.server.sockets[0].getsockname()[1])
        sock: socket.socket = lab.sockets(device, "tcp", 0)  # in the device's namespace
        try:
            self.server = await asyncio.start_server(self._accept, sock=sock, backlog=1)
        except BaseException:
            sock.close()
            raise
        return int(sock.getsockname()[1])

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if self.accepted.done() or not peer or peer[0] != self.peer_ip:
            writer.close()
            return
        self.accepted.set_result(writer)
        self._stop_listening()

    async def connection(self) -> asyncio.StreamWriter | None:
        try:
            return await asyncio.wait_for(asyncio.shield(self.accepted), _DATA_TIMEOUT)
        except TimeoutError:
            return None

    def _stop_listening(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    def close(self) -> None:
        self._stop_listening()
        if self.accepted.done():
            self.accepted.result().close()
        else:
            self.accepted.cancel()


# --------------------------------------------------------------------- content
def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "device"


def _files(device: LabDevice) -> dict[str, bytes]:
    """The fake root: a fetchable text backup (persona facts only) and a firmware name."""
    backup = (f"# {device.vendor} {device.model} configuration backup\n"
              f"hostname={device.hostname}\nserial={device.serial}\n"
              f"model={device.model}\nfirmware={device.firmware_version}\n")
    return {"config_backup.cfg": wire(backup),
            f"{_slug(device.model)}_{_slug(device.firmware_version)}.bin": b""}


def _size(name: str, content: bytes) -> int:
    return len(content) if content or not name.endswith(".bin") else _FIRMWARE_SIZE


def _listing(files: dict[str, bytes], names_only: bool) -> bytes:
    if names_only:
        return "".join(f"{name}\r\n" for name in files).encode()
    return "".join(f"-rw-r--r--    1 0        0        {_size(n, c):>10} Jan 01  2023 {n}\r\n"
                   for n, c in files.items()).encode()


def _greeting(device: LabDevice) -> str:
    banner = device.persona.get("ftp_banner", "")
    for prefix in ("220 ", "220-"):
        banner = banner.removeprefix(prefix)
    return "220 " + (banner or "FTP server ready.")


# --------------------------------------------------------------------- commands
def _user(s: _Session, arg: str) -> None:
    s.user, s.logged_in = arg, False
    s.reply("331 Please specify the password.")


def _pass(s: _Session, arg: str) -> None:
    if s.user is None:
        s.reply("503 Login with USER first.")
    elif s.device.accepts(Service.FTP, s.user, arg):
        s.logged_in = True
        s.reply("230 Login successful.")
    else:
        s.user, s.failures = None, s.failures + 1
        s.reply("530 Login incorrect.")
        s.done = s.failures >= _LOGIN_ATTEMPTS


def _type(s: _Session, arg: str) -> None:
    mode = arg.upper()[:1]
    if mode not in {"A", "I"}:
        s.reply("504 Command not implemented for that parameter.")
        return
    s.binary = mode == "I"
    s.reply("200 Switching to Binary mode." if s.binary else "200 Switching to ASCII mode.")


def _cwd(s: _Session, arg: str) -> None:
    if arg.strip() in {"", "/", ".", "..", "/."}:
        s.reply("250 Directory successfully changed.")
    else:
        s.reply("550 Failed to change directory.")


def _size_of(s: _Session, arg: str) -> None:
    name = arg.lstrip("/")
    if name in s.files:
        s.reply(f"213 {_size(name, s.files[name])}")
    else:
        s.reply("550 Could not get file size.")


def _simple(text: str) -> Callable[[_Session, str], None]:
    """A command that always gets the same reply."""
    return lambda s, arg: s.reply(text)


def _quit(s: _Session, arg: str) -> None:
    s.reply("221 Goodbye.")
    s.done = True


_HANDLERS = {
    "SYST": _simple("215 UNIX Type: L8"),
    "FEAT": _simple(_FEATURES),
    "PWD": _simple('257 "/" is the current directory'),
    "XPWD": _simple('257 "/" is the current directory'),
    "NOOP": _simple("200 NOOP ok."),
    "OPTS": _simple("200 Always in UTF8 mode."),
    "HELP": _simple("214-The following commands are recognized.\r\n USER PASS QUIT SYST "
                    "FEAT PWD CWD CDUP TYPE NOOP PASV EPSV LIST NLST RETR SIZE\r\n"
                    "214 Help OK."),
    "MODE": _simple("200 Mode set to S."),
    "STRU": _simple("200 Structure set to F."),
    "USER": _user,
    "PASS": _pass,
    "TYPE": _type,
    "CWD": _cwd,
    "CDUP": _simple("250 Directory successfully changed."),
    "SIZE": _size_of,
    "QUIT": _quit,
}


async def _open_passive(s: _Session, extended: bool) -> None:
    if s.passive is not None:
        s.passive.close()
    s.passive = _Passive(s.peer_ip)
    try:
        port = await s.passive.open(s.device, s.lab)
    except OSError:
        s.passive.close()
        s.passive = None
        s.reply("425 Can't open data connection.")
        return
    if extended:
        s.reply(f"229 Entering Extended Passive Mode (|||{port}|)")
    else:
        h = s.device.ip.replace(".", ",")
        s.reply(f"227 Entering Passive Mode ({h},{port >> 8},{port & 0xFF}).")


async def _transfer(s: _Session, data: bytes, opening: str) -> None:
    """Send ``data`` over the passive connection the client opened, then close it.

    Like vsftpd, the 150 reply waits until the client has connected.
    """
    passive, s.passive = s.passive, None
    if passive is None:
        s.reply("425 Use PORT or PASV first.")
        return
    try:
        conn = await passive.connection()
        if conn is None:
            s.reply("425 Failed to establish connection.")
            return
        s.reply(opening)
        conn.write(data)
        await asyncio.wait_for(conn.drain(), _DATA_TIMEOUT)
        s.reply("226 Transfer complete.")
    except (TimeoutError, ConnectionError):
        s.reply("426 Connection closed; transfer aborted.")
    finally:
        passive.close()


async def _retr(s: _Session, arg: str) -> None:
    name = arg.lstrip("/")
    content = s.files.get(name)
    if not content:
        if s.passive is not None:
            s.passive.close()
            s.passive = None
        s.reply("550 Failed to open file.")
        return
    mode = "BINARY" if s.binary else "ASCII"
    await _transfer(s, content, f"150 Opening {mode} mode data connection for {name} "
                                f"({len(content)} bytes).")


async def _dispatch(s: _Session, verb: str, arg: str) -> None:
    if not s.logged_in and verb not in _NEEDS_NO_LOGIN and verb in _KNOWN:
        s.reply("530 Please login with USER and PASS.")
    elif verb in _HANDLERS:
        _HANDLERS[verb](s, arg)
    elif verb == "EPSV" and arg.upper() == "ALL":
        s.reply("200 EPSV ALL ok.")
    elif verb in {"PASV", "EPSV"}:
        await _open_passive(s, extended=verb == "EPSV")
    elif verb in {"LIST", "NLST"}:
        listing = _listing(s.files, names_only=verb == "NLST")
        await _transfer(s, listing, "150 Here comes the directory listing.")
    elif verb == "RETR":
        await _retr(s, arg)
    elif verb in _WRITES:
        s.reply("550 Permission denied.")
    elif not verb:
        s.reply("500 Syntax error, command unrecognized.")  # a blank line
    else:
        s.reply("502 Command not implemented.")


_KNOWN = frozenset(_HANDLERS) | _WRITES | {"PASV", "EPSV", "LIST", "NLST", "RETR"}


async def _command(reader: asyncio.StreamReader) -> tuple[str, str] | None:
    """The next (VERB, argument), ("", "") for a blank line; None at EOF, idle timeout or
    an over-long line."""
    line = await read_line(reader)
    if line is None:
        return None
    text = line.decode("utf-8", "replace")
    verb, _, arg = text.partition(" ")
    return verb.strip().upper()[:16], arg.strip()


async def serve_ftp(device: LabDevice, service: LabService, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter, lab: LabContext) -> None:
    """One control connection: greeting, then at most ``_MAX_COMMANDS`` commands."""
    peer = writer.get_extra_info("peername")
    s = _Session(device, writer, peer[0] if peer else "", lab, files=_files(device))
    s.writer.write(wire(_greeting(device)) + b"\r\n")
    try:
        for _ in range(_MAX_COMMANDS):
            await writer.drain()
            command = await _command(reader)
            if command is None:
                return
            await _dispatch(s, *command)
            if s.done:
                return
        s.reply("421 Too many commands, closing control connection.")
    finally:
        if s.passive is not None:
            with contextlib.suppress(Exception):
                s.passive.close()
