"""Vulnerability findings at estate scale (issue 5, "Performance").

    .venv/bin/python bench/bench_vulns.py [--cves 300000] [--images 500] [--components 60]
                                          [--devices 1000000] [--quick] [--db POSTGRES_URL]
                                          [--data DIR] [--keep]

Generates data of real shape with ``bench/gen_vulns.py`` (or reuses ``--data``), files
the registry (sites, segments, models with their hardware CPE), imports the devices with
the real CLI, the feeds (NVD, KEV, EPSS) and one firmware SBOM per image through the
services, then measures:

- full re-match of every image against every candidate (target <= 60 s, aim 15 s);
- a feed import of 1,000 new or modified CVEs, findings updated (target <= 2 s);
- ``vulns list --kev`` first page (100 findings, most urgent first), p50/p95 over 20
  runs, and the same for ``--priority P1`` and one device's findings.

Writes bench/out/vulns-<backend>.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import gen_vulns  # noqa: E402

REMATCH_TARGET, REMATCH_AIM, DELTA_TARGET, LIST_TARGET_MS = 60.0, 15.0, 2.0, 100.0


def _app(db: common.BenchDb) -> Any:
    from fleetwarden import bootstrap
    from fleetwarden.settings import Settings

    return bootstrap.build(Settings(home=db.home, db_url=db.url))


def _register(db: common.BenchDb, data: Path) -> None:
    """Schema, tenant, and the generated sites, segments and models (with hardware CPEs)."""
    from fleetwarden.adapters.db.engine import make_engine
    from fleetwarden.adapters.db.migrate import upgrade
    from fleetwarden.domain.records import RecordKind
    from fleetwarden.services import accounts, registry

    engine = make_engine(db.url)
    upgrade(engine)
    engine.dispose()
    app = _app(db)
    try:
        issued = accounts.create_tenant(app.platform, "bench", common.TENANT, common.ADMIN)
        db.token = issued.token
        admin = accounts.authenticate(app.platform, issued.token)
        records = json.loads((data / "records.json").read_text())
        with (data / "images.csv").open(encoding="utf-8") as fh:
            hardware = {(r["vendor"], r["model"]): r["hardware_cpe"] for r in csv.DictReader(fh)}
        for raw in records["sites"]:
            registry.create(app.platform, admin, RecordKind.SITE, raw)
        for raw in records["segments"]:
            registry.create(app.platform, admin, RecordKind.SEGMENT, raw)
        for raw in records["models"]:
            cpe = hardware.get((raw["vendor"], raw["model"]))
            registry.create(app.platform, admin, RecordKind.MODEL,
                            {**raw, **({"cpe": cpe} if cpe else {})})
    finally:
        app.engine.dispose()


def _timed(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def _count_findings(app: Any) -> int:
    """Device x vulnerability findings, counted per image (the report would join them all)."""
    from sqlalchemy import text

    with app.engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT coalesce(sum(m.n * d.n), 0) FROM "
            "(SELECT firmware_id, count(*) AS n FROM vuln_matches WHERE fixed_at IS NULL "
            " AND firmware_id IS NOT NULL GROUP BY firmware_id) m JOIN firmware_images f "
            "ON f.id = m.firmware_id JOIN (SELECT model_id, firmware_version, count(*) AS n "
            "FROM devices GROUP BY model_id, firmware_version) d ON d.model_id = f.model_id "
            "AND d.firmware_version = f.version")).scalar_one())


def _list_ms(platform: Any, admin: Any, rounds: int, **query: Any) -> dict[str, float]:
    from fleetwarden.domain.findings import FindingQuery
    from fleetwarden.services import vulns

    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        page = vulns.findings(platform, admin, FindingQuery(limit=100, **query))
        times.append((time.perf_counter() - started) * 1000)
    return {**common.percentiles(times), "items": len(page.items)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from fleetwarden.services import accounts, feeds, software, vulns

    with common.workdir(args.keep) as work:
        data = args.data or work / "data"
        generated: dict[str, Any] = {}
        if args.data is None:
            print(f"generating {args.cves:,} CVEs, {args.images} images x {args.components} "
                  f"components, {args.devices:,} devices ...", file=sys.stderr)
            generated, secs = _timed(lambda: gen_vulns.generate(
                data, cves=args.cves, images=args.images, components=args.components,
                devices=args.devices, jobs=2))
            generated = {**generated, "seconds": round(secs, 1)}
        with common.fresh_database(args.db, work) as db:
            _register(db, data)
            print("importing devices ...", file=sys.stderr)
            _, t_devices = _timed(lambda: subprocess.run(
                db.cli("devices", "import", str(data / "devices.csv")), env=db.env(),
                check=True, capture_output=True))
            app = _app(db)
            try:
                p = app.platform
                admin = accounts.authenticate(p, db.token)
                print("importing feeds ...", file=sys.stderr)
                _, t_feeds = _timed(lambda: feeds.import_feeds(p, admin, [
                    str(data / "nvd.json.gz"), str(data / "kev.json"),
                    str(data / "epss.csv.gz")]))
                print("importing SBOMs ...", file=sys.stderr)
                with (data / "images.csv").open(encoding="utf-8") as fh:
                    images = list(csv.DictReader(fh))
                started = time.perf_counter()
                for row in images:
                    software.import_sbom(p, admin, str(data / row["sbom"]),
                                         model=f"{row['vendor']}/{row['model']}",
                                         firmware=row["firmware"])
                t_sboms = time.perf_counter() - started
                if db.backend == "postgresql":
                    common.analyse(db)
                print("full re-match ...", file=sys.stderr)
                (run_full, _), t_full = _timed(lambda: vulns.match(p, admin, full=True))
                (run_again, _), t_again = _timed(lambda: vulns.match(p, admin, full=True))
                print("importing 1,000 changed CVEs ...", file=sys.stderr)
                delta, t_delta = _timed(lambda: feeds.import_feeds(
                    p, admin, [str(data / "nvd-delta.json")]))
                print("listing ...", file=sys.stderr)
                kev = _list_ms(p, admin, 20, kev=True)
                p1 = _list_ms(p, admin, 20, priorities=(1,))
                first = _list_ms(p, admin, 20)
                device = _list_ms(p, admin, 20, device_id=1)
                findings = _count_findings(app)
            finally:
                app.engine.dispose()
            result = {
                "backend": db.backend, "machine": common.machine(),
                "data": {"cves": args.cves, "images": args.images,
                         "components": args.components, "devices": args.devices,
                         "generated": generated},
                "setup_seconds": {"devices_import": round(t_devices, 1),
                                  "feeds_import": round(t_feeds, 1),
                                  "sbom_imports": round(t_sboms, 1)},
                "full_rematch": {"seconds": round(t_full, 2), "again_seconds":
                                 round(t_again, 2), "target": REMATCH_TARGET,
                                 "aim": REMATCH_AIM, "run": run_full.view(),
                                 "again": run_again.view()},
                "delta_import": {"seconds": round(t_delta, 2), "target": DELTA_TARGET,
                                 "records": sum(f.records for f in delta.files),
                                 "run": delta.matching.view() if delta.matching else None},
                "list_first_page_ms": {"kev": kev, "p1": p1, "all": first,
                                       "device": device, "target": LIST_TARGET_MS},
                "findings": findings,
            }
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cves", type=int, default=300_000)
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--components", type=int, default=60)
    ap.add_argument("--devices", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true",
                    help="30,000 CVEs, 50 images, 20,000 devices (a smoke run)")
    ap.add_argument("--db", help="PostgreSQL server URL (default: SQLite)")
    ap.add_argument("--data", type=Path, help="reuse data gen_vulns.py wrote here")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    if args.quick:
        args.cves, args.images, args.devices = 30_000, 50, 20_000
    args.db = common.pg_url_from_env(args.db)
    result = run(args)
    path = common.write_json(f"vulns-{result['backend']}", result)
    full, delta, lists = result["full_rematch"], result["delta_import"], \
        result["list_first_page_ms"]
    common.table(f"vulnerability findings ({result['backend']}, {args.cves:,} CVEs, "
                 f"{args.devices:,} devices, {result['findings']:,} findings)", [
        ("full re-match", f"{full['seconds']:.1f} s (target {REMATCH_TARGET:.0f} s, aim "
                          f"{REMATCH_AIM:.0f} s); again {full['again_seconds']:.1f} s"),
        ("1,000 changed CVEs", f"{delta['seconds']:.2f} s (target {DELTA_TARGET:.0f} s)"),
        ("list --kev page", f"p50 {lists['kev']['p50']:.0f} ms, p95 {lists['kev']['p95']:.0f}"
                            f" ms (target {LIST_TARGET_MS:.0f} ms)"),
        ("list --priority P1", f"p50 {lists['p1']['p50']:.0f} ms"),
        ("list (all) page", f"p50 {lists['all']['p50']:.0f} ms"),
        ("one device", f"p50 {lists['device']['p50']:.0f} ms"),
        ("setup", ", ".join(f"{k} {v} s" for k, v in result["setup_seconds"].items())),
    ])
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
