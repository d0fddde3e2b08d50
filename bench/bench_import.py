"""Import benchmark: the real CLI, ``fleetwarden devices import FILE``, timed from outside.

    .venv/bin/python bench/bench_import.py [--count N | --quick] [--db POSTGRES_URL]
                                           [--csv FILE] [--keep]

Sets up a fresh database (SQLite in a temporary directory, or a new database on the
PostgreSQL server ``--db`` points at), a tenant and the demo registry, writes the CSV
with bench/gen_devices.py, then runs the CLI as a subprocess and reports wall time,
devices/s, CPU time and memory (peak RSS from wait4, plus an RSS time line to show it
stays flat). Writes bench/out/import-<backend>.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

TARGET_RATE = 17_000  # devices/s: 1,000,000 in under 60 s
AIM_RATE = 50_000


def _count_devices(db: common.BenchDb) -> int:
    from sqlalchemy import text

    from fleetwarden.adapters.db.engine import make_engine

    engine = make_engine(db.url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM devices")).scalar_one())
    finally:
        engine.dispose()


def _flatness(samples: list[tuple[float, int]]) -> dict[str, Any]:
    """RSS at 25/50/75/100 % of the run: flat means no growth with rows imported."""
    if len(samples) < 4:
        return {"samples": len(samples)}
    end = samples[-1][0]

    def at(frac: float) -> int:
        return next(rss for t, rss in samples if t >= frac * end)

    quarter = at(0.25)
    marks = {f"rss_mib_at_{int(f * 100)}pct": round(at(f) / 1024, 1)
             for f in (0.25, 0.5, 0.75, 1.0)}
    growth = (samples[-1][1] - quarter) / quarter if quarter else 0.0
    step = max(1, len(samples) // 20)
    return {"samples": len(samples), **marks,
            "growth_after_first_quarter_pct": round(100 * growth, 1),
            "timeline_s_mib": [(t, round(rss / 1024, 1)) for t, rss in samples[::step]]}


def run_import(db: common.BenchDb, csv_path: Path, rows: int) -> dict[str, Any]:
    """Time the CLI import of ``csv_path`` into ``db`` (which must be prepared)."""
    cmd = db.cli("devices", "import", str(csv_path))
    result = common.run_measured(cmd, db.env())
    if result.returncode != 0:
        raise RuntimeError(f"import failed ({result.returncode}):\n{result.stderr[-3000:]}")
    stored = _count_devices(db)
    if stored != rows:
        raise RuntimeError(f"import said ok but the database holds {stored} of {rows} devices")
    rate = rows / result.seconds
    return {
        "command": " ".join(["fleetwarden", "--db", common.redact(db.url), "devices", "import",
                             csv_path.name]),
        "rows": rows,
        "seconds": round(result.seconds, 2),
        "devices_per_s": round(rate),
        "cpu_seconds": round(result.cpu_seconds, 2),
        "peak_rss_mib": round(result.max_rss_kib / 1024, 1),
        "memory": _flatness(result.rss_samples),
        "meets_target_17k": rate >= TARGET_RATE,
        "meets_aim_50k": rate >= AIM_RATE,
        "output": result.stdout.strip()[-200:],
    }


def print_import(backend: str, r: dict[str, Any]) -> None:
    mem = r["memory"]
    common.table(f"import ({backend}): {r['rows']:,} devices via the CLI", [
        ("wall time", f"{r['seconds']:.1f} s"),
        ("rate", f"{r['devices_per_s']:,} devices/s  (target >= {TARGET_RATE:,}: "
                 f"{'met' if r['meets_target_17k'] else 'MISSED'}; aim {AIM_RATE:,}: "
                 f"{'met' if r['meets_aim_50k'] else 'not met'})"),
        ("CPU time (user+sys)", f"{r['cpu_seconds']:.1f} s"),
        ("peak RSS", f"{r['peak_rss_mib']:.0f} MiB"),
        ("RSS at 25/50/75/100 %",
         " / ".join(f"{mem.get(f'rss_mib_at_{p}pct', '?')}" for p in (25, 50, 75, 100))
         + f" MiB (growth after first quarter {mem.get('growth_after_first_quarter_pct')} %)"),
    ])


def parse_args(argv: list[str] | None, doc: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    ap.add_argument("--count", type=int, default=common.DEFAULT_COUNT,
                    help="devices to import (default 1,000,000)")
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke run with {common.QUICK_COUNT:,} devices")
    ap.add_argument("--db", help="PostgreSQL URL of a server to create a throw-away database "
                    "on (default: SQLite in a temporary directory; env "
                    "FLEETWARDEN_BENCH_PG_URL is used by run_all.py)")
    ap.add_argument("--csv", type=Path, help="reuse this generated CSV (must hold --count rows)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args(argv)
    if args.quick:
        args.count = common.QUICK_COUNT
    return args


def setup(args: argparse.Namespace, work: Path, db: common.BenchDb) -> Path:
    t0 = time.perf_counter()
    common.prepare(db)
    print(f"prepared {db.backend} database {common.redact(db.url)} "
          f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    if args.csv:
        return Path(args.csv)
    csv_path = work / f"devices-{args.count}.csv"
    common.generate_csv(csv_path, args.count)
    return csv_path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, __doc__ or "")
    with common.workdir(args.keep) as work, common.fresh_database(args.db, work) as db:
        csv_path = setup(args, work, db)
        result = run_import(db, csv_path, args.count)
        print_import(db.backend, result)
        out = common.write_json(f"import-{db.backend}",
                                {"backend": db.backend, "machine": common.machine(),
                                 "import": result})
        print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
