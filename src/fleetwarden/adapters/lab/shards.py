"""Spreads a large lab over several processes when one may not open enough sockets.

A 10,000-device lab needs some 45,000 sockets; a process without CAP_SYS_RESOURCE
cannot lift its open-files limit past the hard limit (often 20,000 in containers).
The limit is per process, so the lab forks one child per extra slice of devices. Each
child serves its slice with its own runtime and reports ready or a one-line error over a
pipe; children die with their parent (PR_SET_PDEATHSIG) and on SIGTERM.

Must not: fork once an event loop runs (the child would inherit it), or outlive the lab.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import multiprocessing
import multiprocessing.connection
import os
import resource
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleetwarden.adapters.lab.certs import LabCertificates
from fleetwarden.adapters.lab.plan import LabPlan
from fleetwarden.adapters.lab.protocols.base import LabContext
from fleetwarden.adapters.lab.runtime import CONNECTION_HEADROOM, LabRuntime, summary
from fleetwarden.domain.lab import LabDevice
from fleetwarden.errors import FleetwardenError, LabError

_READY_TIMEOUT = 120.0
_PR_SET_PDEATHSIG = 1
SocketMaker = Callable[[LabDevice, str, int], Any]


def capacity() -> int:
    """Sockets one process may hold: its hard open-files limit less room for clients."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if os.geteuid() == 0:  # root may lift the hard limit when it has CAP_SYS_RESOURCE
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, max(limit, 1 << 18)))
            limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return max(limit - CONNECTION_HEADROOM - 64, 256)


def split(plan: LabPlan, per_process: int) -> list[LabPlan]:
    """Consecutive slices of the plan, each within ``per_process`` sockets."""
    slices: list[list[LabDevice]] = [[]]
    used = 0
    for device in plan.devices:
        if used + len(device.services) > per_process and slices[-1]:
            slices.append([])
            used = 0
        slices[-1].append(device)
        used += len(device.services)
    return [dataclasses.replace(plan, devices=tuple(s)) for s in slices]


class ShardProcesses:
    """The child processes serving every slice but the first."""

    def __init__(self, run_dir: Path, slices: list[LabPlan], ttl_seconds: int,
                 sockets: SocketMaker | None = None) -> None:
        LabCertificates(run_dir)  # make the lab CA once, before any child needs it
        context = multiprocessing.get_context("fork")
        self._children: list[tuple[Any, multiprocessing.connection.Connection]] = []
        try:
            for shard in slices:
                parent_end, child_end = context.Pipe(duplex=False)
                process = context.Process(
                    target=_child_main, args=(run_dir, shard, ttl_seconds, child_end, sockets),
                    daemon=True, name=f"fleetwarden-lab-shard-{len(self._children) + 1}")
                process.start()
                child_end.close()
                self._children.append((process, parent_end))
        except BaseException:
            self.stop()  # never leave the children already started behind
            raise

    def wait_ready(self) -> list[dict[str, Any]]:
        """Every child's runtime summary; stops them all and raises if one failed."""
        reports = []
        for process, conn in self._children:
            if not conn.poll(_READY_TIMEOUT):
                self.stop()
                raise LabError(f"lab shard {process.name} did not start in time")
            try:
                kind, value = conn.recv()
            except EOFError:
                kind, value = "error", f"lab shard {process.name} exited"
            if kind != "ready":
                self.stop()
                raise LabError(str(value))
            reports.append(value)
        return reports

    def stop(self) -> None:
        for process, _ in self._children:
            if process.is_alive():
                process.terminate()
        for process, conn in self._children:
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)
            conn.close()
        self._children.clear()


def _child_main(run_dir: Path, plan: LabPlan, ttl_seconds: int,
                conn: multiprocessing.connection.Connection,
                sockets: SocketMaker | None) -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us
    try:
        asyncio.run(_serve_slice(run_dir, plan, ttl_seconds, conn, sockets))
    except FleetwardenError as exc:
        conn.send(("error", str(exc)))
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
        conn.send(("error", f"lab shard failed: {type(exc).__name__}: {exc}"))
    finally:
        conn.close()


async def _serve_slice(run_dir: Path, plan: LabPlan, ttl_seconds: int,
                       conn: multiprocessing.connection.Connection,
                       sockets: SocketMaker | None) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    lab = LabContext(run_dir=run_dir, tls=LabCertificates(run_dir), sockets=sockets)
    async with LabRuntime(plan, lab) as runtime:
        conn.send(("ready", dict(summary(runtime.stats))))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), ttl_seconds + 60)


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
