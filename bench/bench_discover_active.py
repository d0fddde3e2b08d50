"""Active discovery benchmark: fleetwarden's scanner against the lab truth and nmap.

    .venv/bin/python bench/bench_discover_active.py [--count 1000] [--scenario large-force]
        [--bind 127.32.0.0/16] [--targets bind|devices] [--profile fast] [--rate N]
        [--sv-sample 50] [--no-nmap] [--no-sv]

Starts a lab with the real CLI (``fleetwarden lab up --detach``) in a throw-away
FLEETWARDEN_HOME, takes the union of the truth's TCP ports, and scans the targets (the
whole bind network by default, every address of it, like ``nmap -Pn``) with:

* fleetwarden, port sweep only (``identify=False``);
* fleetwarden with service identification;
* ``nmap -sT -T4 -Pn -n -p <ports>``;
* on a sample (the first ``--sv-sample`` devices, because nmap's version scan spends a
  minute or more per device on banners it does not know): fleetwarden with
  identification and ``nmap -sT -sV -T4 -Pn -n``.

Prints wall times, open-port recall against the truth and agreement with nmap, and how
many ports each tool named; writes bench/out/discover-active-<count>.json.

Goals (issue 4): recall 100 % against the truth and against ``nmap -sT``; the port
sweep no slower than ``nmap -sT -T4``; identification at most half of ``nmap -sT -sV``.
Only loopback addresses the lab itself binds are ever scanned.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from defusedxml.ElementTree import parse as parse_xml

from fleetwarden.adapters.discovery.active import PortPlan, parse_targets, scan_sync
from fleetwarden.domain.discovery import HostObservation

OUT = Path(__file__).resolve().parent / "out"
Port = tuple[str, int]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--scenario", default="large-force")
    parser.add_argument("--bind", default="127.32.0.0/16")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--targets", choices=("bind", "devices"), default="bind")
    parser.add_argument("--profile", default="fast")
    parser.add_argument("--rate", type=int, default=None)
    parser.add_argument("--sv-sample", type=int, default=50)
    parser.add_argument("--no-nmap", action="store_true")
    parser.add_argument("--no-sv", action="store_true")
    parser.add_argument("--udp", action="store_true",
                        help="also probe SNMP/SSDP/mDNS on the devices' own addresses")
    args = parser.parse_args()
    parse_targets([args.bind])  # loopback only: refuses anything else before starting

    home = Path(tempfile.mkdtemp(prefix="fw-bench-discover-"))
    env = {**os.environ, "FLEETWARDEN_HOME": str(home)}
    cli = [sys.executable, "-m", "fleetwarden", "lab"]
    up = subprocess.run([*cli, "up", "--detach", "--scenario", args.scenario, "--count",
                         str(args.count), "--bind", args.bind, "--seed", str(args.seed),
                         "--ttl", "2h"], env=env, capture_output=True, text=True, check=False)
    if up.returncode != 0:
        print(up.stdout, up.stderr, file=sys.stderr)
        return 1
    try:
        report = run(args, json.loads((home / "lab" / "truth.json").read_text()))
    finally:
        subprocess.run([*cli, "down"], env=env, capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)
    OUT.mkdir(exist_ok=True)
    (OUT / f"discover-active-{args.count}.json").write_text(json.dumps(report, indent=1))
    for key, value in report.items():
        print(f"{key:>34}: {value}")
    return 0


def run(args: argparse.Namespace, truth: list[dict[str, Any]]) -> dict[str, Any]:
    ports = sorted({s["port"] for d in truth for s in d["services"] if s["transport"] == "tcp"})
    names = {(d["ip"], s["port"]): s["service"] for d in truth for s in d["services"]
             if s["transport"] == "tcp"}
    expected = set(names)
    targets = [args.bind] if args.targets == "bind" else [d["ip"] for d in truth]
    plan = PortPlan(tuple(ports))
    report: dict[str, Any] = {
        "devices": len(truth), "targets": " ".join(targets[:1]) + (
            f" (+{len(targets) - 1})" if len(targets) > 1 else ""),
        "addresses": len(parse_targets(targets)), "tcp_ports": ",".join(map(str, ports)),
        "open_ports_in_truth": len(expected), "profile": args.profile,
        "rate": args.rate or "profile default",
    }

    began = time.perf_counter()
    swept = scan_sync(targets, plan, profile=args.profile, rate=args.rate, identify=False)
    report["fleetwarden_sweep_seconds"] = round(time.perf_counter() - began, 2)
    report["fleetwarden_sweep_recall"] = _recall(_ports(swept), expected)

    began = time.perf_counter()
    identified = scan_sync(targets, plan, profile=args.profile, rate=args.rate)
    report["fleetwarden_identify_seconds"] = round(time.perf_counter() - began, 2)
    ours = _ports(identified)
    report["fleetwarden_identify_recall"] = _recall(ours, expected)
    named = _names(identified)
    right = sum(1 for key, name in names.items() if named.get(key) == name)
    report["fleetwarden_services_named_right"] = f"{right}/{len(names)}"
    report["fleetwarden_ports_with_product"] = sum(
        1 for h in identified for s in h.services if s.product)
    report["fleetwarden_max_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    if args.udp:
        report.update(_udp(args, truth))
    nmap = shutil.which("nmap")
    if nmap is None or args.no_nmap:
        report["nmap"] = "skipped"
        return report
    port_list = ",".join(map(str, ports))
    seconds, found, _ = _nmap(nmap, ["-sT", "-T4", "-Pn", "-n", "-p", port_list], targets)
    report["nmap_sT_seconds"] = seconds
    report["nmap_sT_recall"] = _recall(found, expected)
    report["fleetwarden_vs_nmap_sT"] = _recall(ours, found)
    report["nmap_sT_vs_fleetwarden"] = _recall(found, ours)
    report["sweep_speed_vs_nmap_sT"] = round(seconds / report["fleetwarden_sweep_seconds"], 2)

    if args.no_sv or args.sv_sample <= 0:
        return report
    sample = sorted((d["ip"] for d in truth), key=_ip_key)[:args.sv_sample]
    in_sample = {k for k in expected if k[0] in set(sample)}
    began = time.perf_counter()
    ours_sample = scan_sync(sample, plan, profile=args.profile, rate=args.rate)
    ours_seconds = round(time.perf_counter() - began, 2)
    seconds, found, products = _nmap(
        nmap, ["-sT", "-sV", "-T4", "-Pn", "-n", "-p", port_list], sample)
    report["sample_devices"] = len(sample)
    report["sample_fleetwarden_identify_seconds"] = ours_seconds
    report["sample_nmap_sV_seconds"] = seconds
    report["sample_fleetwarden_recall"] = _recall(_ports(ours_sample), in_sample)
    report["sample_nmap_sV_recall"] = _recall(found, in_sample)
    report["sample_fleetwarden_ports_with_product"] = sum(
        1 for h in ours_sample for s in h.services if s.product)
    report["sample_nmap_sV_ports_with_product"] = products
    report["identify_speed_vs_nmap_sV"] = round(seconds / max(ours_seconds, 0.01), 1)
    return report


def _udp(args: argparse.Namespace, truth: list[dict[str, Any]]) -> dict[str, Any]:
    """UDP probes on every device address: found per service against the truth (SNMP
    answers only ``public``, so only devices with the snmp_public weakness count)."""
    udp = sorted({s["port"] for d in truth for s in d["services"] if s["transport"] == "udp"})
    wanted = {(d["ip"], s["port"]): s["service"] for d in truth for s in d["services"]
              if s["transport"] == "udp" and (
                  s["service"] != "snmp" or "snmp_public" in d["weaknesses"])}
    began = time.perf_counter()
    hosts = scan_sync([d["ip"] for d in truth], PortPlan((), tuple(udp)), udp=True,
                      profile=args.profile, rate=args.rate)
    seconds = round(time.perf_counter() - began, 2)
    seen = {(h.ip, s.port): s.service for h in hosts for s in h.services}
    out: dict[str, Any] = {"udp_devices_seconds": seconds}
    for name in sorted(set(wanted.values())):
        keys = {k for k, v in wanted.items() if v == name}
        hits = sum(1 for k in keys if seen.get(k) == name)
        extra = sum(1 for k, v in seen.items() if v == name and k not in keys)
        out[f"udp_{name}_found"] = f"{hits}/{len(keys)}, +{extra} not expected"
    return out


def _nmap(nmap: str, options: list[str], targets: Iterable[str]) -> tuple[float, set[Port], int]:
    """(wall seconds, open (ip, port), ports with a product) of one nmap run."""
    with tempfile.NamedTemporaryFile(suffix=".xml") as out:
        began = time.perf_counter()
        subprocess.run([nmap, *options, "-oX", out.name, *targets], capture_output=True,
                       check=True, timeout=6 * 3600)
        seconds = round(time.perf_counter() - began, 2)
        root = parse_xml(out.name).getroot()
    found: set[Port] = set()
    products = 0
    for host in root.iter("host"):
        address = host.find("address")
        ip = address.get("addr") if address is not None else None
        for port in host.iter("port"):
            state = port.find("state")
            if ip and state is not None and state.get("state") == "open":
                found.add((ip, int(port.get("portid", "0"))))
                service = port.find("service")
                products += int(service is not None and bool(service.get("product")))
    return seconds, found, products


def _ports(hosts: list[HostObservation]) -> set[Port]:
    return {(h.ip or "", s.port) for h in hosts for s in h.services if s.transport == "tcp"}


def _names(hosts: list[HostObservation]) -> dict[Port, str]:
    return {(h.ip or "", s.port): s.service for h in hosts for s in h.services
            if s.transport == "tcp"}


def _recall(found: set[Port], reference: set[Port]) -> str:
    """``hits/reference (pct), +extra``: how much of ``reference`` ``found`` has."""
    hits = len(found & reference)
    pct = 100.0 * hits / len(reference) if reference else 100.0
    return f"{hits}/{len(reference)} ({pct:.2f} %), +{len(found - reference)} not in it"


def _ip_key(ip: str) -> tuple[int, ...]:
    return tuple(int(part) for part in ip.split("."))


if __name__ == "__main__":
    sys.exit(main())
