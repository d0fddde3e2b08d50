"""The product as a person gets it from ``make run``: ``fleetwarden demo`` with its device
lab, started as a subprocess for the browser tests, and stopped afterwards.

The demo's lab always lives in 127.20.0.0/16, so two demos on one machine clash (a
developer's ``make run``, another test). As root the demo therefore runs in a network
namespace of its own (``unshare --net``): its loopback is private, the browser is started
inside it (``nsenter``), and this process reaches it from a thread that joined it
(``setns``). Without root it shares the host's loopback, one at a time (a lock file).

Must not: reach any address outside 127.0.0.0/8, leave a process or a lab behind, or
depend on the demo's wording beyond the lines it prints for people to copy
(``token: ...``, ``web-user: ...``).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

from fleetwarden.domain import totp

T = TypeVar("T")

_CLONE_NEWNET = 0x40000000
_START_TIMEOUT = 240.0  # seeding 60 devices + the lab's 120 on a busy 2-core machine
_USER = re.compile(r"^web-user: (\S+) role=(\w+) password=(\S+) totp-secret=([A-Z2-7]+)$")
_TOKEN = re.compile(r"^token: (fw_\S+)$")


class DemoFailed(RuntimeError):
    """The demo exited or never answered; carries its output."""


@dataclass
class WebUser:
    email: str
    role: str
    password: str
    secret: str
    last_step: int = -1
    """The last TOTP step used: the server accepts each step once per user."""

    def next_code(self) -> str:
        """A code the server has not seen for this user, waiting for the next 30-second
        step when the two it would accept now (this one and the next) are used."""
        while True:
            current = int(time.time()) // totp.STEP_SECONDS
            step = max(current, self.last_step + 1)
            if step <= current + totp.DRIFT_STEPS:
                self.last_step = step
                return str(totp.code_at(
                    self.secret, datetime.fromtimestamp(step * totp.STEP_SECONDS, UTC)))
            time.sleep((current + 1) * totp.STEP_SECONDS - time.time() + 0.05)

    def wrong_code(self) -> str:
        """Six digits the server accepts at no step near now."""
        now = datetime.now(UTC).timestamp()
        valid = {totp.code_at(self.secret, datetime.fromtimestamp(now + d, UTC))
                 for d in range(-60, 61, 15)}
        return next(c for c in ("000000", "123456", "999999") if c not in valid)


@dataclass
class Demo:
    url: str
    home: Path
    token: str
    users: dict[str, WebUser]
    """By role: admin, analyst, viewer."""
    netns_pid: int | None
    """The demo's pid when it runs in its own network namespace, else None."""
    _net: ThreadPoolExecutor | None = None

    def on_loopback(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` where the demo's loopback is (its namespace, when it has one)."""
        if self._net is None:
            return fn()
        return self._net.submit(fn).result(timeout=180)

    def http(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """One plain HTTP request to the demo: (status, headers, body)."""
        def send() -> tuple[int, dict[str, str], bytes]:
            response = httpx.request(method, self.url + path, json=body, headers=headers,
                                     timeout=120, trust_env=False)  # never via a proxy
            return response.status_code, dict(response.headers), response.content

        return self.on_loopback(send)

    def api(self, method: str, path: str, body: Any = None) -> Any:
        status, _, raw = self.http(method, "/api/v1" + path, body,
                                   {"Authorization": f"Bearer {self.token}"})
        if status >= 300:
            raise AssertionError(f"{method} {path}: {status} {raw[:500]!r}")
        return json.loads(raw) if raw else None

    def lab_truth(self) -> list[dict[str, Any]]:
        """What the running lab planted (serials, addresses, weaknesses)."""
        data = json.loads((self.home / "lab" / "truth.json").read_text())
        assert isinstance(data, list)
        return data

    def chromium_command(self, chromium: str, folder: Path) -> str:
        """The browser to launch: ``chromium`` itself, or a wrapper entering the demo's
        network namespace (Playwright's pipes are inherited through ``exec``)."""
        if self.netns_pid is None:
            return chromium
        wrapper = folder / "chromium-in-demo-netns"
        nsenter = shutil.which("nsenter") or "nsenter"
        wrapper.write_text(f'#!/bin/sh\nexec {nsenter} --net=/proc/{self.netns_pid}/ns/net '
                           f'{chromium} "$@"\n')
        wrapper.chmod(0o700)
        return str(wrapper)


@dataclass(frozen=True)
class Scanned:
    """Lab devices a discovery scan has just seen (the lab's truth records)."""

    hostile: dict[str, Any]
    """A registered device whose web server answers with a hostile title and header."""
    shadows: list[dict[str, Any]]
    """Devices the register does not know: now in the unregistered queue."""


def scan_some_of_the_lab(demo: Demo) -> Scanned:
    """Scan a few lab devices through the API, as an admin would (the demo runs without
    its worker here, so its hourly schedules never fire)."""
    truth = demo.lab_truth()
    hostile = next(d for d in truth if "hostile_banner" in d["weaknesses"]
                   and d["registered"] and any(s["service"] == "http" for s in d["services"]))
    shadows = [d for d in truth if not d["registered"]
               and any(s["transport"] == "tcp" for s in d["services"])][:2]
    assert len(shadows) == 2, "the lab plan has fewer than two shadow devices"
    targets = [hostile["ip"], *(d["ip"] for d in shadows)]
    report = demo.api("POST", "/discovery/scans?wait=true", {"targets": targets})
    assert report["scan"]["status"] == "done", report["scan"]
    assert set(targets) <= {h["ip"] for h in report["hosts"]}, report["hosts"]
    return Scanned(hostile, shadows)


def can_isolate() -> bool:
    """A private network namespace is possible: root, unshare, nsenter and ip."""
    return os.geteuid() == 0 and all(shutil.which(t) for t in ("unshare", "nsenter", "ip"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _join_netns(pid: int) -> None:
    """Move the calling thread (only) into the network namespace of ``pid``."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into the demo's network namespace: {os.strerror(err)}")
    finally:
        os.close(fd)


@contextlib.contextmanager
def _host_loopback_lock() -> Iterator[None]:
    """One shared-loopback demo at a time on this machine (its lab's addresses are fixed)."""
    path = Path(tempfile.gettempdir()) / "fleetwarden-e2e-demo.lock"
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _reader(stream: Any, lines: list[str], seen: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.append(line.rstrip("\n"))
        seen.put(lines[-1])
    seen.put(None)


def _stop(proc: subprocess.Popen[str], env: dict[str, str]) -> None:
    """SIGTERM the demo's process group (the demo stops its lab), then make sure."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    subprocess.run([sys.executable, "-m", "fleetwarden", "lab", "down"], env=env,
                   capture_output=True, text=True, timeout=120, check=False)


@contextlib.contextmanager
def running_demo(home: Path, devices: int = 60) -> Iterator[Demo]:
    """``fleetwarden demo`` serving on loopback with its lab, until the block ends."""
    isolate = can_isolate()
    lock = contextlib.nullcontext() if isolate else _host_loopback_lock()
    with lock:
        yield from _serve(home, devices, isolate)


def _serve(home: Path, devices: int, isolate: bool) -> Iterator[Demo]:
    port = 8080 if isolate else _free_port()  # a private loopback has every port free
    env = {k: v for k, v in os.environ.items() if k != "FLEETWARDEN_DB"}
    env.update(FLEETWARDEN_HOME=str(home), COLUMNS="200", NO_COLOR="1", TERM="dumb")
    argv = [sys.executable, "-m", "fleetwarden", "demo", "--host", "127.0.0.1",
            "--port", str(port), "--no-worker", "--devices", str(devices)]
    if isolate:
        argv = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"',
                "sh", *argv]
    lines: list[str] = []
    seen: queue.Queue[str | None] = queue.Queue()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    reader = threading.Thread(target=_reader, args=(proc.stdout, lines, seen), daemon=True)
    reader.start()
    net = (ThreadPoolExecutor(1, "demo-netns", initializer=_join_netns,
                              initargs=(proc.pid,)) if isolate else None)
    try:
        demo = _wait_ready(proc, seen, lines, home, port, net)
        yield demo
    finally:
        _stop(proc, env)
        if net is not None:
            net.shutdown()
        reader.join(30)
        if proc.stdout is not None:
            proc.stdout.close()


def _wait_ready(proc: subprocess.Popen[str], seen: queue.Queue[str | None], lines: list[str],
                home: Path, port: int, net: ThreadPoolExecutor | None) -> Demo:
    """The demo once it printed its token and users and ``/ui/login`` answers."""
    token, users = "", dict[str, WebUser]()
    deadline = time.monotonic() + _START_TIMEOUT

    def failed(why: str) -> DemoFailed:
        return DemoFailed(f"fleetwarden demo {why}:\n" + "\n".join(lines[-30:]))

    while not token or len(users) < 3:
        try:
            line = seen.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise failed("printed no token and web users in time") from None
        if line is None:
            raise failed("exited")
        if m := _TOKEN.match(line):
            token = m[1]
        elif m := _USER.match(line):
            users[m[2]] = WebUser(m[1], m[2], m[3], m[4])
    demo = Demo(f"http://127.0.0.1:{port}", home, token, users,
                proc.pid if net is not None else None, net)
    while True:  # the lab starts, then the server
        if proc.poll() is not None:
            raise failed("exited")
        try:
            if demo.http("GET", "/ui/login")[0] == 200:
                return demo
        except httpx.TransportError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            raise failed("did not answer on /ui/login in time")
        time.sleep(0.5)
