"""Runs simulated lab devices for a test, on loopback addresses no other test uses.

``make_device`` builds one device with sensible defaults (override any field, or pass
``weaknesses``/``persona`` extras); ``running_lab`` serves devices with the real lab
runtime in a background event loop and stops them afterwards. Ports follow the lab's
own rule: real ports when the test runs as root, else nominal + 20000.

``client_tool(name)`` gives the path of a Debian client (nmap, curl, snmpget, ...): in CI
a missing one is an error (``make test`` installs them), locally the test is skipped.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from fleetwarden.adapters.lab.certs import LabCertificates
from fleetwarden.adapters.lab.plan import LabPlan
from fleetwarden.adapters.lab.protocols.base import LabContext
from fleetwarden.adapters.lab.runtime import LabRuntime
from fleetwarden.domain.lab import (
    WELL_KNOWN,
    Component,
    Credential,
    LabDevice,
    LabService,
    Service,
    Weakness,
    port_for,
)

ROOT = os.geteuid() == 0
_worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").lstrip("gw") or 0)
_addresses = itertools.count(1)


def next_ip() -> str:
    """A fresh 127.77-79.x.y address per call, distinct across xdist workers."""
    n = next(_addresses)
    # 3 second octets x 8 blocks of 32 /24s: 24 workers apart; beyond that blocks repeat.
    return f"127.{77 + _worker % 3}.{((_worker // 3) * 32 + n // 250 % 32) % 256}.{n % 250 + 2}"


def lab_port(nominal: int) -> int:
    return port_for(nominal, 1024, ROOT)


def make_device(
    services: Iterable[Service] = (Service.HTTP,),
    *,
    weaknesses: Iterable[Weakness] = (),
    persona: Mapping[str, str] | None = None,
    credentials: Iterable[Credential] = (),
    index: int | None = None,
    **fields: Any,
) -> LabDevice:
    ip = fields.pop("ip", None) or next_ip()
    idx = index if index is not None else int(ip.replace(".", "")) % 10**9
    lab_services = []
    for service in services:
        nominal, transport = WELL_KNOWN[service]
        if service is Service.DEBUG and persona and "debug_port" in persona:
            nominal = int(persona["debug_port"])
        lab_services.append(LabService(service, transport, lab_port(nominal), nominal))
    base: dict[str, Any] = {
        "index": idx, "ip": ip, "mac": "24:48:45:01:02:03", "serial": "DS-TEST-0001",
        "vendor": "Hikvision", "model": "DS-2CD2143G2-I",
        "device_type": "cctv_camera", "firmware_version": "V5.7.3 build 220112",
        "hostname": "hq-cam-0001", "family": "hikvision", "site": "HQ", "segment": "hq-cctv",
        "registered": True,
        "components": (Component("busybox", "1.19.4", "pkg:generic/busybox@1.19.4"),),
        "secret": "labsecret123",
    }
    base.update(fields)
    return LabDevice(services=tuple(lab_services), weaknesses=frozenset(weaknesses),
                     credentials=tuple(credentials), persona=dict(persona or {}), **base)


@contextmanager
def running_lab(devices: Iterable[LabDevice], run_dir: Path) -> Iterator[LabRuntime]:
    """Serve ``devices`` until the block ends (real sockets, real TLS)."""
    plan = LabPlan("test", 0, "127.0.0.0/8", ROOT, tuple(devices))
    lab = LabContext(run_dir=run_dir, tls=LabCertificates(run_dir))
    runtime = LabRuntime(plan, lab)
    loop = asyncio.new_event_loop()
    ready, failure = threading.Event(), []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(runtime.start())
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            failure.append(exc)
            ready.set()
            return
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runtime.close())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(30)
    if failure:
        thread.join(30)
        loop.close()
        raise failure[0]
    try:
        yield runtime
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


def client_tool(name: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    if os.environ.get("CI", "").lower() not in {"", "0", "false", "no"}:
        pytest.fail(f"{name} is missing: make test installs it (Debian package) when root")
    pytest.skip(f"{name} not installed")
