"""Run every benchmark: import, then queries on the imported register. `make bench`.

    .venv/bin/python bench/run_all.py [--count N | --quick] [--db POSTGRES_URL]
                                      [--requests 200] [--lookups 1000] [--keep]
                                      [--discovery | --discovery-only]

SQLite always; PostgreSQL too when ``--db`` or FLEETWARDEN_BENCH_PG_URL names a server
(a throw-away database is created on it and dropped afterwards), e.g.

    scripts/pg-throwaway.sh bash -c \\
        'FLEETWARDEN_BENCH_PG_URL=$FLEETWARDEN_TEST_PG_URL .venv/bin/python bench/run_all.py'

One CSV (bench/gen_devices.py) is generated and imported into each backend with the
real CLI; the query benchmark then runs on that same register. Prints a table per
step and a summary; writes bench/out/{import,query}-<backend>.json and
bench/out/summary.json.

``--discovery`` (opt-in: it starts a device lab and runs nmap for minutes) then runs
the discovery benchmarks one after the other, each as its own process: active scanning
against the lab truth and nmap (1,000 devices; ``--quick``: 100), reading a capture
(1 GB; ``--quick``: 64 MB) and reconciliation (100,000 devices / 10,000 hosts;
``--quick``: 10,000 / 1,000). ``--discovery-only`` skips import and queries. Each
writes its own bench/out/discover-*.json.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_import  # noqa: E402
import bench_query  # noqa: E402
import common  # noqa: E402


def run_backend(pg_url: str | None, csv_path: Path, count: int, work: Path,
                requests: int, lookups: int) -> dict[str, Any]:
    sub = work / ("pg" if pg_url else "sqlite")
    sub.mkdir()
    with common.fresh_database(pg_url, sub) as db:
        t0 = time.perf_counter()
        common.prepare(db)
        common.hold_autovacuum(db, True)  # released by run_queries after its first round
        print(f"\nprepared {db.backend} database {common.redact(db.url)} "
              f"({time.perf_counter() - t0:.1f} s); importing {count:,} devices ...",
              file=sys.stderr)
        imported = bench_import.run_import(db, csv_path, count)
        bench_import.print_import(db.backend, imported)
        common.write_json(f"import-{db.backend}", {"backend": db.backend,
                                                   "machine": common.machine(),
                                                   "import": imported})
        queries = bench_query.run_queries(db, sub, requests, lookups)
        common.write_json(f"query-{db.backend}", {"backend": db.backend,
                                                  "machine": common.machine(),
                                                  "devices": count, "queries": queries})
        return {"backend": db.backend, "import": imported, "queries": queries}


def summary_rows(results: list[dict[str, Any]]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for r in results:
        b = r["backend"]
        imp = r["import"]
        rows.append((f"{b}: import", f"{imp['rows']:,} devices in {imp['seconds']:.1f} s = "
                     f"{imp['devices_per_s']:,}/s, peak RSS {imp['peak_rss_mib']:.0f} MiB "
                     f"[{'ok' if imp['meets_target_17k'] else 'MISSES'} >= 17k/s]"))
        for key, label in (("as_imported", "as imported"), ("after_analyze", "after ANALYZE")):
            q = r["queries"][key]
            rows.append((f"{b}: list p95 ({label})",
                         f"API {q['list_api_ms']['p95']:.2f} ms, service "
                         f"{q['list_service_ms']['p95']:.2f} ms "
                         f"[{'ok' if q['meets_list_target_50ms'] else 'MISSES'} < 50 ms]"))
            rows.append((f"{b}: lookup p95 ({label})",
                         f"serial {q['lookup_serial_service_ms']['p95']:.2f} ms, MAC "
                         f"{q['lookup_mac_service_ms']['p95']:.2f} ms (service); API "
                         f"{q['lookup_serial_api_ms']['p95']:.2f} / "
                         f"{q['lookup_mac_api_ms']['p95']:.2f} ms "
                         f"[{'ok' if q['meets_lookup_target_5ms'] else 'MISSES'} < 5 ms]"))
    return rows


#: (script, options for the full run, options for --quick)
DISCOVERY_BENCHES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("bench_discover_active.py", ("--count", "1000", "--sv-sample", "50", "--udp"),
     ("--quick", "--udp")),
    ("bench_discover_pcap.py", (), ("--size-mb", "64", "--count", "100")),
    ("bench_discover_reconcile.py", (), ("--register", "10000", "--hosts", "1000")),
)


def run_discovery(quick: bool) -> list[tuple[str, str]]:
    """Each discovery benchmark in its own process (their tables go to stdout)."""
    rows: list[tuple[str, str]] = []
    for script, full, short in DISCOVERY_BENCHES:
        path = common.BENCH / script
        if not path.exists():
            rows.append((script, "not found, skipped"))
            continue
        options = short if quick else full
        print(f"\n### {script} {' '.join(options)}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.run([sys.executable, str(path), *options], check=False).returncode
        verdict = "ok" if code == 0 else f"FAILED (exit {code})"
        rows.append((script, f"{verdict} in {time.perf_counter() - t0:.0f} s"))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0])
    ap.add_argument("--count", type=int, default=common.DEFAULT_COUNT)
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke run with {common.QUICK_COUNT:,} devices")
    ap.add_argument("--db", help="PostgreSQL server URL (or env FLEETWARDEN_BENCH_PG_URL)")
    ap.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--lookups", type=int, default=1000)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--discovery", action="store_true",
                    help="then the discovery benchmarks (device lab, nmap; several minutes)")
    ap.add_argument("--discovery-only", action="store_true",
                    help="only the discovery benchmarks")
    args = ap.parse_args(argv)
    if args.discovery_only:
        rows = run_discovery(args.quick)
        common.table("discovery benchmarks", rows)
        return 0 if all(v.startswith(("ok", "not found")) for _, v in rows) else 1
    count = common.QUICK_COUNT if args.quick else args.count
    pg_url = common.pg_url_from_env(args.db)
    backends: list[str | None] = [] if args.no_sqlite else [None]
    if pg_url:
        backends.append(pg_url)
    if not backends:
        ap.error("--no-sqlite needs --db or FLEETWARDEN_BENCH_PG_URL")
    if not pg_url:
        print("PostgreSQL: skipped (give --db URL or FLEETWARDEN_BENCH_PG_URL)", file=sys.stderr)
    results = []
    with common.workdir(args.keep) as work:
        csv_path = work / f"devices-{count}.csv"
        gen = common.generate_csv(csv_path, count)
        for url in backends:
            results.append(run_backend(url, csv_path, count, work, args.requests, args.lookups))
    common.table(f"summary: {count:,} devices", summary_rows(results))
    out = common.write_json("summary", {"machine": common.machine(), "devices": count,
                                        "csv": gen, "results": results})
    print(f"\nwrote {out}")
    if args.discovery:
        rows = run_discovery(args.quick)
        common.table("discovery benchmarks", rows)
        return 0 if all(v.startswith(("ok", "not found")) for _, v in rows) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
