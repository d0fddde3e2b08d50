"""A sweep worker process: ``python -m fleetwarden.adapters.discovery.active.sweep_worker``.

Reads one task (address ranges, ports, profile, its share of rate and concurrency, and
whether the caller allowed non-loopback targets) as JSON on stdin, sweeps it with
``sweep.Sweep`` and writes what it finds as JSON lines on stdout: ``{"hosts": [[ip,
[ports]], ...], "empty": n}`` batches, the last one with ``"end": true``. A bad task or
a refused scope is one line on stderr and exit status 2.

Must not: identify services, or sweep anything the task's scope check refuses.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import replace
from typing import Any

from fleetwarden.adapters.discovery.active.limits import SETTINGS, Profile
from fleetwarden.adapters.discovery.active.sweep import Sweep, new_limits
from fleetwarden.adapters.discovery.active.targets import Targets, check_scope
from fleetwarden.errors import FleetwardenError

#: Flush what was found this often (seconds) or once this many hosts are waiting.
_FLUSH_SECONDS, _FLUSH_HOSTS = 0.1, 256


async def _worker_main(task: dict[str, Any]) -> None:
    targets = Targets(tuple((int(a), int(b)) for a, b in task["ranges"]))
    check_scope(targets, allow_non_loopback=bool(task["allow"]))
    settings = replace(SETTINGS[Profile(task["profile"])], concurrency=int(task["concurrency"]))
    ports = tuple(int(p) for p in task["ports"])
    report_empty = bool(task["report_empty"])
    found: list[tuple[str, list[int]]] = []
    empty = 0
    flushed = time.monotonic()

    def flush(end: bool = False) -> None:
        nonlocal empty, flushed
        message: dict[str, Any] = {"hosts": found, "empty": empty}
        if end:
            message["end"] = True
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()
        found.clear()
        empty, flushed = 0, time.monotonic()

    async def swept(ip: str | None, open_ports: list[int]) -> None:
        nonlocal empty
        if ip is not None and (open_ports or report_empty):
            found.append((ip, open_ports))
        else:
            empty += 1
        if len(found) >= _FLUSH_HOSTS or time.monotonic() - flushed > _FLUSH_SECONDS:
            flush()

    await Sweep(targets, ports, new_limits(settings, float(task["rate"])), swept).run()
    flush(end=True)


def main() -> int:
    try:
        task = json.loads(sys.stdin.read())
        asyncio.run(_worker_main(task))
    except FleetwardenError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (ValueError, KeyError, TypeError) as exc:
        print(f"bad sweep task: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
