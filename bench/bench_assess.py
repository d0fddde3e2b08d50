"""Compliance assessment benchmark: every check against a 1,000-device lab, scored by truth.

    .venv/bin/python bench/bench_assess.py [--count 1000] [--scenario large-force]
        [--profile fast] [--seed 7] [--no-credentials]

In a throw-away FLEETWARDEN_HOME: the demo register merged with the lab plan (registered
lab devices filed like ``fleetwarden demo`` does, shadow devices left out), the lab started
with the real CLI machinery, credential testing authorised on every segment, then ONE
``assess`` of the register's segments (their CIDRs as targets, as a user assesses the
networks they run; every lab device sits on one) with all checks, TLS scans included.
Each planted weakness of the truth (``domain.lab.DETECTED_BY``) must give a FAIL of its
check on that device's address (recall), and no device without the weakness may FAIL
that check (false FAIL). Registered devices are matched by IP; shadow devices by their
host's IP.

Goals (issue 6): recall 100 %, no false FAIL, the assessment of 1,000 devices within
5 minutes. Writes bench/out/assess-<count>.json. Only loopback addresses the lab binds
are probed.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

from fleetwarden.adapters.demo.estate import generate_demo_estate  # noqa: E402
from fleetwarden.adapters.lab import control as lab_control  # noqa: E402
from fleetwarden.adapters.lab.register import merge_lab_into_estate  # noqa: E402
from fleetwarden.domain.lab import DETECTED_BY  # noqa: E402
from fleetwarden.ports import ScanOptions  # noqa: E402
from fleetwarden.services import accounts, assessment, attestations, demo  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--scenario", default="large-force")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", default="fast")
    ap.add_argument("--no-credentials", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fw-bench-assess-") as tmp:
        home = Path(tmp)
        os.environ["FLEETWARDEN_HOME"] = str(home)
        from fleetwarden import bootstrap
        from fleetwarden.adapters.db.engine import make_engine
        from fleetwarden.adapters.db.migrate import upgrade
        from fleetwarden.settings import load_settings

        settings = load_settings(home=str(home))
        upgrade(make_engine(settings.db_url))
        app = bootstrap.build(settings)
        platform = app.platform
        accounts.create_tenant(platform, "bench", common.TENANT, common.ADMIN)
        tenant = accounts.resolve_tenant(platform, common.TENANT)
        principal = accounts.local_principal(tenant, "bench")
        options = lab_control.LabOptions(scenario=args.scenario, count=args.count,
                                         seed=args.seed)
        plan = lab_control.make_plan(options)
        estate = merge_lab_into_estate(generate_demo_estate(seed=args.seed, device_count=0),
                                       plan)
        demo.seed(platform, principal, estate)
        with platform.uow(principal.tenant, False) as uow:
            registered = uow.discovery.segment_cidrs()
        segs = sorted(registered)
        cidrs = sorted({c for _, seg_cidrs in registered.values() for c in seg_cidrs})
        tenant = attestations.set_assess_settings(
            platform, principal, allow_segments=() if args.no_credentials else segs)
        principal = accounts.local_principal(tenant, "bench")
        t0 = time.perf_counter()
        lab_control.start_detached(home, options)
        ready = time.perf_counter() - t0
        try:
            truth = _truth(home)
            phases: dict[str, float] = {}
            last = [time.perf_counter(), ""]

            def progress(phase: str, done: int, total: int) -> None:
                now = time.perf_counter()
                if phase != last[1]:
                    last[0], last[1] = now, phase
                phases[phase] = now - last[0]

            t1 = time.perf_counter()
            run = assessment.assess(platform, principal, assessment.AssessRequest(
                targets=tuple(cidrs),
                options=ScanOptions(udp=True, profile=args.profile), allow_outside_scope=True),
                progress=progress)
            elapsed = time.perf_counter() - t1
        finally:
            lab_control.stop(home)
        score = _score(truth, run.findings)
    out = {"count": args.count, "scenario": args.scenario, "profile": args.profile,
           "targets": len(cidrs), "addresses": sum(_size(c) for c in cidrs),
           "lab_ready_s": round(ready, 1), "assess_s": round(elapsed, 1),
           "phases_s": {k: round(v, 1) for k, v in phases.items()},
           "devices": run.devices, "unregistered": run.unregistered,
           "results": dict(run.counts), **score}
    common.OUT.mkdir(exist_ok=True)
    path = common.OUT / f"assess-{args.count}.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"assessment of {args.count} lab devices ({args.scenario}, {args.profile}): "
          f"{elapsed:.1f} s (lab ready in {ready:.1f} s); {run.devices} registered, "
          f"{run.unregistered} unregistered; results {dict(run.counts)}")
    print(f"{'weakness':28} {'planted':>8} {'found':>8} {'recall':>8} {'false FAIL':>11}")
    for w, row in score["per_weakness"].items():
        print(f"{w:28} {row['planted']:8} {row['found']:8} {row['recall']:8.1%} "
              f"{row['false_fail']:11}")
    print(f"overall recall {score['recall']:.2%}, false FAILs {score['false_fail']}; "
          f"written {path}")


def _size(cidr: str) -> int:
    return ipaddress.ip_network(cidr, strict=False).num_addresses


def _truth(home: Path) -> list[dict[str, Any]]:
    import subprocess

    out = subprocess.run([common.FLEETWARDEN, "lab", "truth", "--format", "json"],
                         env={**os.environ, "FLEETWARDEN_HOME": str(home)}, check=True,
                         capture_output=True, text=True).stdout
    return list(json.loads(out))


def _score(truth: list[dict[str, Any]], findings: list[dict[str, Any]]) -> dict[str, Any]:
    fails: dict[str, set[str]] = defaultdict(set)
    for f in findings:
        if f["status"] == "FAIL" and f.get("ip"):
            fails[f["check_id"]].add(f["ip"])
    per: dict[str, dict[str, Any]] = {}
    missed: list[dict[str, str]] = []
    false: list[dict[str, str]] = []
    planted_total = found_total = false_total = 0
    for weakness, check in DETECTED_BY.items():
        having = {d["ip"] for d in truth if weakness.value in d["weaknesses"]}
        failing = fails.get(check, set())
        lab_ips = {d["ip"] for d in truth}
        found = having & failing
        wrong = (failing & lab_ips) - having
        per[weakness.value] = {"check": check, "planted": len(having), "found": len(found),
                               "recall": len(found) / len(having) if having else 1.0,
                               "false_fail": len(wrong)}
        missed += [{"ip": ip, "weakness": weakness.value} for ip in sorted(having - found)]
        false += [{"ip": ip, "check": check} for ip in sorted(wrong)]
        planted_total += len(having)
        found_total += len(found)
        false_total += len(wrong)
    counts = Counter(f["status"] for f in findings)
    return {"per_weakness": per, "recall": found_total / planted_total if planted_total else 1,
            "false_fail": false_total, "missed": missed[:200], "false": false[:200],
            "statuses": dict(counts)}


if __name__ == "__main__":
    main()
