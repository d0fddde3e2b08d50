"""Compliance report benchmark: 100,000 assessed devices, every framework, every format.

    .venv/bin/python bench/bench_report.py [--count 100000] [--db postgresql://...]

A fresh database with the demo registry, ``--count`` devices imported with the real CLI,
then one stored result of every check for every device (written in bulk as an
assessment would store them: statuses drawn per model so devices cluster as real
estates do, about 8 % FAIL, some devices with their own attestations and waivers).
Times ``services.compliance_report.compliance_report`` (all six frameworks, 301
requirements, 100 entries a requirement) and each renderer on its result; peak RSS.

Goal (issue 6): the report of 100,000 devices within 60 s. Writes bench/out/report.json.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--db", default=None, help="PostgreSQL admin URL (default: SQLite)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    with common.workdir(args.keep) as work, common.fresh_database(args.db, work) as db:
        common.prepare(db)
        csv_path = work / "devices.csv"
        common.generate_csv(csv_path, args.count)
        t0 = time.perf_counter()
        subprocess.run(db.cli("devices", "import", str(csv_path)), check=True,
                       capture_output=True, env={**os.environ,
                                                 "FLEETWARDEN_HOME": str(db.home)})
        imported = time.perf_counter() - t0
        from fleetwarden import bootstrap
        from fleetwarden.services import accounts
        from fleetwarden.settings import Settings

        app = bootstrap.build(Settings(home=db.home, db_url=db.url))
        platform = app.platform
        principal = accounts.local_principal(accounts.resolve_tenant(platform, common.TENANT),
                                             "bench")
        t1 = time.perf_counter()
        results = _fill(app, principal, platform)
        filled = time.perf_counter() - t1
        from fleetwarden.entrypoints.reports import render_compliance
        from fleetwarden.services.compliance_report import compliance_report

        t2 = time.perf_counter()
        report = compliance_report(platform, principal, entry_limit=100)
        built = time.perf_counter() - t2
        timings = {"build_s": round(built, 1)}
        sizes = {}
        for fmt in ("csv", "json", "html", "oscal", "pdf"):
            t = time.perf_counter()
            data = render_compliance(report, fmt)
            timings[f"{fmt}_s"] = round(time.perf_counter() - t, 1)
            sizes[fmt] = len(data)
        app.engine.dispose()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    out = {"count": args.count, "backend": db.backend, "import_s": round(imported, 1),
           "results": results, "fill_s": round(filled, 1), **timings,
           "bytes": sizes, "peak_rss_mb": rss,
           "requirements": sum(len(f.requirements) for f in report.frameworks),
           "compliance_percent": {f.id: f.compliance_percent for f in report.frameworks},
           "machine": common.machine()}
    path = common.write_json("report", out)
    print(f"{args.count} devices, {results} stored results ({db.backend}): report built in "
          f"{built:.1f} s; render " + ", ".join(f"{k[:-2]} {v} s" for k, v in timings.items()
                                                 if k != "build_s")
          + f"; peak RSS {rss} MB; written {path}")


def _fill(app: object, principal: object, platform: object) -> int:
    """Every check's result on every device, as one assessment run stores them."""
    from sqlalchemy import insert, select

    from fleetwarden.adapters.assess.tools import ComplianceToolkit
    from fleetwarden.adapters.db.tables import compliance_assessments, compliance_results, devices

    checks = list(ComplianceToolkit().checks().values())
    rng = random.Random(7)  # noqa: S311 - reproducible synthetic data
    now = datetime.now(UTC)
    engine = app.engine  # type: ignore[attr-defined]
    tenant_id = principal.tenant.id  # type: ignore[attr-defined]
    per_model: dict[int | None, list[str]] = {}
    n = 0
    with engine.begin() as conn:
        run_id = conn.execute(insert(compliance_assessments).values(
            tenant_id=tenant_id, actor="bench", status="done", targets="[]", options="{}",
            tool="fleetwarden bench", started_at=now, finished_at=now, summary="{}"))\
            .inserted_primary_key[0]
        rows = []
        for did, model_id in conn.execute(select(devices.c.id, devices.c.model_id).where(
                devices.c.tenant_id == tenant_id)):
            statuses = per_model.get(model_id)
            if statuses is None:
                statuses = [rng.choices(["PASS", "FAIL", "NOT_APPLICABLE", "MANUAL"],
                                        [55, 8, 30, 7])[0] for _ in checks]
                per_model[model_id] = statuses
            if rng.random() < 0.02:  # a few devices differ from their model's norm
                statuses = [("FAIL" if rng.random() < 0.3 else s) for s in statuses]
            for c, s in zip(checks, statuses, strict=True):
                rows.append({"tenant_id": tenant_id, "device_id": did, "host_id": None,
                             "ip": None, "check_id": c.meta.id, "status": s,
                             "severity": c.meta.severity.value,
                             "reason": f"{c.meta.title}: synthetic {s}",
                             "evidence": '{"synthetic": true}', "assessment_id": run_id,
                             "assessed_at": now - timedelta(hours=rng.randrange(48)),
                             "tool": "fleetwarden bench"})
            if len(rows) >= 50_000:
                conn.execute(insert(compliance_results), rows)
                n += len(rows)
                rows = []
        if rows:
            conn.execute(insert(compliance_results), rows)
            n += len(rows)
    return n


if __name__ == "__main__":
    main()
