"""Device-lab benchmark: start N devices in one process, probe every service, stop.

    .venv/bin/python bench/bench_lab.py [--count 1000] [--scenario large-force]
                                        [--bind 127.30.0.0/16] [--concurrency 200]

Measures, with the real CLI (``fleetwarden lab up --detach``) in a throw-away home:

* start-up: from spawning the process to the lab reporting ready (and the runtime's own
  bind time);
* memory: resident set size of the lab's processes after every service has been probed
  (one process, or more when the open-files limit makes the lab fork shards);
* answers: one protocol-level probe per service of every device (HTTP GET, TLS
  handshake + GET, RTSP OPTIONS, banners of Telnet/FTP/SSH/debug, MQTT CONNECT, Modbus
  read-device-id, SNMP GET, SSDP M-SEARCH, DNS-SD query): how many answered, by service;
* stop: ``lab down`` time, and that no process or listening socket is left.

Goals (issue 3): 1,000 devices up in <= 15 s, <= 500 MB RSS, every service answering.
Writes bench/out/lab-<count>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import dns.message

from fleetwarden.adapters.lab.control import LabOptions, make_plan
from fleetwarden.domain.lab import LabDevice, LabService, Service

OUT = Path(__file__).resolve().parent / "out"
TIMEOUT = 10.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--scenario", default="large-force")
    parser.add_argument("--bind", default="127.30.0.0/16")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="fw-bench-lab-"))
    env = {**os.environ, "FLEETWARDEN_HOME": str(home)}
    cli = [sys.executable, "-m", "fleetwarden", "lab"]
    opts = ["--scenario", args.scenario, "--count", str(args.count), "--bind", args.bind,
            "--seed", str(args.seed), "--ttl", "1h"]
    began = time.perf_counter()
    up = subprocess.run([*cli, "up", "--detach", *opts], env=env, capture_output=True,
                        text=True, check=False)
    startup = time.perf_counter() - began
    if up.returncode != 0:
        print(up.stdout, up.stderr, file=sys.stderr)
        return 1
    state = json.loads((home / "lab" / "state.json").read_text())
    pid = state["pid"]
    plan = make_plan(LabOptions(scenario=args.scenario, count=args.count, seed=args.seed,
                                bind=args.bind))
    try:
        probe_began = time.perf_counter()
        results = asyncio.run(probe_all(plan.devices, args.concurrency))
        probe_time = time.perf_counter() - probe_began
        pids = [pid, *_children(pid)]
        rss_mb = sum(_rss_mb(p) for p in pids)
    finally:
        down_began = time.perf_counter()
        subprocess.run([*cli, "down"], env=env, capture_output=True, check=False)
        stop_time = time.perf_counter() - down_began
    leftover = any(_running(p) for p in pids)
    ok = Counter(s for s, good in results if good)
    total = Counter(s for s, _ in results)
    report: dict[str, Any] = {
        "devices": args.count, "scenario": args.scenario, "sockets": state["sockets"],
        "startup_seconds": round(startup, 2),
        "bind_seconds": state["started_in_seconds"],
        "processes": len(pids), "rss_mb_after_probes": round(rss_mb, 1),
        "probes": sum(total.values()), "answered": sum(ok.values()),
        "probe_seconds": round(probe_time, 2),
        "by_service": {s: f"{ok[s]}/{total[s]}" for s in sorted(total)},
        "stop_seconds": round(stop_time, 2), "process_left": leftover,
    }
    OUT.mkdir(exist_ok=True)
    (OUT / f"lab-{args.count}.json").write_text(json.dumps(report, indent=1))
    for key, value in report.items():
        print(f"{key:>20}: {value}")
    goals = args.count > 1000 or (startup <= 15 and rss_mb <= 500)
    return 0 if goals and report["probes"] == report["answered"] and not leftover else 1


def _running(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting for its reaper."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _children(pid: int) -> list[int]:
    """Shard processes the lab forked (it needs more sockets than one process may hold)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def probe_all(devices: tuple[LabDevice, ...], concurrency: int) -> list[tuple[str, bool]]:
    gate = asyncio.Semaphore(concurrency)

    async def one(device: LabDevice, service: LabService) -> tuple[str, bool]:
        async with gate:
            try:
                good = await asyncio.wait_for(PROBES[service.service](device, service), TIMEOUT)
            except (OSError, TimeoutError, ssl.SSLError, asyncio.IncompleteReadError):
                good = False
            return service.service.value, good

    return await asyncio.gather(*(one(d, s) for d in devices for s in d.services))


async def _exchange(device: LabDevice, service: LabService, send: bytes, expect: bytes,
                    tls: bool = False) -> bool:
    ctx = None
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        ctx.options &= ~(ssl.OP_NO_TLSv1 | ssl.OP_NO_TLSv1_1)  # reach legacy-only devices
    reader, writer = await asyncio.open_connection(device.ip, service.port, ssl=ctx)
    try:
        if send:
            writer.write(send)
            await writer.drain()
        data = await reader.read(4096)
        return data.startswith(expect) or (expect in data)
    finally:
        writer.close()


def _http(tls: bool):  # type: ignore[no-untyped-def]
    async def probe(device: LabDevice, service: LabService) -> bool:
        request = f"GET / HTTP/1.1\r\nHost: {device.ip}\r\nConnection: close\r\n\r\n"
        return await _exchange(device, service, request.encode(), b"HTTP/1.", tls)
    return probe


async def _upnp(device: LabDevice, service: LabService) -> bool:
    request = f"GET /description.xml HTTP/1.1\r\nHost: {device.ip}\r\n\r\n"
    return await _exchange(device, service, request.encode(), b"HTTP/1.1 200")


async def _rtsp(device: LabDevice, service: LabService) -> bool:
    request = f"OPTIONS rtsp://{device.ip}/ RTSP/1.0\r\nCSeq: 1\r\n\r\n"
    return await _exchange(device, service, request.encode(), b"RTSP/1.0")


def _banner(prefix: bytes):  # type: ignore[no-untyped-def]
    async def probe(device: LabDevice, service: LabService) -> bool:
        return await _exchange(device, service, b"", prefix)
    return probe


async def _debug(device: LabDevice, service: LabService) -> bool:
    if device.persona.get("debug_banner"):
        return await _exchange(device, service, b"", b"")
    return await _exchange(device, service, b"help\r\n", b"")


def _mqtt(tls: bool):  # type: ignore[no-untyped-def]
    async def probe(device: LabDevice, service: LabService) -> bool:
        client = b"bench"
        payload = (b"\x00\x04MQTT\x04\x02\x00\x3c" + len(client).to_bytes(2, "big") + client)
        return await _exchange(device, service, bytes([0x10, len(payload)]) + payload,
                               b"\x20\x02", tls)
    return probe


async def _modbus(device: LabDevice, service: LabService) -> bool:
    pdu = b"\x2b\x0e\x01\x00"
    frame = b"\x00\x01\x00\x00" + (len(pdu) + 1).to_bytes(2, "big") + b"\x01" + pdu
    return await _exchange(device, service, frame, b"\x00\x01\x00\x00")


async def _udp(device: LabDevice, service: LabService, datagram: bytes) -> bool:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, (device.ip, service.port))
        await loop.sock_sendall(sock, datagram)
        return bool(await loop.sock_recv(sock, 65535))


def _ber(tag: int, body: bytes) -> bytes:
    size = len(body)
    head = bytes([size]) if size < 128 else b"\x82" + size.to_bytes(2, "big")
    return bytes([tag]) + head + body


async def _snmp(device: LabDevice, service: LabService) -> bool:
    oid = _ber(0x06, bytes([0x2B, 6, 1, 2, 1, 1, 1, 0]))
    varbind = _ber(0x30, _ber(0x30, oid + b"\x05\x00"))
    pdu = _ber(0xA0, _ber(0x02, b"\x01") + _ber(0x02, b"\x00") + _ber(0x02, b"\x00") + varbind)
    message = _ber(0x30, _ber(0x02, b"\x01") + _ber(0x04, device.secret.encode()) + pdu)
    return await _udp(device, service, message)


async def _ssdp(device: LabDevice, service: LabService) -> bool:
    search = ("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\n"
              "MX: 1\r\nST: ssdp:all\r\n\r\n")
    return await _udp(device, service, search.encode())


async def _mdns(device: LabDevice, service: LabService) -> bool:
    query = dns.message.make_query("_services._dns-sd._udp.local", "PTR")
    return await _udp(device, service, query.to_wire())


PROBES = {
    Service.HTTP: _http(False), Service.HTTPS: _http(True), Service.UPNP: _upnp,
    Service.RTSP: _rtsp, Service.TELNET: _banner(b""), Service.FTP: _banner(b"220"),
    Service.SSH: _banner(b"SSH-"), Service.DEBUG: _debug, Service.MQTT: _mqtt(False),
    Service.MQTTS: _mqtt(True), Service.MODBUS: _modbus, Service.SNMP: _snmp,
    Service.SSDP: _ssdp, Service.MDNS: _mdns,
}


if __name__ == "__main__":
    sys.exit(main())
