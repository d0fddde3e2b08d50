"""The lab's namespace mode: devices behind veths with their real MACs, and no leftovers.

Tests that create namespaces need root and iproute2 (CI has both) and are skipped
otherwise; they touch only namespaces they create, whose names carry this process's pid,
and send traffic only inside them. The checks of validation and messages run anywhere.
"""

from __future__ import annotations

import errno
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from fleetwarden.adapters.lab import netns
from fleetwarden.adapters.lab.netns import LabNamespaces, process_tag
from fleetwarden.domain.lab import LabDevice
from fleetwarden.errors import LabError
from tests.integration.lab.harness import make_device

_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").lstrip("gw") or 0)
#: A /24 of 198.18.0.0/15 (benchmarking addresses) that no other xdist worker uses.
_SUBNET = f"198.18.{100 + _WORKER % 150}"
_REPO = Path(__file__).resolve().parents[3]
_IP = shutil.which("ip") or shutil.which("ip", path="/usr/sbin:/sbin")


@pytest.fixture
def netns_ready() -> None:
    if os.geteuid() != 0:
        pytest.skip("--netns needs root")
    if _IP is None:
        pytest.skip("ip (iproute2) is not installed")


def _devices(count: int = 3, *, first: int = 11) -> list[LabDevice]:
    return [make_device(ip=f"{_SUBNET}.{first + i}", index=i + 1,
                        mac=f"24:48:45:{_WORKER % 256:02x}:00:{i + 1:02x}")
            for i in range(count)]


def _ip(*args: str) -> str:
    assert _IP is not None
    return subprocess.run([_IP, *args], capture_output=True, text=True, check=True,
                          timeout=30).stdout


def _namespaces() -> set[str]:
    return {line.split()[0] for line in _ip("netns", "list").splitlines() if line.strip()}


def _root_links(kind: str) -> set[str]:
    """Names of the root namespace's links of one kind (veth, bridge)."""
    listing = _ip("-o", "link", "show", "type", kind)
    return {m.group(1) for m in re.finditer(r"^\d+: ([^:@]+)", listing, re.MULTILINE)}


def _neighbours(namespace: str) -> dict[str, str]:
    """IP -> MAC of the namespace's ARP table."""
    found = {}
    for line in _ip("-n", namespace, "neigh", "show").splitlines():
        parts = line.split()
        if "lladdr" in parts:
            found[parts[0]] = parts[parts.index("lladdr") + 1]
    return found


def _home() -> str:
    return os.readlink(f"/proc/self/task/{threading.get_native_id()}/ns/net")


@contextmanager
def _greeters(listeners: Sequence[socket.socket],
              devices: Sequence[LabDevice]) -> Iterator[list[str]]:
    """Each listener accepts one connection and says hello <index>; errors are collected."""
    errors: list[str] = []

    def greet(listener: socket.socket, device: LabDevice) -> None:
        try:
            listener.settimeout(10)
            conn, _ = listener.accept()
            with conn:
                conn.sendall(f"hello {device.index}".encode())
        except Exception as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(f"{device.ip}: {exc!r}")

    threads = [threading.Thread(target=greet, args=pair, daemon=True)
               for pair in zip(listeners, devices, strict=True)]
    for thread in threads:
        thread.start()
    try:
        yield errors
    finally:
        for thread in threads:
            thread.join(15)


_CLIENT = """
import socket, sys
for ip in sys.argv[1:]:
    with socket.create_connection((ip, 8080), timeout=5) as s:
        data = b""
        while chunk := s.recv(64):
            data += chunk
    print(ip, data.decode())
"""


# ---------------------------------------------------------------------- with namespaces
def test_devices_answer_from_the_hub_with_their_own_macs(netns_ready: None) -> None:
    devices = _devices()
    veths, bridges = _root_links("veth"), _root_links("bridge")
    home = _home()
    with LabNamespaces(devices, tag=process_tag("a")) as lab:
        assert set(lab.names()) <= _namespaces()
        assert lab.hub_ip == f"{_SUBNET}.1" and lab.prefix == 24
        assert _root_links("veth") <= veths and _root_links("bridge") <= bridges
        listeners = [lab.socket(d, "tcp", 8080) for d in devices]
        assert _home() == home
        with _greeters(listeners, devices) as errors:
            result = lab.run_in_hub([sys.executable, "-c", _CLIENT, *(d.ip for d in devices)])
        assert not errors
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [f"{d.ip} hello {d.index}" for d in devices]

        arp = _neighbours(lab.hub)
        assert {d.ip: arp.get(d.ip) for d in devices} == {d.ip: d.mac for d in devices}

        server = lab.socket(devices[1], "udp", 5353)
        client = lab.hub_socket("udp")
        with client:
            client.settimeout(5)
            client.sendto(b"ping", (devices[1].ip, 5353))
            assert select.select([server], [], [], 5)[0]
            data, peer = server.recvfrom(64)
            server.sendto(b"pong " + data, peer)
            assert client.recvfrom(64) == (b"pong ping", (devices[1].ip, 5353))
        assert peer[0] == lab.hub_ip

        with pytest.raises(OSError) as taken:
            lab.socket(devices[0], "tcp", 8080)
        assert taken.value.errno == errno.EADDRINUSE
        assert _home() == home
        for sock in [*listeners, server]:
            sock.close()
    assert not set(lab.names()) & _namespaces()
    assert _root_links("veth") <= veths and _root_links("bridge") <= bridges


def test_a_failure_in_the_block_still_removes_everything(netns_ready: None) -> None:
    lab = LabNamespaces(_devices(2), tag=process_tag("b"))
    with pytest.raises(RuntimeError, match="boom"), lab:
        sock = lab.socket(lab.devices[0], "tcp", 8080)
        raise RuntimeError("boom")
    assert sock.fileno() == -1, "sockets pin their namespace, so exit closes them"
    assert not set(lab.names()) & _namespaces()


def test_a_failed_start_undoes_what_it_made(netns_ready: None,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    lab = LabNamespaces(_devices(2), tag=process_tag("c"))
    real_script = LabNamespaces._hub_script
    monkeypatch.setattr(LabNamespaces, "_hub_script",
                        lambda self: [*real_script(self), "link set fwnosuchlink up"])
    with pytest.raises(LabError) as failed:
        lab.__enter__()
    assert "Cannot find device" in str(failed.value) and "\n" not in str(failed.value)
    assert not set(lab.names()) & _namespaces()

    seen: list[set[str]] = []

    def broken(self: LabNamespaces, ip: str) -> None:
        seen.append(_namespaces())
        raise LabError("injected")

    monkeypatch.setattr(LabNamespaces, "_hub_script", real_script)
    monkeypatch.setattr(LabNamespaces, "_configure_devices", broken)
    with pytest.raises(LabError, match="injected"):
        lab.__enter__()
    assert set(lab.names()) <= seen[0]
    assert not set(lab.names()) & _namespaces()


def test_a_namespace_it_did_not_create_is_left_alone(netns_ready: None) -> None:
    lab = LabNamespaces(_devices(1), tag=process_tag("d"))
    _ip("netns", "add", lab.hub)
    try:
        with pytest.raises(LabError, match="already exists"):
            lab.__enter__()
        assert lab.hub in _namespaces()
    finally:
        _ip("netns", "del", lab.hub)


def test_cleanup_stale_removes_only_dead_owners(netns_ready: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    dead, live = "fwlab-999999999-x", f"fwlab-{process_tag('e')}-x"
    if dead not in _namespaces():
        _ip("netns", "add", dead)
    _ip("netns", "add", live)
    real = netns._existing
    # Only this test's namespaces are visible, so the call cannot touch anyone else's.
    monkeypatch.setattr(netns, "_existing", lambda: real() & {dead, live})
    try:
        assert LabNamespaces.cleanup_stale() == 1
        assert dead not in _namespaces() and live in _namespaces()
        assert LabNamespaces.cleanup_stale() == 0
    finally:
        for name in {dead, live} & _namespaces():
            _ip("netns", "del", name)


_CRASHER = """
import sys, time
from fleetwarden.adapters.lab.netns import LabNamespaces, process_tag
from tests.integration.lab.harness import make_device
devices = [make_device(ip=f"{sys.argv[1]}.{10 + i}", mac=f"02:00:00:00:01:{i:02x}", index=i)
           for i in range(1, 3)]
lab = LabNamespaces(devices, tag=process_tag("k")).__enter__()
print(" ".join(lab.names()), flush=True)
time.sleep(60)
"""


def test_a_killed_run_is_cleaned_up_by_the_next(netns_ready: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    veths = _root_links("veth")
    crasher = subprocess.Popen([sys.executable, "-c", _CRASHER, _SUBNET], stdout=subprocess.PIPE,
                               text=True, cwd=_REPO)
    try:
        assert crasher.stdout is not None
        names = set(crasher.stdout.readline().split())
    finally:
        crasher.kill()
        crasher.wait(10)
        if crasher.stdout is not None:
            crasher.stdout.close()
    assert len(names) == 3 and names <= _namespaces()
    real = netns._existing
    monkeypatch.setattr(netns, "_existing", lambda: real() & names)
    assert LabNamespaces.cleanup_stale() == 3
    assert not names & _namespaces()
    assert _root_links("veth") <= veths


# ---------------------------------------------------------------------- anywhere
def test_it_needs_root_and_iproute2(monkeypatch: pytest.MonkeyPatch) -> None:
    lab = LabNamespaces(_devices(1), tag=process_tag("f"))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match="^--netns needs root$"):
        lab.__enter__()
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    with pytest.raises(LabError, match=r"^ip \(iproute2\) is not installed$"):
        lab.__enter__()
    with pytest.raises(LabError, match="not in this lab's namespaces"):
        lab.socket(lab.devices[0], "tcp", 8080)


def test_the_hub_takes_the_first_free_host_of_the_smallest_network() -> None:
    tag = process_tag("g")
    assert LabNamespaces(_devices(2), tag=tag).interface.with_prefixlen == f"{_SUBNET}.1/24"
    assert LabNamespaces(_devices(2, first=1), tag=tag).hub_ip == f"{_SUBNET}.3"
    spread = [make_device(ip="198.18.5.9", mac="02:00:00:00:00:09", index=1),
              make_device(ip="198.18.6.9", mac="02:00:00:00:00:0a", index=2)]
    assert LabNamespaces(spread, tag=tag).interface.with_prefixlen == "198.18.0.1/16"
    given = LabNamespaces(spread, tag=tag, hub_address="198.18.200.200")
    assert given.interface.with_prefixlen == "198.18.200.200/16"
    with pytest.raises(LabError, match="not a host of the lab network 10.0.0.0/16"):
        LabNamespaces(spread, tag=tag, hub_address="10.0.0.1/16")
    far = [*spread, make_device(ip="10.1.2.3", mac="02:00:00:00:00:0b", index=3)]
    with pytest.raises(LabError, match="more than one /16"):
        LabNamespaces(far, tag=tag)


@pytest.mark.parametrize(("second", "message"), [
    ({"mac": "01:00:5e:00:00:01"}, "not a unicast Ethernet address"),
    ({"mac": "24:48:45:01:02"}, "not a unicast Ethernet address"),
    ({"ip": "198.18.7.11"}, "two devices share ip"),
    ({"index": 1}, "two devices share index"),
    ({"mac": "24:48:45:00:00:01"}, "two devices share mac"),
])
def test_clashing_or_odd_devices_are_refused(second: dict[str, Any], message: str) -> None:
    first = make_device(ip="198.18.7.11", mac="24:48:45:00:00:01", index=1)
    other = make_device(**{"ip": "198.18.7.12", "mac": "24:48:45:00:00:02", "index": 2, **second})
    with pytest.raises(LabError, match=message):
        LabNamespaces([first, other], tag=process_tag("h"))


@pytest.mark.parametrize("tag", ["", "abc", "12-3", "12 3", "1;rm", "12" + "x" * 40])
def test_tags_must_start_with_a_pid(tag: str) -> None:
    with pytest.raises(LabError, match="namespace tag"):
        LabNamespaces(_devices(1), tag=tag)
