"""Puts lab devices in Linux network namespaces, each behind a veth with its real MAC.

The ``--netns`` mode (root only) lets ARP-level discovery see the lab: every device gets
a namespace ``fwlab-<tag>-<index>`` whose ``eth0`` carries the device's MAC and address,
and the other end of that veth (``v<index>``) sits on bridge ``br0`` in the hub namespace
``fwlab-<tag>-hub``. Clients run in the hub (``ip netns exec <hub> ...``, ``run_in_hub``,
``hub_socket``) and reach every device at layer 2. One process serves all devices: a
socket keeps the namespace it was created in, so ``socket`` creates it there and returns.

Nothing is ever created in the root namespace (the veth is made in the hub with its peer
placed straight into the device namespace), so deleting the namespaces removes every
veth and bridge; ``cleanup_stale`` does that for runs that died. The tag starts with the
owning process id (``process_tag``) so stale namespaces can be told from live ones.

Hub address rule: unless ``hub_address`` is given, the lab network is the smallest of
the /24 or /16 holding every device, and the hub takes its lowest host address that no
device uses (198.18.0.1/16 for devices spread over 198.18.0.0/16). ``hub_address`` may be
``a.b.c.d/p`` (fixing the network) or ``a.b.c.d`` (network by the rule above).

Must not: connect namespaces to the host network (no veth into the root namespace, no
default route, no forwarding), touch namespaces it did not create, or leave its
namespaces behind on exit. Sockets it made are closed on exit, since a socket keeps its
namespace alive.
"""

from __future__ import annotations

import ctypes
import ipaddress
import logging
import os
import re
import shutil
import socket as _socket
import subprocess
import threading
import weakref
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from types import TracebackType

from fleetwarden.domain.lab import LabDevice
from fleetwarden.errors import LabError

log = logging.getLogger("fleetwarden.lab")

PREFIX = "fwlab-"
NETNS_DIR = Path("/var/run/netns")
CLONE_NEWNET = 0x40000000
BRIDGE = "br0"
DEVICE_LINK = "eth0"
#: Interface names are at most 15 bytes (IFNAMSIZ - 1).
MAX_IFNAME = 15
#: A tag is the owner's pid, optionally followed by a suffix that starts with a non-digit.
_TAG = re.compile(r"^(\d+)(?:[A-Za-z_][A-Za-z0-9_]{0,23})?$")
_MAC = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")
_IP_TIMEOUT = 120.0
#: Parallel ``ip`` processes configuring device namespaces.
_WORKERS = 16


def process_tag(suffix: str = "") -> str:
    """A tag owned by this process: its pid, then ``suffix`` (which must not start with a digit)."""
    tag = f"{os.getpid()}{suffix}"
    _check_tag(tag)
    return tag


class LabNamespaces:
    """Creates (on enter) and deletes (on exit) one lab's hub and device namespaces."""

    def __init__(self, devices: Sequence[LabDevice], *, tag: str,
                 hub_address: str | None = None) -> None:
        _check_tag(tag)
        _check_devices(devices)
        self.tag = tag
        self.devices = tuple(devices)
        self.interface = _hub_interface(self.devices, hub_address)
        if _hub_mac(self.interface) in {d.mac.lower() for d in self.devices}:
            raise LabError(f"a device uses the hub's MAC {_hub_mac(self.interface)}")
        self._by_index = {d.index: d for d in self.devices}
        self._created: list[str] = []
        self._sockets: weakref.WeakSet[_socket.socket] = weakref.WeakSet()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ names
    @property
    def hub(self) -> str:
        """The hub namespace: clients run here to reach every device."""
        return f"{PREFIX}{self.tag}-hub"

    @property
    def hub_ip(self) -> str:
        return str(self.interface.ip)

    @property
    def prefix(self) -> int:
        return self.interface.network.prefixlen

    def namespace(self, device: LabDevice) -> str:
        """The namespace ``device`` lives in."""
        return f"{PREFIX}{self.tag}-{device.index}"

    def names(self) -> list[str]:
        """Every namespace of this lab, devices first and the hub last."""
        return [self.namespace(d) for d in self.devices] + [self.hub]

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LabNamespaces:
        ip = _require_ip()
        taken = sorted(set(self.names()) & _existing())
        if taken:
            raise LabError(f"namespace {taken[0]} already exists (left by another lab "
                           f"run with tag {self.tag}?)")
        try:
            self._create(ip)
        except BaseException:
            try:
                self._delete(ip)
            except LabError:
                log.warning("lab namespaces: undoing a failed start left some behind",
                            exc_info=True)
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the sockets made here and delete every namespace this lab created."""
        for sock in list(self._sockets):
            sock.close()
        self._sockets.clear()
        if self._created:
            self._delete(_require_ip())

    def _create(self, ip: str) -> None:
        before = _existing()
        try:
            _run_ip(ip, [], [f"netns add {name}" for name in [self.hub, *self.names()[:-1]]])
        finally:
            self._created = [n for n in self.names() if n in _existing() - before]
        _run_ip(ip, ["-n", self.hub], self._hub_script())
        self._configure_devices(ip)

    def _hub_script(self) -> list[str]:
        """Hub: lo and br0 up with the hub address; one veth per device, peer moved out."""
        quiet = _ipv6()
        lines = ["link set lo up",
                 f"link add {BRIDGE} address {_hub_mac(self.interface)} type bridge "
                 "forward_delay 0"]
        lines += [f"link set {BRIDGE} addrgenmode none"] if quiet else []
        lines += [f"link set {BRIDGE} up", f"addr add {self.interface} dev {BRIDGE}"]
        for device in self.devices:
            link = _hub_link(device)
            lines.append(f"link add {link} type veth peer name {DEVICE_LINK} "
                         f"address {device.mac.lower()} netns {self.namespace(device)}")
            lines += [f"link set {link} addrgenmode none"] if quiet else []
            lines.append(f"link set {link} master {BRIDGE} up")
        return lines

    def _configure_devices(self, ip: str) -> None:
        """Address and raise each device's eth0 (an ``ip -batch`` per namespace, in parallel)."""
        quiet = _ipv6()

        def configure(device: LabDevice) -> None:
            lines = ["link set lo up"]
            lines += [f"link set {DEVICE_LINK} addrgenmode none"] if quiet else []
            lines += [f"addr add {device.ip}/{self.prefix} dev {DEVICE_LINK}",
                      f"link set {DEVICE_LINK} up"]
            _run_ip(ip, ["-n", self.namespace(device)], lines)

        with ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="fwlab-netns") as pool:
            for future in [pool.submit(configure, d) for d in self.devices]:
                future.result()

    def _delete(self, ip: str) -> None:
        """Delete what this lab created (devices first, hub last) and check it is gone."""
        created = self._created
        order = [n for n in created if n != self.hub] + [n for n in created if n == self.hub]
        if not order:
            return
        try:
            _run_ip(ip, ["-force"], [f"netns del {name}" for name in order])
        except LabError:
            log.debug("some namespaces could not be deleted", exc_info=True)
        left = [n for n in order if n in _existing()]
        self._created = left
        if left:
            raise LabError(f"could not delete namespace {left[0]} ({len(left)} left); "
                           f"try `ip netns del {left[0]}`")

    # ------------------------------------------------------------------ sockets
    def socket(self, device: LabDevice, transport: str, port: int) -> _socket.socket:
        """A non-blocking socket bound to (device.ip, port) inside the device's namespace.

        TCP sockets are already listening (backlog 64). Bind errors raise ``OSError``
        with the kernel's errno, like ``asyncio.start_server`` would.
        """
        if self._by_index.get(device.index) != device or not self._created:
            raise LabError(f"device {device.index} ({device.ip}) is not in this lab's "
                           "namespaces (or they are not up)")
        sock = self._make(self.namespace(device), transport)
        try:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            sock.bind((device.ip, port))
            if transport == "tcp":
                sock.listen(64)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    def hub_socket(self, transport: str = "tcp") -> _socket.socket:
        """An unbound, blocking client socket in the hub, for tests and tools in-process."""
        if self.hub not in self._created:
            raise LabError("the lab's namespaces are not up")
        return self._make(self.hub, transport)

    def _make(self, namespace: str, transport: str) -> _socket.socket:
        kind = {"tcp": _socket.SOCK_STREAM, "udp": _socket.SOCK_DGRAM}.get(transport)
        if kind is None:
            raise LabError(f"transport {transport!r}: use tcp or udp")
        with entered(NETNS_DIR / namespace):
            sock = _socket.socket(_socket.AF_INET, kind)
        with self._lock:
            self._sockets.add(sock)
        return sock

    def run_in_hub(self, argv: Sequence[str], *, timeout: float = 30.0,
                   input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command inside the hub namespace (``ip netns exec``); output is captured."""
        return subprocess.run(  # noqa: S603 - iproute2 running the caller's own command
            [_require_ip(), "netns", "exec", self.hub, *argv], capture_output=True,
            text=True, timeout=timeout, input=input, check=False)

    # ------------------------------------------------------------------ crashes
    @staticmethod
    def cleanup_stale(tag_prefix: str = PREFIX) -> int:
        """Delete ``<tag_prefix><pid>...-*`` namespaces whose pid is dead; return how many.

        Assumes the owners ran in this pid namespace. Live (or unknowable) owners are
        left alone, and so is every name that does not follow the lab's pattern.
        """
        pattern = re.compile(
            rf"^{re.escape(tag_prefix)}(\d+)(?:[A-Za-z_][A-Za-z0-9_]*)?-[A-Za-z0-9_]+$")
        stale = [name for name in sorted(_existing())
                 if (m := pattern.match(name)) and not _alive(int(m.group(1)))]
        if not stale:
            return 0
        try:
            _run_ip(_require_ip(), ["-force"], [f"netns del {name}" for name in stale])
        except LabError:
            log.debug("some stale namespaces could not be deleted", exc_info=True)
        left = _existing()
        return sum(1 for name in stale if name not in left)


# ---------------------------------------------------------------------- namespaces
@contextmanager
def entered(path: Path) -> Iterator[None]:
    """Run the block in the network namespace at ``path``; the thread always returns home.

    ``setns`` is per thread, so other threads are unaffected while the block runs.
    """
    home = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net",
                   os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(home)


def _setns(fd: int) -> None:
    native = getattr(os, "setns", None)  # Python 3.12+
    if native is not None:
        native(fd, CLONE_NEWNET)
        return
    if _libc().setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _existing() -> set[str]:
    try:
        return set(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return set()


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OverflowError:
        return False
    except PermissionError:
        return True
    return True


@cache
def _ipv6() -> bool:
    """Whether the kernel has IPv6 (then links get no link-local address: quieter wire)."""
    return Path("/proc/sys/net/ipv6").is_dir()


# ---------------------------------------------------------------------- ip(8)
def _require_ip() -> str:
    if os.geteuid() != 0:
        raise LabError("--netns needs root")
    ip = shutil.which("ip") or shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin")
    if ip is None:
        raise LabError("ip (iproute2) is not installed")
    return ip


def _run_ip(ip: str, options: list[str], lines: list[str]) -> None:
    """Feed ``lines`` to one ``ip -batch -``; fail with ip's first complaint."""
    try:
        proc = subprocess.run(  # noqa: S603 - iproute2 with commands built here
            [ip, *options, "-batch", "-"], input="\n".join(lines) + "\n", text=True,
            capture_output=True, timeout=_IP_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise LabError(f"ip {' '.join(options)} -batch: no answer in {_IP_TIMEOUT:.0f}s") from None
    if proc.returncode != 0:
        complaint = next((line for line in proc.stderr.splitlines() if line.strip()), "failed")
        where = " ".join([*options, "-batch"])
        raise LabError(f"ip {where}: {complaint.strip()}")


# ---------------------------------------------------------------------- checks
def _check_tag(tag: str) -> None:
    if not _TAG.match(tag):
        raise LabError(f"namespace tag {tag!r}: use the owner's pid, optionally followed by "
                       "a suffix of letters, digits or _ that starts with a letter or _")


def _hub_link(device: LabDevice) -> str:
    return f"v{device.index}"


def _check_devices(devices: Sequence[LabDevice]) -> None:
    """Refuse what would fail halfway in ip, or confuse ARP: clashes and odd addresses."""
    if not devices:
        raise LabError("--netns: no devices")
    seen: dict[str, set[object]] = {"index": set(), "ip": set(), "mac": set()}
    for d in devices:
        if d.index < 0 or len(_hub_link(d)) > MAX_IFNAME:
            raise LabError(f"device index {d.index}: must be 0..{10 ** (MAX_IFNAME - 1) - 1}")
        mac = d.mac.lower()
        if not _MAC.match(mac) or int(mac[:2], 16) & 1 or mac == "00:00:00:00:00:00":
            raise LabError(f"device {d.index}: MAC {d.mac!r} is not a unicast Ethernet address")
        try:
            ipaddress.IPv4Address(d.ip)
        except ValueError:
            raise LabError(f"device {d.index}: {d.ip!r} is not an IPv4 address") from None
        for key, value in (("index", d.index), ("ip", d.ip), ("mac", mac)):
            if value in seen[key]:
                raise LabError(f"two devices share {key} {value}")
            seen[key].add(value)


def _hub_interface(devices: Sequence[LabDevice],
                   hub_address: str | None) -> ipaddress.IPv4Interface:
    """The hub's address and the lab network (see the module docstring for the rule)."""
    ips = {ipaddress.IPv4Address(d.ip) for d in devices}
    try:
        given = ipaddress.IPv4Interface(hub_address) if hub_address else None
    except ValueError:
        raise LabError(f"hub address {hub_address!r}: not an IPv4 address") from None
    if given is not None and hub_address and "/" in hub_address:
        network = given.network
    else:
        network = _smallest_network(ips)
    outside = sorted(ip for ip in ips if ip not in network or ip in
                     (network.network_address, network.broadcast_address))
    if outside:
        raise LabError(f"device {outside[0]} is not a host of the lab network {network}")
    if given is not None:
        if given.ip in ips or given.ip not in network:
            raise LabError(f"hub address {given.ip}: taken by a device or outside {network}")
        return ipaddress.IPv4Interface(f"{given.ip}/{network.prefixlen}")
    free = next((h for h in network.hosts() if h not in ips), None)
    if free is None:
        raise LabError(f"lab network {network} has no address left for the hub")
    return ipaddress.IPv4Interface(f"{free}/{network.prefixlen}")


def _smallest_network(ips: set[ipaddress.IPv4Address]) -> ipaddress.IPv4Network:
    for prefix in (24, 16):
        nets = {ipaddress.IPv4Network((int(ip), prefix), strict=False) for ip in ips}
        if len(nets) == 1:
            return nets.pop()
    raise LabError("devices span more than one /16; pass a hub address such as 10.0.0.1/8")


def _hub_mac(interface: ipaddress.IPv4Interface) -> str:
    """A fixed, locally administered MAC for br0 (else it follows its lowest port's)."""
    return "02:00:" + ":".join(f"{b:02x}" for b in interface.ip.packed)
