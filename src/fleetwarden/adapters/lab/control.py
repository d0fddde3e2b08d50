"""Starts, finds and stops the lab process; one lab per FLEETWARDEN_HOME.

A running lab is described by ``<home>/lab/state.json`` (pid, options, status) and its
ground truth by ``<home>/lab/truth.json``. ``--detach`` re-runs ``fleetwarden lab up``
in a new session and waits until it reports ready (or fails, showing why). Stopping
sends SIGTERM, then SIGKILL, and removes the state, so nothing is left behind.

Must not: signal a process that is not a fleetwarden lab (pids are checked against
/proc), or bind anything itself (the runtime does). ``lab.lock`` (an flock held for the
lab's life) keeps two labs from sharing a home.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fleetwarden.adapters.lab.netns import LabNamespaces, process_tag
from fleetwarden.adapters.lab.plan import LabPlan, plan_lab
from fleetwarden.domain import durations
from fleetwarden.domain.lab import DEFAULT_BIND, DEFAULT_TTL_SECONDS, truth_record
from fleetwarden.errors import InputError, LabError

if TYPE_CHECKING:  # the runtime (protocols, asyncssh) loads only where a lab runs
    from fleetwarden.adapters.lab.shards import ShardProcesses

log = logging.getLogger("fleetwarden.lab")

_STOP_WAIT = 10.0
#: A lab never runs longer than this (certificates of healthy devices last a year).
MAX_TTL_SECONDS = 30 * 86400


@dataclass(frozen=True)
class LabOptions:
    scenario: str = "small-force"
    count: int | None = None
    seed: int = 7
    bind: str = DEFAULT_BIND
    ttl_seconds: int = DEFAULT_TTL_SECONDS
    netns: bool = False

    def argv(self) -> list[str]:
        """The ``lab up`` arguments that recreate these options in another process."""
        out = ["--scenario", self.scenario, "--seed", str(self.seed), "--bind", self.bind,
               "--ttl", f"{self.ttl_seconds}s"]
        if self.count is not None:
            out += ["--count", str(self.count)]
        if self.netns:
            out.append("--netns")
        return out


def lab_dir(home: Path) -> Path:
    return home / "lab"


def unprivileged_port_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    except (OSError, ValueError):
        return 1024


def make_plan(options: LabOptions, *, privileged: bool | None = None,
              unprivileged_start: int | None = None) -> LabPlan:
    """The plan these options give; the port rule is this machine's unless given."""
    return plan_lab(
        options.scenario, count=options.count, seed=options.seed, bind=options.bind,
        privileged=(os.geteuid() == 0 or options.netns) if privileged is None else privileged,
        unprivileged_start=(unprivileged_port_start() if unprivileged_start is None
                            else unprivileged_start),
        namespaces=options.netns)


def running_plan(state: dict[str, Any]) -> LabPlan:
    """The running lab's plan, with the port rule it was started under."""
    return make_plan(LabOptions(**state["options"]), privileged=state.get("privileged"),
                     unprivileged_start=state.get("unprivileged_start"))


# ------------------------------------------------------------------------- state
def read_state(home: Path) -> dict[str, Any] | None:
    """The running lab's state, or None; a stale file (dead process) is removed."""
    path = lab_dir(home) / "state.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        path.unlink(missing_ok=True)
        return None
    if not isinstance(data, dict) or not _is_lab_process(int(data.get("pid", 0))):
        path.unlink(missing_ok=True)
        return None
    return data


def read_truth(home: Path) -> list[dict[str, Any]] | None:
    if read_state(home) is None:
        return None
    try:
        data = json.loads((lab_dir(home) / "truth.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, list) else None


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False))
    tmp.replace(path)


def _is_lab_process(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"fleetwarden" in b" ".join(cmdline) and b"lab" in cmdline and b"up" in cmdline


# ----------------------------------------------------------------------- running
def run_foreground(
    home: Path,
    options: LabOptions,
    *,
    plan: LabPlan | None = None,
    on_ready: Callable[[LabPlan, dict[str, Any]], None] | None = None,
) -> None:
    """Serve the lab in this process until SIGINT/SIGTERM or the TTL."""
    running = read_state(home)
    if running is not None:
        raise LabError(f"a lab is already running (pid {running['pid']}); "
                       "stop it with `fleetwarden lab down`")
    if options.ttl_seconds <= 0:
        raise InputError("--ttl must be positive")
    plan = plan or make_plan(options)
    directory = lab_dir(home)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = _lock(directory)
    try:
        if options.netns:
            LabNamespaces.cleanup_stale()
            with LabNamespaces(plan.devices, tag=process_tag("lab")) as namespaces:
                _serve_sliced(directory, options, plan, on_ready, namespaces)
        else:
            _serve_sliced(directory, options, plan, on_ready, None)
    finally:
        (directory / "state.json").unlink(missing_ok=True)
        (directory / "truth.json").unlink(missing_ok=True)
        lock.close()


def _lock(directory: Path) -> Any:
    """Hold ``lab.lock`` for the lab's lifetime: one lab per home, even when two start
    at the same moment (the state file alone cannot tell)."""
    handle = (directory / "lab.lock").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise LabError("a lab is already running (or starting) in this home; "
                       "stop it with `fleetwarden lab down`") from None
    return handle


def _serve_sliced(directory: Path, options: LabOptions, plan: LabPlan,
                  on_ready: Callable[[LabPlan, dict[str, Any]], None] | None,
                  namespaces: LabNamespaces | None) -> None:
    """This process serves the first slice; forked children serve the rest, if any."""
    from fleetwarden.adapters.lab.certs import LabCertificates
    from fleetwarden.adapters.lab.shards import ShardProcesses, capacity, split

    LabCertificates(directory, fresh=True)  # no certificate of an earlier run survives
    slices = split(plan, capacity())
    children = None
    if len(slices) > 1:
        children = ShardProcesses(directory, slices[1:], options.ttl_seconds,
                                  sockets=namespaces.socket if namespaces else None)
    try:
        asyncio.run(_serve(directory, options, plan, slices[0], on_ready, namespaces,
                           children))
    finally:
        if children is not None:
            children.stop()


async def _serve(directory: Path, options: LabOptions, plan: LabPlan, own: LabPlan,
                 on_ready: Callable[[LabPlan, dict[str, Any]], None] | None,
                 namespaces: LabNamespaces | None, children: ShardProcesses | None) -> None:
    from fleetwarden.adapters.lab.certs import LabCertificates
    from fleetwarden.adapters.lab.protocols.base import LabContext
    from fleetwarden.adapters.lab.runtime import LabRuntime, summary

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    lab = LabContext(run_dir=directory, tls=LabCertificates(directory),
                     sockets=namespaces.socket if namespaces else None)
    started = datetime.now(UTC)
    state: dict[str, Any] = {
        "pid": os.getpid(), "status": "starting", "options": asdict(options),
        "scenario": plan.scenario, "bind": plan.bind, "real_ports": plan.real_ports,
        "privileged": os.geteuid() == 0 or options.netns,
        "unprivileged_start": unprivileged_port_start(),
        "devices": len(plan.devices), "started_at": started.isoformat(timespec="seconds"),
        "expires_at": (started + timedelta(seconds=options.ttl_seconds)).isoformat(
            timespec="seconds"),
        "ca_certificate": str(directory / "tls" / "ca.pem"),
        "truth": str(directory / "truth.json"),
        "netns_hub": namespaces.hub if namespaces else None,
    }
    _write_json(directory / "truth.json", [truth_record(d) for d in plan.devices])
    _write_json(directory / "state.json", state)
    async with LabRuntime(own, lab) as runtime:
        state.update(status="running", **summary(runtime.stats))
        if children is not None:
            reports = await asyncio.get_running_loop().run_in_executor(
                None, children.wait_ready)
            state["sockets"] += sum(r["sockets"] for r in reports)
            state["started_in_seconds"] = max(
                [state["started_in_seconds"], *(r["started_in_seconds"] for r in reports)])
            state["processes"] = 1 + len(reports)
        _write_json(directory / "state.json", state)
        log.info("lab up: %s devices, %s sockets in %.2f s", len(plan.devices),
                 state["sockets"], state["started_in_seconds"])
        if on_ready is not None:
            on_ready(plan, state)
        try:
            await asyncio.wait_for(stop.wait(), options.ttl_seconds)
        except TimeoutError:
            log.info("lab TTL of %s s reached; stopping", options.ttl_seconds)
        state["status"] = "stopping"
        _write_json(directory / "state.json", state)


def start_detached(home: Path, options: LabOptions, *, timeout: float = 120.0) -> dict[str, Any]:
    """Start ``lab up`` in the background and return its state once it serves."""
    running = read_state(home)
    if running is not None:
        raise LabError(f"a lab is already running (pid {running['pid']}); "
                       "stop it with `fleetwarden lab down`")
    directory = lab_dir(home)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_path = directory / "lab.log"
    env = {**os.environ, "FLEETWARDEN_HOME": str(home)}
    with log_path.open("ab") as out:
        offset = out.tell()
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "fleetwarden", "lab", "up", *options.argv(), "--quiet"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
            start_new_session=True, close_fds=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(f"the lab did not start: {_last_error(log_path, offset)}")
        state = read_state(home)
        if state is not None and state.get("pid") == proc.pid and state["status"] == "running":
            return state
        time.sleep(0.1)
    _terminate(proc.pid)
    raise LabError(f"the lab did not report ready within {timeout:.0f} s (log: {log_path})")


def _last_error(log_path: Path, offset: int) -> str:
    """The child's last error line, from this start's part of the log only."""
    try:
        with log_path.open("rb") as fh:
            fh.seek(offset)
            text = fh.read().decode("utf-8", "replace")
        lines = [ln for ln in text.splitlines() if ln.strip()]
    except OSError:
        return "no log"
    errors = [ln for ln in lines if ln.startswith("error:")]
    return (errors or lines or ["no output"])[-1].removeprefix("error: ")[:300]


def stop(home: Path) -> int | None:
    """Stop the running lab; its pid, or None when none was running."""
    state = read_state(home)
    if state is None:
        return None
    pid = int(state["pid"])
    # Namespaces take a while to remove: give a big --netns lab time to do it itself.
    grace = _STOP_WAIT + (0.02 * int(state.get("devices", 0)) if state.get("netns_hub") else 0)
    _terminate(pid, grace)
    if state.get("netns_hub"):
        LabNamespaces.cleanup_stale()  # only namespaces of dead labs: a SIGKILL leaves them
    for name in ("state.json", "truth.json"):
        (lab_dir(home) / name).unlink(missing_ok=True)
    return pid


def _terminate(pid: int, grace: float = _STOP_WAIT) -> None:
    """SIGTERM, then after ``grace`` seconds SIGKILL to the lab's process group; returns
    once the process is gone (so its namespaces count as stale)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if _wait_gone(pid, grace):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _wait_gone(pid, 5.0)


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap our own child so it does not linger as a zombie
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return status != "Z"


def parse_duration(text: str) -> int:
    """Seconds from '90', '90s', '30m', '8h' or '2d'."""
    return durations.parse_duration(text, option="--ttl", maximum=MAX_TTL_SECONDS)
