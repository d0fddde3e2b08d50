"""An SSH server (asyncssh) that looks like the device's dropbear or OpenSSH.

Each device listens with its persona's version string and an Ed25519 host key derived
from its serial and secret, so the key is the same every time the same lab is started
and discovery can use it as an identifier. Password (and keyboard-interactive, which
asyncssh maps onto it) logins are checked against the device's credentials; public-key
logins are refused. A logged-in session gets the same pretend BusyBox shell as Telnet.

asyncssh's acceptor stops accepting when closed but leaves established connections
open, so each device's listener keeps its live connections and closes them too: a
stopped lab leaves no SSH session behind.

Must not: execute anything a client sends, forward ports, agents or X11, offer SFTP/SCP,
write host keys to disk, or reveal anything beyond the device's persona.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncssh
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from fleetwarden.adapters.lab.protocols.base import IDLE_TIMEOUT, LabContext
from fleetwarden.adapters.lab.protocols.telnet import SHELL_PROMPT, shell_answer, shell_intro
from fleetwarden.domain.lab import LabDevice, LabService, Service

# asyncssh logs every connection at INFO; a scanned lab would drown its own log.
logging.getLogger("asyncssh").setLevel(logging.WARNING)

_PREFIX = "SSH-2.0-"
#: asyncssh's limit for the part after ``SSH-2.0-`` (the whole line must fit 255 bytes).
_MAX_VERSION = 245
_FALLBACK_VERSION = "dropbear_2019.78"
_LOGIN_FAILURES = 6
_MAX_COMMANDS = 50
#: However busy, a connection is closed after this many seconds (a lab, not a jump host).
_MAX_CONNECTION_SECONDS = 300.0
#: Flow-control window per channel: bounds what a client can make the lab buffer.
_WINDOW = 64 * 1024


def host_key(device: LabDevice) -> asyncssh.SSHKey:
    """The device's Ed25519 host key: a pure function of its serial and secret."""
    seed = hashlib.sha256(f"fleetwarden-lab-ssh:{device.serial}:{device.secret}".encode())
    private = Ed25519PrivateKey.from_private_bytes(seed.digest())
    der = private.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    return asyncssh.import_private_key(der)


def server_version(device: LabDevice) -> str:
    """The persona's version without ``SSH-2.0-``, cut to what SSH allows on the wire.

    asyncssh accepts only printable ASCII of at most 245 characters; anything else in a
    persona is replaced rather than failing the whole lab.
    """
    version = device.persona.get("ssh_version", "").removeprefix(_PREFIX)
    version = "".join(ch if " " <= ch <= "~" else "?" for ch in version)[:_MAX_VERSION]
    return version or _FALLBACK_VERSION


class _DeviceServer(asyncssh.SSHServer):
    """Authentication policy of one device: its passwords only, a few tries."""

    def __init__(self, device: LabDevice, live: set[asyncssh.SSHServerConnection]) -> None:
        self.device = device
        self.live = live
        """The listener's open connections, closed with it (see ``SshListener``)."""
        self.failures = 0
        self.conn: asyncssh.SSHServerConnection | None = None
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        self.live.add(conn)
        self.deadline = asyncio.get_running_loop().call_later(_MAX_CONNECTION_SECONDS,
                                                              conn.close)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is not None:
            self.live.discard(self.conn)
        if self.deadline is not None:
            self.deadline.cancel()

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return False

    def host_based_auth_supported(self) -> bool:
        return False

    def validate_password(self, username: str, password: str) -> bool:
        if self.device.accepts(Service.SSH, username, password):
            return True
        self.failures += 1
        if self.failures >= _LOGIN_FAILURES and self.conn is not None:
            self.conn.disconnect(asyncssh.DISC_NO_MORE_AUTH_METHODS_AVAILABLE,
                                 "Too many authentication failures")
        return False


_Process = asyncssh.SSHServerProcess[str]


def _session(device: LabDevice) -> Callable[[_Process], Awaitable[None]]:
    """The process factory of one device (asyncssh calls it per shell or exec request)."""

    async def run(process: _Process) -> None:
        try:
            if process.command is not None:
                _exec(device, process)
            else:
                await _shell(device, process)
                process.exit(0)
        except (asyncssh.Error, ConnectionError, asyncssh.BreakReceived,
                asyncssh.SignalReceived):
            process.close()

    return run


def _lf(text: str) -> str:
    """Plain newlines: asyncssh's line editor adds the CR itself when there is a pty."""
    return text.replace("\r\n", "\n")


def _exec(device: LabDevice, process: _Process) -> None:
    """``ssh host cmd``: one answer from the persona, BusyBox's exit status, nothing run."""
    reply = shell_answer(device, (process.command or "")[:1024])
    process.stdout.write(_lf(reply.text))
    process.exit(reply.status)


async def _shell(device: LabDevice, process: _Process) -> None:
    process.stdout.write(_lf(shell_intro(device)))
    for _ in range(_MAX_COMMANDS):
        try:
            line = await asyncio.wait_for(process.stdin.readline(), IDLE_TIMEOUT)
        except asyncssh.TerminalSizeChanged:
            continue
        except TimeoutError:
            return
        if not line:
            return
        reply = shell_answer(device, line)
        process.stdout.write(_lf(reply.text))
        if reply.done:
            return
        process.stdout.write(SHELL_PROMPT)


class SshListener:
    """One device's SSH listener as the runtime stops it: ``close`` ends the acceptor and
    every live connection, ``wait_closed`` waits for both."""

    def __init__(self, acceptor: asyncssh.SSHAcceptor,
                 live: set[asyncssh.SSHServerConnection]) -> None:
        self.acceptor, self.live = acceptor, live
        self._closing: list[asyncssh.SSHServerConnection] = []

    def close(self) -> None:
        self.acceptor.close()
        self._closing = list(self.live)
        for conn in self._closing:
            conn.close()

    async def wait_closed(self) -> None:
        await self.acceptor.wait_closed()
        await asyncio.gather(*(conn.wait_closed() for conn in self._closing),
                             return_exceptions=True)


async def start_ssh(device: LabDevice, service: LabService, lab: LabContext) -> SshListener:
    """Listen on the device's address; the listener closes its connections with it."""
    sock = lab.bound_socket(device, service)  # --netns: made inside the device's namespace
    where: dict[str, Any] = ({"sock": sock} if sock else
                             {"host": device.ip, "port": service.port,
                              "reuse_address": True, "backlog": 64})
    live: set[asyncssh.SSHServerConnection] = set()
    acceptor = await asyncssh.listen(
        **where,
        server_factory=lambda: _DeviceServer(device, live),
        server_version=server_version(device),
        server_host_keys=[host_key(device)],
        process_factory=_session(device),
        encoding="utf-8", errors="replace",
        login_timeout=IDLE_TIMEOUT, window=_WINDOW,
        gss_host=None, gss_kex=False, gss_auth=False,
        agent_forwarding=False, x11_forwarding=False, allow_scp=False,
    )
    return SshListener(acceptor, live)
