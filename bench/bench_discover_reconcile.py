"""Reconciliation at scale: how long keeping the register true takes, without the network.

    .venv/bin/python bench/bench_discover_reconcile.py [--register 100000] [--hosts 10000]
                                                       [--db POSTGRES_URL]

A register of ``--register`` devices (serial, MAC, IP) is bulk-loaded; then a run of
``--hosts`` sightings is reconciled twice through the real discovery service and a real
database: the first run sees 90 % registered devices (10 % of them moved address and
5 % with new firmware) and 10 % new hosts; the second run sees the same hosts again
(everything known, the queue not re-alerted). Observations come from a stand-in for the
network tools (the scanner and readers have their own benchmarks), fingerprinting is
the real engine with the real catalogue.

Prints wall time and hosts/s per run and writes bench/out/discover-reconcile.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT  # noqa: E402

from fleetwarden import bootstrap  # noqa: E402
from fleetwarden.adapters.db.engine import make_engine  # noqa: E402
from fleetwarden.adapters.db.migrate import upgrade  # noqa: E402
from fleetwarden.adapters.discovery.tools import NetworkDiscoveryTools  # noqa: E402
from fleetwarden.domain.discovery import (  # noqa: E402
    Field,
    HostObservation,
    ServiceObservation,
    Source,
)
from fleetwarden.domain.fingerprint import Fingerprint  # noqa: E402
from fleetwarden.domain.records import RecordKind  # noqa: E402
from fleetwarden.ports import PassiveRead, ReadProgress, ScanOptions, ScanProgress  # noqa: E402
from fleetwarden.services import accounts, registry  # noqa: E402
from fleetwarden.services import discovery as disc  # noqa: E402
from fleetwarden.settings import load_settings  # noqa: E402


def _ip(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def _mac(i: int) -> str:
    return "24:48:45:" + ":".join(f"{(i >> s) & 255:02x}" for s in (16, 8, 0))


class SyntheticTools(NetworkDiscoveryTools):
    """The real fingerprint catalogue; observations made up instead of read from a file."""

    def __init__(self, observations: Sequence[HostObservation]) -> None:
        super().__init__()
        self.observations = list(observations)

    def read(self, source: Source, path: str, *, progress: ReadProgress | None) -> PassiveRead:
        return PassiveRead(tuple(self.observations))

    def scan(self, targets: Sequence[str], options: ScanOptions, *, allow_non_loopback: bool,
             progress: ScanProgress | None) -> list[HostObservation]:
        return []

    def fingerprint(self, observations: Sequence[HostObservation],
                    overrides: Mapping[str, str] | None = None) -> Fingerprint:
        return super().fingerprint(observations, overrides)


def _observation(i: int, *, moved: bool, firmware: str) -> HostObservation:
    ip = _ip(i + 5_000_000) if moved else _ip(i)
    ssdp = ServiceObservation(1900, "udp", "ssdp", fields={
        Field.UPNP_MANUFACTURER: "Hikvision", Field.UPNP_MODEL_NAME: "DS-2CD2143G2-I",
        Field.UPNP_SERIAL: f"DS-BENCH-{i:08d}", Field.UPNP_FIRMWARE: firmware})
    http = ServiceObservation(80, "tcp", "http", fields={
        Field.HTTP_SERVER: "App-webs/", Field.HTTP_TITLE: "Hikvision DS-2CD2143G2-I"})
    return HostObservation(Source.PCAP, "2026-11-23T10:00:00Z", ip=ip, mac=_mac(i),
                           services=(http, ssdp))


def run(db_url: str | None, register: int, hosts: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="fw-bench-reconcile-"))
    url = db_url or f"sqlite:///{work / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    app = bootstrap.build(load_settings(db_url=url, home=str(work)))
    issued = accounts.create_tenant(app.platform, "bench", "Bench Constabulary",
                                    "admin@bench.example")
    admin = accounts.authenticate(app.platform, issued.token)
    registry.create(app.platform, admin, RecordKind.SEGMENT,
                    {"name": "bench", "cidrs": ["10.0.0.0/8"]})
    csv = work / "devices.csv"
    with csv.open("w") as fh:
        fh.write("name,device_type,vendor,model,serial,mac_addresses,ip_addresses,"
                 "firmware_version,lifecycle_state\n")
        for i in range(register):
            fh.write(f"cam-{i},cctv_camera,Hikvision,DS-2CD2143G2-I,DS-BENCH-{i:08d},"
                     f"{_mac(i)},{_ip(i)},V5.7.3 build 220112,in_service\n")
    t0 = time.perf_counter()
    _import(app, csv)
    load_s = time.perf_counter() - t0

    known = int(hosts * 0.9)
    observations = [
        _observation(i, moved=i % 10 == 0,
                     firmware="V5.8.0 build 230101" if i % 20 == 1 else "V5.7.3 build 220112")
        for i in range(known)]
    observations += [_observation(register + i, moved=False, firmware="V5.7.3 build 220112")
                     for i in range(hosts - known)]
    results = {}
    for name in ("first", "again"):
        tools = SyntheticTools(observations)
        platform = dataclasses.replace(app.platform, discovery=tools)
        t0 = time.perf_counter()
        report = disc.discover(platform, admin, disc.DiscoverRequest(
            files=((Source.PCAP, "synthetic"),)))
        seconds = time.perf_counter() - t0
        results[name] = {"seconds": round(seconds, 2),
                         "hosts_per_s": round(hosts / seconds),
                         "counts": dict(report.counts)}
        print(f"{name:6} {hosts:>8,} hosts in {seconds:6.1f} s "
              f"({hosts / seconds:,.0f}/s): {dict(report.counts)}")
    app.engine.dispose()
    return {"backend": "postgresql" if db_url else "sqlite", "register": register,
            "hosts": hosts, "register_load_s": round(load_s, 1), **results}


def _import(app: bootstrap.App, csv: Path) -> None:
    """The real CLI import (the register benchmark measures it; here it is set-up)."""
    subprocess.run([str(Path(sys.executable).parent / "fleetwarden"), "--db",
                    str(app.settings.db_url), "--home", str(app.settings.home),
                    "devices", "import", str(csv)], check=True, capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--register", type=int, default=100_000)
    ap.add_argument("--hosts", type=int, default=10_000)
    ap.add_argument("--db", help="PostgreSQL URL (default: a temporary SQLite file)")
    args = ap.parse_args()
    result = run(args.db, args.register, args.hosts)
    OUT.mkdir(exist_ok=True)
    (OUT / "discover-reconcile.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
