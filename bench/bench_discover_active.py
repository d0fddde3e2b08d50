"""Active discovery benchmark: fleetwarden's scanner against the lab truth and nmap.

    .venv/bin/python bench/bench_discover_active.py [--count 1000 | --quick] [--udp]
        [--scenario large-force] [--bind 127.32.0.0/16] [--targets bind|devices]
        [--profile fast] [--identify-profile normal] [--rate N] [--sv-sample 50]
        [--no-nmap] [--no-sv] [--accuracy-only] [--save-observations FILE]
    .venv/bin/python bench/bench_discover_active.py --refingerprint FILE   # no lab, no scan

Starts a lab with the real CLI (``fleetwarden lab up --detach``) in a throw-away
FLEETWARDEN_HOME (stopped with ``lab down`` in the same home however the run ends) and
measures what issue 4 asks:

(a) open-port recall: the union of the truth's TCP ports swept over the targets (the
    whole bind network by default, every address of it, like ``nmap -Pn``) by
    fleetwarden (sweep only, then with identification, ``--profile``) and by
    ``nmap -sT -T4 -Pn -n``; recall against the truth and against each other.
(b) identification accuracy per device: every device address scanned the way a user
    would (``ports="iot-top"``, ``--identify-profile``, UDP probes with ``--udp``), the
    observations grouped per IP and fingerprinted with the bundled catalogue, and the
    concluded vendor and device type compared with the truth's (case-insensitive; vendors
    after the catalogue's aliases). Lab devices on loopback have no real MAC, so only
    vendor and type are scored (a MAC that SNMP reports still feeds the OUI evidence).
    Every misidentified device is listed in the JSON with the truth, the conclusion, the
    top evidence per wrong attribute and what each service said, so it can be fixed.
(c) speed: the full identification scan of all devices (measured) against
    ``nmap -sT -sV -T4`` on ``--sv-sample`` devices spread evenly over the estate (nmap's
    version scan spends minutes per batch on banners it does not know), extrapolated
    linearly to all devices and labelled as such; the sweep alone against ``nmap -sT -T4``.

Prints a table per part; writes bench/out/discover-active-<count>.json (the misidentified
devices under ``accuracy.misidentified``). ``--save-observations`` keeps the accuracy
scan's observations as JSON; ``--refingerprint`` scores such a file again with the
current catalogue (for working on fingerprint rules without a lab).

Goals (issue 4): recall 100 % against the truth and against ``nmap -sT``; vendor and
device-type accuracy >= 97 %; the sweep no slower than ``nmap -sT -T4``; identification
at most half the time of ``nmap -sT -sV``. Only loopback addresses the lab itself binds
are ever scanned.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from defusedxml.ElementTree import parse as parse_xml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

from fleetwarden.adapters.discovery.active import PortPlan, parse_targets, scan_sync  # noqa: E402
from fleetwarden.adapters.discovery.active.targets import IOT_TOP_TCP, IOT_TOP_UDP  # noqa: E402
from fleetwarden.adapters.discovery.oui import mac_vendor  # noqa: E402
from fleetwarden.adapters.discovery.rules import load_catalogue  # noqa: E402
from fleetwarden.domain.discovery import (  # noqa: E402
    CertificateInfo,
    HostObservation,
    ServiceObservation,
    Source,
    TlsInfo,
)
from fleetwarden.domain.fingerprint import (  # noqa: E402
    Attribute,
    Fingerprint,
    canonical_vendor,
    fingerprint,
    vendor_key,
)

OUT = common.OUT
Port = tuple[str, int]
QUICK_COUNT = 100
QUICK_SV_SAMPLE = 10
ACCURACY_GOAL = 97.0
EVIDENCE_PER_ATTRIBUTE = 4


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK_COUNT} devices, nmap -sV on "
                             f"{QUICK_SV_SAMPLE}")
    parser.add_argument("--scenario", default="large-force")
    parser.add_argument("--bind", default="127.32.0.0/16")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--targets", choices=("bind", "devices"), default="bind",
                        help="what the port sweep covers (a): the whole bind network or "
                             "only the devices' addresses")
    parser.add_argument("--profile", default="fast", help="profile of the sweep (a)")
    parser.add_argument("--identify-profile", default="normal",
                        help="profile of the accuracy scan of every device (b)")
    parser.add_argument("--rate", type=int, default=None)
    parser.add_argument("--sv-sample", type=int, default=None,
                        help="devices nmap -sV scans (default 50; 10 with --quick)")
    parser.add_argument("--no-nmap", action="store_true")
    parser.add_argument("--no-sv", action="store_true")
    parser.add_argument("--udp", action="store_true",
                        help="UDP probes (SNMP, SSDP, mDNS, CoAP, BACnet) on the devices' own "
                             "addresses: in the accuracy scan and a UDP recall check")
    parser.add_argument("--accuracy-only", action="store_true",
                        help="only the accuracy scan (b); no sweep, no nmap")
    parser.add_argument("--save-observations", type=Path, metavar="FILE",
                        help="write the accuracy scan's observations and the truth here")
    parser.add_argument("--refingerprint", type=Path, metavar="FILE",
                        help="score a --save-observations file again; starts no lab")
    args = parser.parse_args(argv)
    if args.quick:
        args.count = QUICK_COUNT
    if args.sv_sample is None:
        args.sv_sample = QUICK_SV_SAMPLE if args.quick else 50

    if args.refingerprint:
        saved = json.loads(args.refingerprint.read_text())
        hosts = [_host_from_json(h) for h in saved["observations"]]
        accuracy = score(saved["truth"], hosts)
        print_accuracy(accuracy)
        return 0 if _meets_accuracy(accuracy) else 1

    parse_targets([args.bind])  # loopback only: refuses anything else before starting
    home = Path(tempfile.mkdtemp(prefix="fw-bench-discover-"))
    env = {**os.environ, "FLEETWARDEN_HOME": str(home)}
    env.pop("FLEETWARDEN_DB", None)
    cli = [sys.executable, "-m", "fleetwarden", "lab"]
    began = time.perf_counter()
    up = subprocess.run([*cli, "up", "--detach", "--scenario", args.scenario, "--count",
                         str(args.count), "--bind", args.bind, "--seed", str(args.seed),
                         "--ttl", "2h"], env=env, capture_output=True, text=True, check=False)
    if up.returncode != 0:
        print(up.stdout, up.stderr, file=sys.stderr)
        shutil.rmtree(home, ignore_errors=True)
        return 1
    lab_seconds = round(time.perf_counter() - began, 2)
    try:
        truth = json.loads((home / "lab" / "truth.json").read_text())
        report = run(args, truth)
        report["lab"]["up_seconds"] = lab_seconds
    finally:
        subprocess.run([*cli, "down"], env=env, capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)
    name = f"discover-active-{args.count}" + ("-accuracy" if args.accuracy_only else "")
    path = common.write_json(name, report)
    print_report(report)
    print(f"\nwrote {path}")
    return 0 if _meets_accuracy(report["accuracy"]) else 1


# ------------------------------------------------------------------------ the run
def run(args: argparse.Namespace, truth: list[dict[str, Any]]) -> dict[str, Any]:
    ports = sorted({s["port"] for d in truth for s in d["services"] if s["transport"] == "tcp"})
    names = {(d["ip"], s["port"]): s["service"] for d in truth for s in d["services"]
             if s["transport"] == "tcp"}
    expected = set(names)
    devices = sorted((d["ip"] for d in truth), key=_ip_key)
    targets = [args.bind] if args.targets == "bind" else devices
    plan = PortPlan(tuple(ports))
    report: dict[str, Any] = {
        "machine": {**common.machine(), "load_average_at_start": _load()},
        "lab": {"devices": len(truth), "scenario": args.scenario, "bind": args.bind,
                "seed": args.seed, "tcp_ports_in_truth": ",".join(map(str, ports)),
                "open_tcp_ports_in_truth": len(expected)},
    }

    # (b) accuracy: every device, the way a user scans (iot-top, identify profile, UDP)
    wanted = {s["port"] for d in truth for s in d["services"]}
    missing = sorted(wanted - set(IOT_TOP_TCP) - set(IOT_TOP_UDP))
    load = _load()
    began = time.perf_counter()
    hosts = scan_sync(devices, "iot-top", udp=args.udp, profile=args.identify_profile,
                      rate=args.rate)
    scan_seconds = round(time.perf_counter() - began, 2)
    accuracy = score(truth, hosts)
    accuracy["scan"] = {
        "targets": f"{len(devices)} device addresses", "ports": "iot-top"
        + (" (+UDP)" if args.udp else " (TCP only)"), "profile": args.identify_profile,
        "rate": args.rate or "profile default", "seconds": scan_seconds,
        "load_average_before": load, "truth_ports_not_in_iot_top": missing,
        "services_named_right": _named_right(truth, hosts),
    }
    report["accuracy"] = accuracy
    if args.save_observations:
        args.save_observations.write_text(json.dumps(
            {"truth": truth, "observations": [dataclasses.asdict(h) for h in hosts]}))
    if args.accuracy_only:
        return report

    # (a) ports: the truth's TCP ports over the targets
    sweep: dict[str, Any] = {
        "targets": " ".join(targets[:1]) + (f" (+{len(targets) - 1})" if len(targets) > 1
                                            else ""),
        "addresses": len(parse_targets(targets)), "tcp_ports": len(ports),
        "profile": args.profile, "rate": args.rate or "profile default",
    }
    report["ports"] = sweep
    sweep["load_average_before"] = _load()
    began = time.perf_counter()
    swept = scan_sync(targets, plan, profile=args.profile, rate=args.rate, identify=False)
    sweep["fleetwarden_sweep_seconds"] = round(time.perf_counter() - began, 2)
    sweep["fleetwarden_sweep_recall"] = _recall(_ports(swept), expected)

    began = time.perf_counter()
    identified = scan_sync(targets, plan, profile=args.profile, rate=args.rate)
    sweep["fleetwarden_identify_seconds"] = round(time.perf_counter() - began, 2)
    ours = _ports(identified)
    sweep["fleetwarden_identify_recall"] = _recall(ours, expected)
    sweep["fleetwarden_services_named_right"] = _named_right(truth, identified)
    sweep["fleetwarden_ports_with_product"] = sum(
        1 for h in identified for s in h.services if s.product)
    sweep["fleetwarden_max_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if args.udp:
        sweep.update(_udp(args, truth))

    speed: dict[str, Any] = {
        "fleetwarden_sweep_seconds": sweep["fleetwarden_sweep_seconds"],
        "fleetwarden_identify_seconds": sweep["fleetwarden_identify_seconds"],
        "fleetwarden_identify_all_devices_seconds": scan_seconds,
        "fleetwarden_identify_all_devices_scan": (
            f"{len(devices)} devices, iot-top ({len(IOT_TOP_TCP)} TCP"
            + (f" + {len(IOT_TOP_UDP)} UDP" if args.udp else "") + " ports), "
            f"profile {args.identify_profile}"),
    }
    report["speed"] = speed
    nmap = shutil.which("nmap")
    if nmap is None or args.no_nmap:
        speed["nmap"] = "skipped" if args.no_nmap else "not installed (scripts/lab-clients.sh)"
        return report
    port_list = ",".join(map(str, ports))
    sweep["nmap_load_average_before"] = _load()
    seconds, found, _ = _nmap(nmap, ["-sT", "-T4", "-Pn", "-n", "-p", port_list], targets)
    sweep["nmap_sT_seconds"] = seconds
    sweep["nmap_sT_recall"] = _recall(found, expected)
    sweep["fleetwarden_vs_nmap_sT"] = _recall(ours, found)
    sweep["nmap_sT_vs_fleetwarden"] = _recall(found, ours)
    speed["nmap_sT_seconds"] = seconds
    speed["sweep_speed_vs_nmap_sT"] = round(seconds / sweep["fleetwarden_sweep_seconds"], 2)

    if args.no_sv or args.sv_sample <= 0:
        return report
    step = max(1, len(devices) // args.sv_sample)
    sample = devices[::step][:args.sv_sample]
    in_sample = {k for k in expected if k[0] in set(sample)}
    sv: dict[str, Any] = {"devices": len(sample),
                          "chosen": f"every {step}th device by address (spread over sites)",
                          "tcp_ports": len(ports)}
    speed["sample"] = sv
    for profile in dict.fromkeys((args.profile, args.identify_profile)):
        began = time.perf_counter()
        ours_sample = scan_sync(sample, plan, profile=profile, rate=args.rate)
        sv[f"fleetwarden_identify_{profile}_seconds"] = round(time.perf_counter() - began, 2)
        sv[f"fleetwarden_{profile}_recall"] = _recall(_ports(ours_sample), in_sample)
        sv[f"fleetwarden_{profile}_ports_with_product"] = sum(
            1 for h in ours_sample for s in h.services if s.product)
    sv["nmap_load_average_before"] = _load()
    seconds, found, products = _nmap(
        nmap, ["-sT", "-sV", "-T4", "-Pn", "-n", "-p", port_list], sample)
    sv["nmap_sV_seconds"] = seconds
    sv["nmap_sV_recall"] = _recall(found, in_sample)
    sv["nmap_sV_ports_with_product"] = products
    ours_seconds = sv[f"fleetwarden_identify_{args.identify_profile}_seconds"]
    sv["identify_speed_vs_nmap_sV"] = round(seconds / max(ours_seconds, 0.01), 1)
    extrapolated = round(seconds * len(devices) / len(sample), 1)
    speed[f"nmap_sV_EXTRAPOLATED_{len(devices)}_devices_seconds"] = extrapolated
    speed["nmap_sV_extrapolation"] = (
        f"NOT MEASURED: {seconds} s for {len(sample)} devices x {len(devices)}/{len(sample)}"
        " (linear in devices)")
    speed["identify_all_devices_speed_vs_nmap_sV_extrapolated"] = round(
        extrapolated / max(scan_seconds, 0.01), 1)
    return report


# ------------------------------------------------------------------- (b) accuracy
def score(truth: list[dict[str, Any]], hosts: Iterable[HostObservation]) -> dict[str, Any]:
    """Per device: the concluded vendor and device type against the truth's."""
    catalogue = load_catalogue()
    aliases = catalogue.vendor_aliases
    by_ip: dict[str, list[HostObservation]] = defaultdict(list)
    for host in hosts:
        by_ip[host.ip or ""].append(host)
    began = time.perf_counter()
    prints = {d["ip"]: fingerprint(by_ip.get(d["ip"], []), catalogue.rules,
                                   mac_vendor=mac_vendor, vendor_aliases=aliases)
              for d in truth}
    fp_seconds = time.perf_counter() - began

    right: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    confusions: Counter[str] = Counter()
    wrong_devices = []
    for device in sorted(truth, key=lambda d: _ip_key(d["ip"])):
        fp = prints[device["ip"]]
        vendor_ok = _same_vendor(device["vendor"], fp.vendor, aliases)
        type_ok = (fp.device_type or "").casefold() == device["device_type"].casefold()
        model_ok = (fp.model or "").casefold() == (device.get("model") or "").casefold()
        both = vendor_ok and type_ok
        group = groups[f"{device['vendor']} / {device['device_type']}"]
        group.update(devices=1, vendor=vendor_ok, device_type=type_ok, both=both)
        right.update(vendor=vendor_ok, device_type=type_ok, both=both, model=model_ok)
        unknown.update(vendor=fp.vendor is None, device_type=fp.device_type is None)
        if both:
            continue
        if not vendor_ok:
            confusions[f"vendor {device['vendor']} -> {fp.vendor}"] += 1
        if not type_ok:
            confusions[f"type {device['device_type']} -> {fp.device_type}"] += 1
        wrong_devices.append(_misidentified(device, fp, by_ip.get(device["ip"], []),
                                            vendor_ok, type_ok))

    total = len(truth)
    return {
        "devices": total,
        "hosts_observed": len(by_ip),
        "vendor_accuracy_pct": _pct(right["vendor"], total),
        "device_type_accuracy_pct": _pct(right["device_type"], total),
        "both_right_pct": _pct(right["both"], total),
        "model_accuracy_pct": _pct(right["model"], total),
        "vendor_right": f"{right['vendor']}/{total} ({unknown['vendor']} left unknown)",
        "device_type_right": f"{right['device_type']}/{total} "
                             f"({unknown['device_type']} left unknown)",
        "goal_pct": ACCURACY_GOAL,
        "fingerprint_seconds": round(fp_seconds, 3),
        "fingerprint_ms_per_device": round(1000 * fp_seconds / max(total, 1), 3),
        "confusions": dict(confusions.most_common()),
        "by_truth": {name: {"devices": c["devices"], "vendor_right": c["vendor"],
                            "device_type_right": c["device_type"]}
                     for name, c in sorted(groups.items(), key=lambda kv: (
                         kv[1]["both"] - kv[1]["devices"], kv[0]))},
        "misidentified": wrong_devices,
    }


def _same_vendor(truth: str, concluded: str | None, aliases: Mapping[str, str]) -> bool:
    if not concluded:
        return False
    want = canonical_vendor(truth, aliases)[0] or truth
    got = canonical_vendor(concluded, aliases)[0] or concluded
    return vendor_key(want) == vendor_key(got)


def _misidentified(device: dict[str, Any], fp: Fingerprint, hosts: list[HostObservation],
                   vendor_ok: bool, type_ok: bool) -> dict[str, Any]:
    wrong = [a for a, ok in ((Attribute.VENDOR, vendor_ok),
                             (Attribute.DEVICE_TYPE, type_ok)) if not ok]
    evidence = []
    for attribute in wrong:
        ranked = sorted((e for e in fp.evidence if e.attribute is attribute),
                        key=lambda e: -e.certainty)
        evidence += [{"attribute": str(e.attribute), "value": e.value, "rule": e.rule,
                      "certainty": e.certainty, "source": e.source,
                      "matched": e.matched[:120]} for e in ranked[:EVIDENCE_PER_ATTRIBUTE]]
    return {
        "ip": device["ip"],
        "wrong": [str(a) for a in wrong],
        "truth": {"vendor": device["vendor"], "device_type": device["device_type"],
                  "model": device.get("model"), "family": device.get("family")},
        "concluded": {"vendor": fp.vendor, "device_type": fp.device_type, "model": fp.model,
                      "confidence": fp.confidence},
        "top_evidence": evidence,
        "truth_services": [f"{s['port']}/{s['transport']} {s['service']}"
                           for s in device["services"]],
        "observed": [_service_line(s) for h in hosts for s in h.services],
    }


def _service_line(service: ServiceObservation) -> str:
    said = "; ".join(f"{k}={v[:80]!r}" for k, v in service.fields.items())
    product = f" [{service.product}{' ' + service.version if service.version else ''}]" \
        if service.product else ""
    return f"{service.port}/{service.transport} {service.service}{product} {said}".strip()


def _meets_accuracy(accuracy: Mapping[str, Any]) -> bool:
    return bool(accuracy["vendor_accuracy_pct"] >= ACCURACY_GOAL
                and accuracy["device_type_accuracy_pct"] >= ACCURACY_GOAL)


# ------------------------------------------------------------------------ helpers
def _udp(args: argparse.Namespace, truth: list[dict[str, Any]]) -> dict[str, Any]:
    """UDP probes on every device address: found per service against the truth (SNMP
    answers only ``public``, so only devices with the snmp_public weakness count)."""
    udp = sorted({s["port"] for d in truth for s in d["services"] if s["transport"] == "udp"})
    began = time.perf_counter()
    hosts = scan_sync([d["ip"] for d in truth], PortPlan((), tuple(udp)), udp=True,
                      profile=args.profile, rate=args.rate)
    out: dict[str, Any] = {"udp_devices_seconds": round(time.perf_counter() - began, 2)}
    out.update(_udp_found(truth, hosts))
    return out


def _udp_found(truth: list[dict[str, Any]], hosts: list[HostObservation]) -> dict[str, str]:
    wanted = {(d["ip"], s["port"]): s["service"] for d in truth for s in d["services"]
              if s["transport"] == "udp" and (
                  s["service"] != "snmp" or "snmp_public" in d["weaknesses"])}
    seen = {(h.ip, s.port): s.service for h in hosts for s in h.services
            if s.transport == "udp"}
    out = {}
    for name in sorted(set(wanted.values())):
        keys = {k for k, v in wanted.items() if v == name}
        hits = sum(1 for k in keys if seen.get(k) == name)
        extra = sum(1 for k, v in seen.items() if v == name and k not in keys)
        out[f"udp_{name}_found"] = f"{hits}/{len(keys)}, +{extra} not expected"
    return out


def _named_right(truth: list[dict[str, Any]], hosts: list[HostObservation]) -> str:
    names = {(d["ip"], s["port"]): s["service"] for d in truth for s in d["services"]
             if s["transport"] == "tcp"}
    named = _names(hosts)
    right = sum(1 for key, name in names.items() if named.get(key) == name)
    wrong = Counter(f"{name}->{named.get(key)}" for key, name in names.items()
                    if named.get(key) != name)
    detail = f" (wrong: {dict(wrong.most_common(5))})" if wrong else ""
    return f"{right}/{len(names)}{detail}"


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


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 100.0


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _ip_key(ip: str) -> tuple[int, ...]:
    return tuple(int(part) for part in ip.split("."))


def _host_from_json(raw: dict[str, Any]) -> HostObservation:
    """A HostObservation back from ``dataclasses.asdict`` (for --refingerprint)."""
    services = []
    for s in raw.get("services", ()):
        tls = s.get("tls")
        if tls is not None:
            cert = tls.get("certificate")
            if cert is not None:
                cert = CertificateInfo(**{**cert, "sans": tuple(cert.get("sans", ()))})
            tls = TlsInfo(**{**tls, "certificate": cert})
        services.append(ServiceObservation(**{**s, "tls": tls}))
    return HostObservation(**{**raw, "source": Source(raw["source"]),
                              "services": tuple(services)})


# ----------------------------------------------------------------------- printing
def print_accuracy(acc: Mapping[str, Any]) -> None:
    rows = []
    if "scan" in acc:
        scan = acc["scan"]
        rows.append(("scan", f"{scan['targets']}, {scan['ports']}, profile {scan['profile']}: "
                             f"{scan['seconds']} s (load before {scan['load_average_before']})"))
        rows.append(("TCP services named right", scan["services_named_right"]))
    for key, label in (("vendor", "vendor"), ("device_type", "device type")):
        pct = acc[f"{key}_accuracy_pct"]
        verdict = "ok" if pct >= acc["goal_pct"] else "BELOW"
        rows.append((f"{label} accuracy", f"{pct:.2f} % = {acc[f'{key}_right']} "
                                          f"[{verdict} >= {acc['goal_pct']:.0f} %]"))
    rows.append(("both right", f"{acc['both_right_pct']:.2f} %"))
    rows.append(("model right (info)", f"{acc['model_accuracy_pct']:.2f} %"))
    rows.append(("fingerprinting", f"{acc['fingerprint_seconds']} s for {acc['devices']} "
                                   f"devices ({acc['fingerprint_ms_per_device']} ms each)"))
    for what, count in list(acc["confusions"].items())[:10]:
        rows.append(("  misidentified", f"{count:>4} x {what}"))
    common.table("(b) identification accuracy per device vs lab truth", rows)
    wrong = acc["misidentified"]
    if wrong:
        print(f"  {len(wrong)} misidentified device(s), e.g. (all in the JSON):")
    for item in wrong[:8]:
        top = item["top_evidence"][0] if item["top_evidence"] else None
        why = f"{top['rule']} on {top['source']} ({top['matched']!r})" if top else "no evidence"
        print(f"    {item['ip']:<15} truth {item['truth']['vendor']} / "
              f"{item['truth']['device_type']}, concluded {item['concluded']['vendor']} / "
              f"{item['concluded']['device_type']}: {why}")


def print_report(report: Mapping[str, Any]) -> None:
    lab = report["lab"]
    print(f"\nlab: {lab['devices']} devices ({lab['scenario']}, {lab['bind']}), "
          f"{lab['open_tcp_ports_in_truth']} open TCP ports on {lab['tcp_ports_in_truth']}; "
          f"load average at start {report['machine']['load_average_at_start']}")
    if "ports" in report:
        p = report["ports"]
        rows = [("targets", f"{p['targets']} = {p['addresses']:,} addresses x "
                            f"{p['tcp_ports']} TCP ports, profile {p['profile']}"),
                ("fleetwarden sweep", f"{p['fleetwarden_sweep_recall']} of the truth"),
                ("fleetwarden + identify", f"{p['fleetwarden_identify_recall']} of the truth; "
                                           f"named right {p['fleetwarden_services_named_right']}")]
        if "nmap_sT_recall" in p:
            rows += [("nmap -sT", f"{p['nmap_sT_recall']} of the truth"),
                     ("fleetwarden vs nmap -sT", p["fleetwarden_vs_nmap_sT"])]
        rows += [(k.replace("_", " "), v) for k, v in p.items() if k.startswith("udp_")]
        common.table("(a) open-port recall", rows)
    print_accuracy(report["accuracy"])
    if "speed" in report:
        s = report["speed"]
        rows = [("fleetwarden sweep only", f"{s['fleetwarden_sweep_seconds']} s")]
        if "nmap_sT_seconds" in s:
            rows.append(("nmap -sT -T4 (same)", f"{s['nmap_sT_seconds']} s -> fleetwarden "
                                                f"{s['sweep_speed_vs_nmap_sT']}x as fast"))
        rows.append(("fleetwarden sweep + identify", f"{s['fleetwarden_identify_seconds']} s "
                                                     "(same targets and ports)"))
        rows.append(("fleetwarden identify ALL",
                     f"{s['fleetwarden_identify_all_devices_seconds']} s "
                     f"({s['fleetwarden_identify_all_devices_scan']})"))
        sv = s.get("sample")
        if sv:
            for key, value in sv.items():
                if key.startswith("fleetwarden_identify_"):
                    profile = key.removeprefix("fleetwarden_identify_").removesuffix("_seconds")
                    rows.append((f"sample of {sv['devices']}: fleetwarden ({profile})",
                                 f"{value} s, products named on "
                                 f"{sv[f'fleetwarden_{profile}_ports_with_product']} ports"))
            rows.append((f"sample of {sv['devices']}: nmap -sT -sV -T4",
                         f"{sv['nmap_sV_seconds']} s, products named on "
                         f"{sv['nmap_sV_ports_with_product']} ports -> fleetwarden "
                         f"{sv['identify_speed_vs_nmap_sV']}x as fast"))
            key = next(k for k in s if k.startswith("nmap_sV_EXTRAPOLATED"))
            rows.append((f"nmap -sV, {lab['devices']} devices", f"~{s[key]} s EXTRAPOLATED "
                         f"({s['nmap_sV_extrapolation']}) -> fleetwarden identify ALL "
                         f"{s['identify_all_devices_speed_vs_nmap_sV_extrapolated']}x as fast"))
        common.table("(c) wall time", rows)


if __name__ == "__main__":
    sys.exit(main())
