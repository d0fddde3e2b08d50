"""Shared set-up for the benchmarks: a fresh database, a tenant, the demo registry.

Everything runs on this machine only: SQLite files in a temporary directory, or a
new, uniquely named database created on the PostgreSQL server given by ``--db``
(dropped again afterwards). The API under test is the real ``fleetwarden serve``
started as a subprocess on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import platform as py_platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
VENV_BIN = Path(sys.executable).parent
FLEETWARDEN = str(VENV_BIN / "fleetwarden")
TENANT = "Bench Constabulary"
ADMIN = "admin@bench.example"
DEFAULT_COUNT = 1_000_000
QUICK_COUNT = 20_000

sys.path.insert(0, str(BENCH))  # so scripts can import each other when run from anywhere


# ------------------------------------------------------------------------ databases


@dataclass
class BenchDb:
    url: str
    backend: str  # "sqlite" or "postgresql"
    home: Path
    """FLEETWARDEN_HOME for every subprocess: keeps keys and logs out of ~/.local."""
    token: str = ""
    tenant_id: int = 0
    sites: dict[str, int] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("FLEETWARDEN_DB", None)
        env.pop("FLEETWARDEN_TENANT", None)
        env["FLEETWARDEN_HOME"] = str(self.home)
        return env

    def cli(self, *args: str) -> list[str]:
        return [FLEETWARDEN, "--db", self.url, *args]


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@contextmanager
def fresh_database(pg_url: str | None, workdir: Path) -> Iterator[BenchDb]:
    """A brand-new, migrated, empty database; removed again on exit."""
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    if not pg_url:
        yield BenchDb(f"sqlite:///{workdir / 'bench.db'}", "sqlite", home)
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(pg_url)
    if admin_url.drivername == "postgresql":
        admin_url = admin_url.set(drivername="postgresql+psycopg")
    name = f"fleetwarden_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        yield BenchDb(url, "postgresql", home)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare(db: BenchDb) -> None:
    """Schema, tenant (with its admin token) and the demo sites/segments/suppliers/models."""
    from fleetwarden import bootstrap
    from fleetwarden.adapters.db.engine import make_engine
    from fleetwarden.adapters.db.migrate import upgrade
    from fleetwarden.adapters.demo.estate import generate_demo_estate
    from fleetwarden.domain.records import RecordKind
    from fleetwarden.services import accounts, registry
    from fleetwarden.services.demo import _accepted
    from fleetwarden.settings import Settings

    engine = make_engine(db.url)
    upgrade(engine)
    engine.dispose()
    app = bootstrap.build(Settings(home=db.home, db_url=db.url))
    try:
        issued = accounts.create_tenant(app.platform, "bench", TENANT, ADMIN)
        tenant = accounts.resolve_tenant(app.platform, TENANT)
        principal = accounts.local_principal(tenant, "bench")
        # The demo estate without its devices, systems and data items: the registry
        # entries the generated rows refer to by name, filed as a user would.
        estate = generate_demo_estate(seed=7, device_count=0)
        for kind, items in ((RecordKind.SITE, estate.sites),
                            (RecordKind.SUPPLIER, estate.suppliers),
                            (RecordKind.SEGMENT, estate.segments),
                            (RecordKind.MODEL, estate.models)):
            for raw in items:
                registry.create(app.platform, principal, kind, _accepted(kind, raw))
        db.token = issued.token
        assert tenant.id is not None
        db.tenant_id = tenant.id
        from sqlalchemy import text

        with app.engine.connect() as conn:
            db.sites = {r[0]: r[1] for r in conn.execute(
                text("SELECT name, id FROM sites WHERE tenant_id = :t"), {"t": tenant.id})}
    finally:
        app.engine.dispose()


REGISTER_TABLES = ("devices", "device_identifiers", "device_addresses")


def hold_autovacuum(db: BenchDb, hold: bool) -> None:
    """PostgreSQL: keep autovacuum (and so its ANALYZE) off the register tables, so the
    "as imported" round measures the state right after an import deterministically."""
    if db.backend != "postgresql":
        return
    from sqlalchemy import text

    from fleetwarden.adapters.db.engine import make_engine

    engine = make_engine(db.url)
    try:
        with engine.begin() as conn:
            for table in REGISTER_TABLES:
                conn.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)" if hold
                                  else f"ALTER TABLE {table} RESET (autovacuum_enabled)"))
    finally:
        engine.dispose()


def analyse(db: BenchDb) -> None:
    """Fresh planner statistics, as a maintained database would have (autovacuum/ANALYZE)."""
    from sqlalchemy import text

    from fleetwarden.adapters.db.engine import make_engine

    engine = make_engine(db.url)
    try:
        if db.backend == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        else:
            with engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
    finally:
        engine.dispose()


# ------------------------------------------------------------------------ CSV input


def generate_csv(path: Path, count: int, seed: int = 7) -> dict[str, Any]:
    """Run bench/gen_devices.py (its own process, so its memory is not ours)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(BENCH / "gen_devices.py"), str(path),
                    "--count", str(count), "--seed", str(seed)], check=True)
    return {"rows": count, "bytes": path.stat().st_size,
            "seconds": round(time.perf_counter() - t0, 2)}


# ------------------------------------------------------------------------ processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM (KiB) of a running process, {} once it is gone."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line[:5]] = int(line.split()[1])
    except OSError:
        pass
    return out


def _only_child(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            kids = fh.read().split()
    except OSError:
        return None
    return int(kids[0]) if len(kids) == 1 else None


@dataclass
class ProcResult:
    returncode: int
    seconds: float
    cpu_seconds: float
    """user + system time of the process (from wait4)."""
    max_rss_kib: int
    rss_samples: list[tuple[float, int]]
    """(seconds since start, RSS KiB), sampled while it ran."""
    stdout: str
    stderr: str


TIME = "/usr/bin/time"
_TIME_MARK = "FLEETWARDEN_BENCH_MAXRSS_KIB="


def run_measured(cmd: Sequence[str], env: dict[str, str], sample_every: float = 0.5
                 ) -> ProcResult:
    """Run ``cmd``; wall time, CPU time, peak RSS and an RSS time line.

    The peak comes from ``/usr/bin/time`` (GNU time's %M) when installed: ``wait4``'s
    ru_maxrss of a child we fork ourselves would include the RSS this (large) Python
    process had when it forked. Without it, the peak is the largest VmHWM sampled.
    """
    use_time = os.access(TIME, os.X_OK)
    full = [TIME, "-f", _TIME_MARK + "%M", *cmd] if use_time else list(cmd)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(full, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        samples: list[tuple[float, int]] = []
        hwm = 0
        target: int | None = None if use_time else proc.pid
        next_sample = 0.0
        while True:  # poll often (the wall time is taken here), sample RSS less often
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            now = time.perf_counter() - t0
            if pid:
                break
            if target is None:
                target = _only_child(proc.pid)
            if target is not None and now >= next_sample:
                st = _status(target)
                if "VmRSS" in st:
                    samples.append((round(now, 2), st["VmRSS"]))
                    hwm = max(hwm, st.get("VmHWM", 0))
                next_sample = now + sample_every
            time.sleep(0.01)
        seconds = now
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
        peak = hwm
        if use_time:
            kept = []
            for line in stderr.splitlines(keepends=True):
                if line.startswith(_TIME_MARK):
                    peak = int(line[len(_TIME_MARK):].strip() or 0)
                else:
                    kept.append(line)
            stderr = "".join(kept)
        stdout = out.read().decode(errors="replace")
    # wait4 reports the child and the descendants it waited for (time -> python).
    return ProcResult(proc.returncode, seconds, usage.ru_utime + usage.ru_stime, peak,
                      samples, stdout, stderr)


@contextmanager
def api_server(db: BenchDb, log: Path) -> Iterator[str]:
    """``fleetwarden serve`` on 127.0.0.1:<free port>; yields the base URL."""
    import httpx

    port = free_port()
    with log.open("wb") as fh:
        proc = subprocess.Popen(db.cli("serve", "--host", "127.0.0.1", "--port", str(port),
                                       "--log-level", "warning"),
                                env=db.env(), stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the API server exited ({proc.returncode}); see {log}:\n"
                                       + log.read_text(errors="replace")[-2000:])
                try:
                    httpx.get(base + "/api/v1/devices?limit=1", timeout=2,
                              headers={"Authorization": f"Bearer {db.token}"})
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the API did not come up on {base}") from None
                    time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# ------------------------------------------------------------------------ figures


def percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    if not values_ms:
        return {}
    ordered = sorted(values_ms)
    q = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else \
        [ordered[0]] * 99
    return {"n": len(ordered), "min": round(ordered[0], 3), "p50": round(q[49], 3),
            "p95": round(q[94], 3), "p99": round(q[98], 3), "max": round(ordered[-1], 3),
            "mean": round(statistics.fmean(ordered), 3)}


def machine() -> dict[str, Any]:
    import sqlite3

    return {"python": py_platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "cpus": os.cpu_count(), "platform": py_platform.platform()}


def write_json(name: str, data: dict[str, Any]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def table(title: str, rows: Sequence[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    print(f"\n== {title}")
    for k, v in rows:
        print(f"  {k.ljust(width)}  {v}")


@contextmanager
def workdir(keep: bool = False) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="fleetwarden-bench-"))
    try:
        yield path
    finally:
        if keep:
            print(f"(kept {path})", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def pg_url_from_env(cli_value: str | None) -> str | None:
    return cli_value or os.environ.get("FLEETWARDEN_BENCH_PG_URL") or None


def redact(url: str) -> str:
    return _redact(url)
