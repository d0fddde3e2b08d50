"""Dashboard benchmark (issue 7): the overview, the devices table and a device page over a
large register, served by the real app.

    .venv/bin/python bench/bench_web.py [--count 1000000 | --quick] [--requests 30]
                                        [--workdir DIR] [--db POSTGRES_URL] [--keep]

Builds a database (or reuses the one a previous run left in ``--workdir``: each stage
is recorded in ``DIR/state.json`` and not done again):

1. the demo registry and ``--count`` devices (``gen_devices.py`` CSV, imported with the
   real CLI), then ANALYZE;
2. findings: a small NVD feed (CVE-2022-0778 for OpenSSL and a synthetic KEV entry for
   BusyBox < 1.32), KEV and EPSS, and a firmware SBOM for each of the ``--images`` most
   common images (every second one with a vulnerable OpenSSL, every fifth with a
   vulnerable BusyBox), imported through the services (which match them);
3. compliance results for ``--assessed`` devices (five checks each, some failing) and
   ``--unregistered`` discovered hosts in the queue, written through the repositories;
4. the daily summary snapshot, taken by ``services.overview.daily_snapshot`` (what the
   worker of ``serve`` does; timed), and ``--history`` earlier days made from it, so
   the trend charts have points.

Then it starts ``fleetwarden serve`` on 127.0.0.1 (worker included), signs in as a web
user (password + TOTP), waits for the overview's first figures (its background
computation, timed by the page itself) and measures, over one keep-alive connection,
``--requests`` requests after 3 warm-ups each: wall time at the client and the
server's ``Server-Timing: app;dur=`` for

* ``/ui/`` (overview, warm),
* ``/ui/devices`` (first page) and two filtered, sorted pages (cameras in service at
  the site with the most cameras, by name and by last seen, newest first),
* ``/ui/devices/<id>`` (a device with findings).

A page that answers 404 (not built yet) is reported as such. Prints a table and writes
bench/out/web-<count>.json. Goals: overview <= 300 ms, device table page <= 150 ms,
device page <= 150 ms (server time, p95).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import re
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

GOALS_MS = {"overview": 300.0, "devices": 150.0, "devices_filtered": 150.0,
            "devices_by_last_seen": 150.0, "device": 150.0}
PASSWORD = secrets.token_urlsafe(24)  # set anew for the web user each run
DATA = common.ROOT / "tests" / "integration" / "feeds" / "data"
KEV_CVE = "CVE-2024-90001"
_TIMING = re.compile(r"app;dur=([0-9.]+)")
_COMPUTED = re.compile(r"computed in ([0-9.]+) s")


# ------------------------------------------------------------------------- building
class Stages:
    """What a work directory already holds (``state.json``), so a rerun skips it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}

    def done(self, stage: str) -> bool:
        return stage in self.data.get("stages", {})

    def mark(self, stage: str, figures: dict[str, Any]) -> None:
        self.data.setdefault("stages", {})[stage] = figures
        self.path.write_text(json.dumps(self.data, indent=2, default=str))


def _app(db: common.BenchDb) -> Any:
    from fleetwarden import bootstrap
    from fleetwarden.settings import Settings

    return bootstrap.build(Settings(home=db.home, db_url=db.url))


def _admin(app: Any, db: common.BenchDb) -> Any:
    from fleetwarden.services import accounts

    return accounts.authenticate(app.platform, db.token)


def build_register(db: common.BenchDb, work: Path, count: int) -> dict[str, Any]:
    common.prepare(db)
    csv_path = work / "devices.csv"
    gen = common.generate_csv(csv_path, count)
    t0 = time.perf_counter()
    subprocess.run(db.cli("devices", "import", str(csv_path)), env=db.env(), check=True,
                   capture_output=True)
    imported = time.perf_counter() - t0
    csv_path.unlink()
    common.analyse(db)
    return {"generate_seconds": gen["seconds"], "import_seconds": round(imported, 1),
            "token": db.token}


def _images(app: Any, n: int) -> list[tuple[str, str, str, int]]:
    """(vendor, model, firmware, devices) of the ``n`` most common firmware images."""
    from sqlalchemy import text

    with app.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT m.vendor, m.model, d.firmware_version, count(*) AS n FROM devices d "
            "JOIN device_models m ON m.id = d.model_id WHERE d.firmware_version IS NOT NULL "
            "AND d.firmware_version <> '' GROUP BY m.vendor, m.model, d.firmware_version "
            "ORDER BY n DESC LIMIT :n"), {"n": n}).all()
    return [(str(v), str(m), str(f), int(c)) for v, m, f, c in rows]


def _feeds(work: Path) -> list[str]:
    """NVD (OpenSSL's CVE-2022-0778 and a synthetic BusyBox CVE), KEV naming the
    synthetic one, and EPSS for both."""
    openssl = json.loads((DATA / "nvd-CVE-2022-0778.json").read_text())
    busybox = copy.deepcopy(openssl)
    busybox["id"] = KEV_CVE
    busybox["configurations"] = [{"nodes": [{"operator": "OR", "negate": False, "cpeMatch": [{
        "vulnerable": True, "criteria": "cpe:2.3:a:busybox:busybox:*:*:*:*:*:*:*:*",
        "versionEndExcluding": "1.32.0",
        "matchCriteriaId": "B0B0B0B0-0001-4000-8000-000000000001"}]}]}]
    nvd = work / "nvd.json"
    nvd.write_text(json.dumps({
        "resultsPerPage": 2, "startIndex": 0, "totalResults": 2, "format": "NVD_CVE",
        "version": "2.0", "timestamp": "2026-11-20T03:00:00.000",
        "vulnerabilities": [{"cve": openssl}, {"cve": busybox}]}))
    kev = json.loads((DATA / "kev.json").read_text())
    entry = copy.deepcopy(kev["vulnerabilities"][0])
    entry.update(cveID=KEV_CVE, vendorProject="BusyBox", product="BusyBox",
                 vulnerabilityName="Benchmark: BusyBox command injection")
    kev["vulnerabilities"] = [entry]
    kev["count"] = 1
    kev_path = work / "kev.json"
    kev_path.write_text(json.dumps(kev))
    epss = work / "epss.csv"
    epss.write_text("#model_version:v2025.03.14,score_date:2026-11-20T00:00:00+0000\n"
                    f"cve,epss,percentile\nCVE-2022-0778,0.0123,0.80\n{KEV_CVE},0.71,0.99\n")
    return [str(nvd), str(kev_path), str(epss)]


def _sbom(path: Path, i: int) -> Path:
    ssl = "1.0.2k" if i % 2 == 0 else "3.0.13"
    box = "1.31.1" if i % 5 == 0 else "1.36.1"
    components = [
        {"type": "library", "name": "openssl", "version": ssl,
         "purl": f"pkg:generic/openssl@{ssl}",
         "cpe": f"cpe:2.3:a:openssl:openssl:{ssl}:*:*:*:*:*:*:*"},
        {"type": "library", "name": "busybox", "version": box,
         "purl": f"pkg:generic/busybox@{box}",
         "cpe": f"cpe:2.3:a:busybox:busybox:{box}:*:*:*:*:*:*:*"},
    ]
    path.write_text(json.dumps({
        "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
        "serialNumber": f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
        "metadata": {"component": {"type": "firmware", "name": "firmware"}},
        "components": components}))
    return path


def build_findings(db: common.BenchDb, work: Path, images: int) -> dict[str, Any]:
    from fleetwarden.services import feeds, software

    app = _app(db)
    try:
        p, admin = app.platform, _admin(app, db)
        t0 = time.perf_counter()
        feeds.import_feeds(p, admin, _feeds(work))
        chosen = _images(app, images)
        for i, (vendor, model, firmware, _) in enumerate(chosen):
            software.import_sbom(p, admin, str(_sbom(work / f"sbom-{i}.cdx.json", i)),
                                 model=f"{vendor}/{model}", firmware=firmware)
        seconds = time.perf_counter() - t0
    finally:
        app.engine.dispose()
    return {"images": len(chosen), "devices_on_them": sum(c for *_, c in chosen),
            "seconds": round(seconds, 1)}


def build_results(db: common.BenchDb, assessed: int, unregistered: int) -> dict[str, Any]:
    """Stored check results and queued hosts, as assessments and scans would leave them
    (written through the repositories: a real assessment needs the devices on a lab)."""
    from sqlalchemy import text

    from fleetwarden.domain.compliance.records import NewResult
    from fleetwarden.domain.compliance.results import Severity, Status
    from fleetwarden.domain.inventory import DiscoveredHost
    from fleetwarden.domain.reconcile import HostStatus

    app = _app(db)
    rng = random.Random(7)
    checks = (("telnet-open", Severity.HIGH), ("snmp-public", Severity.MEDIUM),
              ("cert-self-signed", Severity.LOW), ("default-credentials", Severity.CRITICAL),
              ("sbom-missing", Severity.MEDIUM))
    try:
        p, admin = app.platform, _admin(app, db)
        with app.engine.connect() as conn:
            ids = [int(r[0]) for r in conn.execute(text(
                "SELECT id FROM devices WHERE lifecycle_state = 'in_service' ORDER BY id "
                "LIMIT :n"), {"n": assessed})]
        now = p.now()
        t0 = time.perf_counter()
        with p.uow(admin.tenant, True) as uow:
            aid = uow.compliance.add_assessment(actor="bench", targets=["bench"], options={},
                                                tool="fleetwarden bench", started_at=now)
            for start in range(0, len(ids), 5000):
                chunk = ids[start:start + 5000]
                results = [NewResult(did, None, None, check,
                                     Status.FAIL if rng.random() < 0.15 else Status.PASS,
                                     severity, "benchmark result", {})
                           for did in chunk for check, severity in checks]
                uow.compliance.replace_results(device_ids=chunk, host_ids=[],
                                               results=results, assessment_id=aid,
                                               tool="fleetwarden bench", at=now)
            uow.compliance.finish_assessment(aid, status="finished", finished_at=now,
                                             summary={"devices": len(ids)})
            tid = admin.tenant.id or 0
            for i in range(unregistered):
                uow.discovery.add_host(DiscoveredHost(
                    id=None, tenant_id=tid, status=HostStatus.UNREGISTERED, device_id=None,
                    ip=f"127.{200 + i // 65536}.{i // 256 % 256}.{i % 256}",
                    vendor=None, certificates=(), services=(), sources=("active",),
                    first_seen=now, last_seen=now))
            uow.commit()
        seconds = time.perf_counter() - t0
    finally:
        app.engine.dispose()
    return {"devices_assessed": len(ids), "results": len(ids) * len(checks),
            "unregistered_hosts": unregistered, "seconds": round(seconds, 1)}


def build_snapshot(db: common.BenchDb, history: int) -> dict[str, Any]:
    """Today's snapshot as the worker takes it (timed), and ``history`` earlier days
    derived from it so the trends have points."""
    from fleetwarden.services import overview

    app = _app(db)
    try:
        p, admin = app.platform, _admin(app, db)
        t0 = time.perf_counter()
        overview.daily_snapshot(p, admin.tenant)
        seconds = time.perf_counter() - t0
        today = p.now().date()
        rng = random.Random(11)
        with p.uow(admin.tenant, True) as uow:
            ((_, values),) = uow.compliance.snapshots(today)
            for back in range(history, 0, -1):
                drift = 1 + back / (2 * history)
                past = {k: round(max(0.0, v - back * 0.05 * rng.random()), 1)
                        if k.startswith("compliance_") else
                        float(round(v * drift * rng.uniform(0.97, 1.03)))
                        if k != "devices_total" else v
                        for k, v in values.items()}
                uow.compliance.put_snapshot(today - timedelta(days=back), past, p.now())
            uow.commit()
    finally:
        app.engine.dispose()
    return {"daily_snapshot_seconds": round(seconds, 1), "history_days": history,
            "taken_for": str(p.now().date())}


# ------------------------------------------------------------------------ measuring
def web_user(db: common.BenchDb) -> str:
    """Give the tenant's admin a password and a TOTP secret; returns the secret."""
    from fleetwarden.services import signin

    app = _app(db)
    try:
        admin = _admin(app, db)
        signin.set_password(app.platform, admin, common.ADMIN, PASSWORD)
        return str(signin.enrol_totp(app.platform, admin, common.ADMIN).secret)
    finally:
        app.engine.dispose()


def sign_in(client: Any, secret: str) -> None:
    from fleetwarden.domain import totp

    form = client.get("/ui/login")
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    if form.status_code != 200 or not found:
        raise RuntimeError(f"sign-in form: HTTP {form.status_code}")
    code = totp.code_at(secret, datetime.now(UTC))
    r = client.post("/ui/login", data={"email": common.ADMIN, "password": PASSWORD,
                                       "code": code, "csrf": found.group(1), "next": "/ui/"})
    if r.status_code != 303:
        raise RuntimeError(f"sign-in refused: HTTP {r.status_code}")


def _targets(db: common.BenchDb, filtered: str, by_seen: str) -> dict[str, str]:
    """The paths measured: the busiest site's id for the filter, a device with findings."""
    from sqlalchemy import text

    app = _app(db)
    try:
        with app.engine.connect() as conn:
            site_id = conn.execute(text(
                "SELECT site_id FROM devices WHERE device_type = 'cctv_camera' AND site_id "
                "IS NOT NULL GROUP BY site_id ORDER BY count(*) DESC LIMIT 1")).scalar()
            device = conn.execute(text(
                "SELECT d.id FROM devices d JOIN firmware_images f ON f.model_id = d.model_id"
                " AND f.version = d.firmware_version JOIN vuln_matches m ON m.firmware_id = "
                "f.id ORDER BY d.id LIMIT 1")).scalar()
            if device is None:
                device = conn.execute(text("SELECT min(id) FROM devices")).scalar()
    finally:
        app.engine.dispose()
    return {"overview": "/ui/", "devices": "/ui/devices",
            "devices_filtered": "/ui/devices?" + filtered.format(site=site_id),
            "devices_by_last_seen": "/ui/devices?" + by_seen.format(site=site_id),
            "device": f"/ui/devices/{device}"}


def _first_figures(client: Any, limit: float = 900) -> dict[str, Any]:
    """Request the overview until its first figures are there (the background run)."""
    t0 = time.perf_counter()
    first = client.get("/ui/")
    first_ms = (time.perf_counter() - t0) * 1000
    while True:
        r = client.get("/ui/")
        found = _COMPUTED.search(r.text)
        if r.status_code == 200 and found:
            return {"first_request_ms": round(first_ms, 1),
                    "first_request_status": first.status_code,
                    "until_figures_s": round(time.perf_counter() - t0, 1),
                    "computed_in_s": float(found.group(1))}
        if r.status_code != 200 or time.perf_counter() - t0 > limit:
            raise RuntimeError(f"overview: HTTP {r.status_code} after "
                               f"{time.perf_counter() - t0:.0f} s")
        time.sleep(1)


def measure_path(client: Any, path: str, n: int) -> dict[str, Any]:
    probe = client.get(path)
    if probe.status_code != 200:
        return {"path": path, "status": probe.status_code,
                "note": "page not present (404)" if probe.status_code == 404
                else probe.text[:300]}
    for _ in range(3):
        client.get(path)
    wall, server, sizes = [], [], []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path)
        wall.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {r.status_code}")
        found = _TIMING.search(r.headers.get("server-timing", ""))
        if found:
            server.append(float(found.group(1)))
        sizes.append(len(r.content))
    return {"path": path, "status": 200, "wall_ms": common.percentiles(wall),
            "server_ms": common.percentiles(server) if server else None,
            "bytes": max(sizes)}


def measure(db: common.BenchDb, work: Path, requests: int, filtered: str, by_seen: str
            ) -> dict[str, Any]:
    import httpx

    secret = web_user(db)
    targets = _targets(db, filtered, by_seen)
    out: dict[str, Any] = {"targets": targets, "load_average_before": os.getloadavg()}
    with common.api_server(db, work / "serve.log") as base, \
            httpx.Client(base_url=base, timeout=120) as client:
        sign_in(client, secret)
        out["overview_first"] = _first_figures(client)
        out["pages"] = {name: measure_path(client, path, requests)
                        for name, path in targets.items()}
    return out


# ------------------------------------------------------------------------ reporting
def report(result: dict[str, Any]) -> None:
    first = result["measured"]["overview_first"]
    rows = [("devices", f"{result['count']:,}"),
            ("overview, first figures", f"{first['until_figures_s']} s after the first "
             f"request (computed in {first['computed_in_s']} s in the background; that "
             f"request took {first['first_request_ms']:.0f} ms)")]
    for stage, figures in result["build"].items():
        rows.append((f"build: {stage}", ", ".join(f"{k} {v}" for k, v in figures.items()
                                                  if k != "token")))
    rows.append(("load average before", " ".join(
        f"{x:.1f}" for x in result["measured"]["load_average_before"])))
    common.table(f"dashboard over {result['count']:,} devices ({result['backend']})", rows)
    print(f"\n  {'page':22} {'server p50':>10} {'p95':>8} {'wall p50':>9} {'p95':>8} "
          f"{'goal':>6}  path")
    for name, r in result["measured"]["pages"].items():
        goal = GOALS_MS.get(name)
        if r["status"] != 200:
            print(f"  {name:22} {'HTTP ' + str(r['status']):>10}  {r.get('note', '')}  "
                  f"{r['path']}")
            continue
        s, w = r["server_ms"] or {}, r["wall_ms"]
        met = "met" if s and goal and s["p95"] <= goal else "MISSED"
        print(f"  {name:22} {s.get('p50', 0):10.1f} {s.get('p95', 0):8.1f} "
              f"{w['p50']:9.1f} {w['p95']:8.1f} {goal:6.0f}  {met}  {r['path']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--count", type=int, default=common.DEFAULT_COUNT)
    ap.add_argument("--quick", action="store_true", help=f"{common.QUICK_COUNT:,} devices")
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--images", type=int, default=40,
                    help="firmware images given an SBOM (the most common first)")
    ap.add_argument("--assessed", type=int, default=20_000,
                    help="devices given compliance results")
    ap.add_argument("--unregistered", type=int, default=5_000)
    ap.add_argument("--history", type=int, default=89, help="earlier daily snapshots")
    ap.add_argument("--filtered", default="type=cctv_camera&site={site}&state=in_service"
                    "&sort=name", help="query of the filtered devices page")
    ap.add_argument("--by-seen", default="type=cctv_camera&site={site}&state=in_service"
                    "&sort=-last_seen", help="query of the second filtered devices page")
    ap.add_argument("--workdir", type=Path,
                    help="keep the database here and reuse what an earlier run built")
    ap.add_argument("--db", help="PostgreSQL server URL (default: SQLite)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    if args.quick:
        args.count = common.QUICK_COUNT
    args.db = common.pg_url_from_env(args.db)
    if args.workdir and args.db:
        ap.error("--workdir reuses a SQLite database; not with --db")

    def run(work: Path, db: common.BenchDb) -> dict[str, Any]:
        stages = Stages(work / "state.json")
        if stages.data.get("count", args.count) != args.count:
            raise SystemExit(f"{work} holds {stages.data['count']:,} devices, not "
                             f"{args.count:,}: use another --workdir")
        stages.data["count"] = args.count
        steps = (("register", lambda: build_register(db, work, args.count)),
                 ("findings", lambda: build_findings(db, work, args.images)),
                 ("results", lambda: build_results(db, args.assessed, args.unregistered)),
                 ("snapshot", lambda: build_snapshot(db, args.history)))
        for stage, step in steps:
            if not stages.done(stage):
                print(f"building: {stage} ...", file=sys.stderr)
                stages.mark(stage, step())
            db.token = stages.data["stages"]["register"]["token"]
        print("measuring ...", file=sys.stderr)
        return {"backend": db.backend, "machine": common.machine(), "count": args.count,
                "requests": args.requests, "goals_ms": GOALS_MS,
                "build": stages.data["stages"],
                "measured": measure(db, work, args.requests, args.filtered, args.by_seen)}

    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        (args.workdir / "home").mkdir(exist_ok=True)
        db = common.BenchDb(f"sqlite:///{args.workdir / 'bench.db'}", "sqlite",
                            args.workdir / "home")
        result = run(args.workdir, db)
    else:
        with common.workdir(args.keep) as work, common.fresh_database(args.db, work) as db:
            result = run(work, db)
    for figures in result["build"].values():
        figures.pop("token", None)
    report(result)
    path = common.write_json(f"web-{args.count}", result)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
