"""Query benchmark: listing and identifier lookups over a large register.

    .venv/bin/python bench/bench_query.py [--count N | --quick] [--db POSTGRES_URL]
                                          [--requests 200] [--lookups 1000] [--keep]

Sets up and fills a fresh database like bench_import.py (the import itself is not the
point here), then measures:

* the first page of ``GET /api/v1/devices?type=cctv_camera&site=<site>&limit=50`` on the
  real API (``fleetwarden serve`` on 127.0.0.1, a subprocess), N requests over one
  keep-alive connection with httpx: client-side p50/p95/p99, plus server-side time when
  the API sends a ``Server-Timing`` header;
* the same list through the service layer in this process (no HTTP), to separate the
  database from the web stack;
* lookup by serial and by MAC through ``services.devices.lookup`` (1000 random
  identifiers each) and through ``GET /api/v1/devices/lookup``;
* the query plan of the list query (EXPLAIN QUERY PLAN / EXPLAIN).

Everything is measured twice: right after the import, and after ANALYZE (planner
statistics, which PostgreSQL's autovacuum gathers by itself within a minute or two of a
big import; for the first round it is held off the register tables, so that round is
the state right after the import, every time).
Writes bench/out/query-<backend>.json.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

LIST_TARGET_MS = 50.0
LOOKUP_TARGET_MS = 5.0
DEVICE_TYPE = "cctv_camera"
_TIMING = re.compile(r"dur=([0-9.]+)")


# ----------------------------------------------------------------------------- helpers


def _server_ms(headers: Any) -> float | None:
    """Total of the durations in a Server-Timing header, if the API sends one."""
    value = headers.get("server-timing")
    if not value:
        return None
    found = [float(m) for m in _TIMING.findall(value)]
    return max(found) if found else None


def _timed(fn: Callable[[], Any], n: int, warmup: int = 10) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


class InProcess:
    """The app wired as ``fleetwarden`` wires it, for service-layer timings."""

    def __init__(self, db: common.BenchDb) -> None:
        from fleetwarden import bootstrap
        from fleetwarden.services import accounts
        from fleetwarden.settings import Settings

        self.app = bootstrap.build(Settings(home=db.home, db_url=db.url))
        tenant = accounts.resolve_tenant(self.app.platform, common.TENANT)
        self.principal = accounts.local_principal(tenant, "bench")
        self.platform = self.app.platform

    def close(self) -> None:
        self.app.engine.dispose()

    def sample_identifiers(self, n: int, seed: int = 1) -> tuple[list[str], list[str]]:
        """``n`` random serials and ``n`` random MACs of stored devices."""
        from sqlalchemy import text

        rng = random.Random(seed)
        with self.app.engine.connect() as conn:
            lo, hi = conn.execute(text("SELECT min(id), max(id) FROM devices")).one()
            serials: list[str] = []
            macs: list[str] = []
            while len(serials) < n or len(macs) < n:
                ids = [rng.randint(lo, hi) for _ in range(500)]
                in_list = ", ".join(str(i) for i in ids)  # ints only
                sql = f"SELECT serial, mac_addresses FROM devices WHERE id IN ({in_list})"  # noqa: S608
                rows = conn.execute(text(sql)).all()
                for serial, mac_list in rows:
                    if serial and len(serials) < n:
                        serials.append(serial)
                    if mac_list and len(macs) < n:
                        macs.append(mac_list.split(";")[0])
        rng.shuffle(serials)
        rng.shuffle(macs)
        return serials, macs

    def busiest_site(self, device_type: str) -> tuple[str, int, int]:
        """(name, id, matching devices) of the site with the most devices of the type."""
        from sqlalchemy import text

        with self.app.engine.connect() as conn:
            name, site_id, n = conn.execute(text(
                "SELECT s.name, s.id, count(*) AS n FROM devices d JOIN sites s "
                "ON s.id = d.site_id WHERE d.device_type = :t GROUP BY s.name, s.id "
                "ORDER BY n DESC LIMIT 1"), {"t": device_type}).one()
        return str(name), int(site_id), int(n)

    def list_query(self, site_id: int) -> Any:
        from fleetwarden.ports import DeviceQuery

        return DeviceQuery(device_type=DEVICE_TYPE, site_id=site_id, limit=50)

    def list_once(self, site_id: int) -> int:
        from fleetwarden.services import devices

        page = devices.list_devices(self.platform, self.principal, self.list_query(site_id))
        return len(page.items)

    def lookup(self, kind: str, value: str) -> int:
        from fleetwarden.services import devices

        return len(devices.lookup(self.platform, self.principal, kind, value))

    @contextmanager
    def capture_sql(self) -> Iterator[list[tuple[str, Any]]]:
        from sqlalchemy import event

        seen: list[tuple[str, Any]] = []

        def grab(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
            seen.append((statement, params))

        event.listen(self.app.engine, "before_cursor_execute", grab)
        try:
            yield seen
        finally:
            event.remove(self.app.engine, "before_cursor_execute", grab)

    def explain_list(self, site_id: int) -> list[str]:
        """The database's plan for the list query, exactly as the repository sends it."""
        with self.capture_sql() as seen:
            self.list_once(site_id)
        statement, params = next((s, p) for s, p in seen if "FROM devices" in s
                                 and "LIMIT" in s.upper())
        prefix = ("EXPLAIN QUERY PLAN " if self.app.engine.dialect.name == "sqlite"
                  else "EXPLAIN (ANALYZE, BUFFERS) ")
        raw = self.app.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute(prefix + statement, params)
            rows = cur.fetchall()
            cur.close()
            raw.rollback()
        finally:
            raw.close()
        if self.app.engine.dialect.name == "sqlite":
            return [f"{r[0]}|{r[1]}|{r[3]}" for r in rows]
        return [r[0] for r in rows]


# ----------------------------------------------------------------------------- measuring


def measure(db: common.BenchDb, work: Path, requests: int, lookups: int,
            label: str) -> dict[str, Any]:
    """One round. The API goes first: it is what the target is about, and on
    PostgreSQL nothing should change the planner's statistics before it is measured."""
    import httpx

    inproc = InProcess(db)
    try:
        site_name, site_id, matching = inproc.busiest_site(DEVICE_TYPE)
        serials, macs = inproc.sample_identifiers(lookups)
        result: dict[str, Any] = {
            "label": label,
            "list_filter": {"type": DEVICE_TYPE, "site": site_name, "site_id": site_id,
                            "matching_devices": matching, "limit": 50},
        }

        # The real API, over one keep-alive connection.
        log = work / f"serve-{label.replace(' ', '-')}.log"
        with common.api_server(db, log) as base, httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {db.token}"}, timeout=60
        ) as client:
            server: list[float] = []
            params = {"type": DEVICE_TYPE, "site": site_name, "limit": 50}

            def list_page() -> None:
                r = client.get("/api/v1/devices", params=params)
                if r.status_code != 200 or len(r.json()["items"]) != 50:
                    raise RuntimeError(f"list: HTTP {r.status_code}: {r.text[:300]}")
                ms = _server_ms(r.headers)
                if ms is not None:
                    server.append(ms)

            client_ms = _timed(list_page, requests)
            server = server[-requests:]
            result["list_api_ms"] = common.percentiles(client_ms)
            result["list_api_server_timing_ms"] = (common.percentiles(server) if server
                                                   else None)
            n_api = min(requests, len(serials) - 10)
            for kind, values in (("serial", serials), ("mac", macs)):
                it = iter(values[:n_api + 10])

                def look(kind: str = kind, it: Iterator[str] = it) -> None:
                    r = client.get("/api/v1/devices/lookup",
                                   params={"kind": kind, "value": next(it)})
                    if r.status_code != 200 or len(r.json()["items"]) != 1:
                        raise RuntimeError(f"lookup: HTTP {r.status_code}: {r.text[:300]}")

                result[f"lookup_{kind}_api_ms"] = common.percentiles(_timed(look, n_api))

        # The service layer, in this process (no HTTP, no JSON).
        assert inproc.list_once(site_id) == 50
        result["list_service_ms"] = common.percentiles(
            _timed(lambda: inproc.list_once(site_id), requests))
        for kind, values in (("serial", serials), ("mac", macs)):
            it = iter(values)
            misses = 0

            def one(kind: str = kind, it: Iterator[str] = it) -> None:
                nonlocal misses
                if inproc.lookup(kind, next(it)) != 1:
                    misses += 1

            result[f"lookup_{kind}_service_ms"] = common.percentiles(
                _timed(one, len(values) - 10, warmup=10))
            if misses:
                raise RuntimeError(f"{misses} {kind} lookups did not find exactly one device")
        result["plan"] = inproc.explain_list(site_id)
    finally:
        inproc.close()
    result["meets_list_target_50ms"] = result["list_api_ms"]["p95"] < LIST_TARGET_MS
    result["meets_lookup_target_5ms"] = all(
        result[f"lookup_{k}_service_ms"]["p95"] < LOOKUP_TARGET_MS for k in ("serial", "mac"))
    return result


def print_query(backend: str, r: dict[str, Any]) -> None:
    def fmt(p: dict[str, float] | None) -> str:
        if not p:
            return "-"
        return (f"p50 {p['p50']:7.2f}  p95 {p['p95']:7.2f}  p99 {p['p99']:7.2f}  "
                f"max {p['max']:7.2f} ms  (n={p['n']})")

    f = r["list_filter"]
    common.table(
        f"queries ({backend}, {r['label']}): type={f['type']} site={f['site']!r} "
        f"({f['matching_devices']:,} matching), first page of {f['limit']}",
        [
            ("list, API (client)", fmt(r["list_api_ms"])
             + ("" if r["meets_list_target_50ms"] else "  MISSES p95 < 50 ms")),
            ("list, API (Server-Timing)", fmt(r["list_api_server_timing_ms"])
             if r["list_api_server_timing_ms"] else "- (no Server-Timing header)"),
            ("list, service layer", fmt(r["list_service_ms"])),
            ("lookup serial, service", fmt(r["lookup_serial_service_ms"])),
            ("lookup MAC, service", fmt(r["lookup_mac_service_ms"])),
            ("lookup serial, API", fmt(r["lookup_serial_api_ms"])),
            ("lookup MAC, API", fmt(r["lookup_mac_api_ms"])),
            ("list query plan", " / ".join(r["plan"][:6])),
        ],
    )


def run_queries(db: common.BenchDb, work: Path, requests: int, lookups: int
                ) -> dict[str, Any]:
    """Both rounds: as imported, then after ANALYZE."""
    out: dict[str, Any] = {}
    out["as_imported"] = measure(db, work, requests, lookups, "as imported")
    print_query(db.backend, out["as_imported"])
    common.hold_autovacuum(db, False)
    t0 = time.perf_counter()
    common.analyse(db)
    out["analyze_seconds"] = round(time.perf_counter() - t0, 1)
    out["after_analyze"] = measure(db, work, requests, lookups, "after ANALYZE")
    print_query(db.backend, out["after_analyze"])
    return out


def main(argv: list[str] | None = None) -> int:
    import bench_import

    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--lookups", type=int, default=1000)
    extra, rest = ap.parse_known_args(argv)
    args = bench_import.parse_args(rest, __doc__ or "")
    with common.workdir(args.keep) as work, common.fresh_database(args.db, work) as db:
        csv_path = bench_import.setup(args, work, db)
        common.hold_autovacuum(db, True)
        print(f"filling the register with {args.count:,} devices ...", file=sys.stderr)
        imported = bench_import.run_import(db, csv_path, args.count)
        queries = run_queries(db, work, extra.requests, extra.lookups)
        out = common.write_json(f"query-{db.backend}",
                                {"backend": db.backend, "machine": common.machine(),
                                 "devices": args.count, "fill_import": imported,
                                 "queries": queries})
        print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
