"""Passive discovery benchmark: ``read_pcap`` over a large capture of lab traffic.

    .venv/bin/python bench/bench_discover_pcap.py [--size-mb 1024] [--count 1000]
        [--scenario large-force] [--bulk-percent 0] [--workers N] [--capture FILE] [--keep]

Writes the lab's background traffic with the real CLI (``fleetwarden lab pcap``), then
makes a capture of about ``--size-mb`` by repeating its packets with the time stamps
shifted (each copy starts a second after the previous one ends), and reads it with
``read_pcap`` in this process: wall time, MB/s, packets/s, CPU time and peak RSS.
It also reads the single lab capture once, where every announcement and certificate is
new to the reader (the worst case per byte: nothing but discovery traffic, no cache
hits). Writes bench/out/discover-pcap.json.

The large capture is the same devices saying the same things again, as a long capture
of a quiet estate is: the reader remembers what each distinct message said (DHCP without
its transaction id), so a repeat only refreshes address bindings; every TLS handshake
is parsed again. This is the worst case per byte: the lab writes nothing but discovery
traffic in minimum-size frames (mean ~170 bytes). ``--bulk-percent N`` mixes in camera
video (RTSP-interleaved TCP segments of 1,448 bytes, which the reader skips unread)
until it makes N % of the bytes, as on a real camera network.

The load average before each read is recorded: on a shared machine, other work takes
CPU from the reader's processes and the wall-clock figure with it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

TARGET_MB_S = 100.0


def lab_capture(path: Path, scenario: str, count: int) -> None:
    cmd = [common.FLEETWARDEN, "lab", "pcap", str(path), "--scenario", scenario,
           "--count", str(count)]
    env = dict(os.environ, FLEETWARDEN_HOME=str(path.parent / "home"))
    subprocess.run(cmd, check=True, env=env, capture_output=True, text=True)


def _bulk_frame(seq: int) -> bytes:
    """A camera's video segment to its recorder (RTSP interleaved: starts with ``$``)."""
    payload = b"$\x00\x05\xa8" + bytes(1444)
    tcp = struct.pack("!HHIIBBHHH", 554, 40_554, seq & 0xFFFFFFFF, 1, 0x50, 0x18, 64240, 0,
                      0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0,
                     bytes([127, 20, 4, 180]), bytes([127, 20, 66, 148]))
    return (bytes.fromhex("0c75d202ea56548c81e64090") + b"\x08\x00" + ip + tcp)


def repeat_capture(base: Path, out: Path, size_mb: int, bulk_percent: int = 0) -> dict[str, Any]:
    """``base``'s packets again and again, each copy later in time, up to ``size_mb``;
    with ``bulk_percent`` of the bytes in video segments between them."""
    data = base.read_bytes()
    if data[:4] != b"\xd4\xc3\xb2\xa1":
        raise SystemExit(f"{base}: expected a little-endian microsecond pcap")
    records: list[tuple[int, int, bytes]] = []
    off = 24
    while off + 16 <= len(data):
        sec, usec, caplen, origlen = struct.unpack_from("<IIII", data, off)
        records.append((sec * 1_000_000 + usec, origlen, data[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    span_us = records[-1][0] - records[0][0] + 1_000_000
    target = size_mb * 1024 * 1024
    bulk = _bulk_frame(0)
    per_record = 16 + len(bulk)
    lab_bytes = len(data) - 24
    # bulk records per lab record so that bulk is bulk_percent of all bytes
    ratio = (bulk_percent / (100 - bulk_percent)) * lab_bytes / len(records) / per_record \
        if bulk_percent else 0.0
    copies = bulk_records = 0
    with out.open("wb") as fh:
        fh.write(data[:24])
        written = 24
        owed = 0.0
        while written < target:
            shift = copies * span_us
            parts = []
            for ts, origlen, frame in records:
                sec, usec = divmod(ts + shift, 1_000_000)
                parts.append(struct.pack("<IIII", sec, usec, len(frame), origlen) + frame)
                owed += ratio
                while owed >= 1:
                    owed -= 1
                    bulk_records += 1
                    parts.append(struct.pack("<IIII", sec, usec, len(bulk), len(bulk)) + bulk)
            chunk = b"".join(parts)
            fh.write(chunk)
            written += len(chunk)
            copies += 1
    return {"bytes": written, "copies": copies,
            "packets": copies * len(records) + bulk_records, "bulk_packets": bulk_records,
            "bulk_percent": bulk_percent, "base_bytes": len(data),
            "base_packets": len(records)}


def measure(path: Path, workers: int | None) -> dict[str, Any]:
    """Read ``path`` in a fresh process (so peak RSS is the reader's own)."""
    with path.open("rb") as fh:  # into the page cache: this measures the reader, not the disk
        while fh.read(8 << 20):
            pass
    load = os.getloadavg()[0]
    proc = subprocess.run([sys.executable, __file__, "--measure", str(path),
                           "--workers", str(workers or 0)], check=True,
                          capture_output=True, text=True)
    return {**json.loads(proc.stdout), "load_average_before": round(load, 2)}


def _high_water_mib() -> float:
    """This process's peak RSS since its exec (``ru_maxrss`` would carry over the peak of
    the benchmark process it was forked from)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _measure_here(path: Path, workers: int | None) -> dict[str, Any]:
    from fleetwarden.adapters.discovery.passive import read_pcap

    cpu0, t0 = time.process_time(), time.perf_counter()
    result = read_pcap(path, workers=workers)
    seconds = time.perf_counter() - t0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - cpu0 + children.ru_utime + children.ru_stime
    size = path.stat().st_size
    return {
        "file": path.name, "bytes": size, "seconds": round(seconds, 3),
        "mb_per_s": round(size / seconds / 1e6, 1),
        "mib_per_s": round(size / seconds / 1024 / 1024, 1),
        "packets_per_s": round(result.stats["packets"] / seconds),
        "processes": result.stats.get("parts", 1),
        "cpu_seconds": round(cpu, 2),
        "mb_per_cpu_second": round(size / cpu / 1e6, 1) if cpu else None,
        "peak_rss_mib": _high_water_mib(),
        "peak_rss_worker_mib": round(children.ru_maxrss / 1024, 1),
        "hosts": len(result.observations), "warnings": list(result.warnings),
        "stats": dict(result.stats),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024, help="size of the large capture")
    ap.add_argument("--count", type=int, default=1000, help="lab devices")
    ap.add_argument("--scenario", default="large-force")
    ap.add_argument("--bulk-percent", type=int, default=0, choices=range(0, 100),
                    metavar="0-99", help="share of bytes that is camera video (default 0)")
    ap.add_argument("--workers", type=int, help="processes to read with (default: one per "
                    "CPU for a large file)")
    ap.add_argument("--capture", type=Path, help="read this capture instead of making one")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure:
        print(json.dumps(_measure_here(args.measure, args.workers or None)))
        return 0
    with common.workdir(args.keep) as work:
        out: dict[str, Any] = {"machine": common.machine()}
        if args.capture:
            big = args.capture
        else:
            base, big = work / "lab.pcap", work / "large.pcap"
            t0 = time.perf_counter()
            lab_capture(base, args.scenario, args.count)
            out["capture"] = repeat_capture(base, big, args.size_mb, args.bulk_percent)
            out["capture"]["made_in_s"] = round(time.perf_counter() - t0, 1)
            out["cold"] = measure(base, 1)
        out["large"] = measure(big, args.workers)
        large = out["large"]
        rows = [("capture", f"{large['bytes'] / 1e6:,.0f} MB, {large['stats']['packets']:,} "
                            f"packets, {large['hosts']:,} hosts"),
                ("wall time", f"{large['seconds']:.2f} s with {large['processes']} process(es), "
                              f"CPU {large['cpu_seconds']:.2f} s "
                              f"(load average before: {large['load_average_before']})"),
                ("throughput", f"{large['mb_per_s']:,.1f} MB/s, {large['packets_per_s']:,} "
                               f"packets/s (target >= {TARGET_MB_S:.0f} MB/s: "
                               f"{'met' if large['mb_per_s'] >= TARGET_MB_S else 'MISSED'}); "
                               f"{large['mb_per_cpu_second']} MB per CPU second"),
                ("peak RSS", f"{large['peak_rss_mib']:.0f} MiB (largest worker "
                             f"{large['peak_rss_worker_mib']:.0f} MiB)")]
        if "cold" in out:
            cold = out["cold"]
            rows.append(("single lab capture", f"{cold['bytes'] / 1e6:.1f} MB in "
                         f"{cold['seconds']:.2f} s = {cold['mb_per_s']:.1f} MB/s, "
                         f"{cold['packets_per_s']:,} packets/s (all new to the reader)"))
        common.table("passive discovery: read_pcap", rows)
        name = "discover-pcap" + (f"-bulk{args.bulk_percent}" if args.bulk_percent else "")
        print(f"\nwrote {common.write_json(name, out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
