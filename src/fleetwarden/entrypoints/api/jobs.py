"""Long runs (discovery scans, compliance assessments) in threads owned by the API process.

Bounded twice: at most ``max_running`` at once (more are refused with 429, never queued:
a queued run would hold a request open or vanish with the process) and at most ``keep``
finished results in memory, oldest evicted first. A run hands its first record (the scan
row, the assessment id) to ``on_start`` once it is stored; ``start`` returns then, so the
API can answer 202 with it, and whatever the run raised before that is raised to the
caller like any synchronous error.

Must not: decide anything about the run itself; the services record how it ended.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from fastapi import HTTPException, status

from fleetwarden.errors import FleetwardenError, StorageError

log = logging.getLogger("fleetwarden.api")

S = TypeVar("S")
"""What a run records first (handed to ``on_start``)."""
R = TypeVar("R")
"""What a run returns."""

START_TIMEOUT = 60.0
"""Seconds ``start`` waits for the run to be recorded."""
RETRY_AFTER = "30"


@dataclass
class Job(Generic[S, R]):
    tenant_id: int
    started: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    first: S | None = None
    result: R | None = None
    error: BaseException | None = None


class BackgroundJobs(Generic[S, R]):
    """The background runs of one kind in one API process, and their recent results."""

    def __init__(self, *, what: str, list_path: str, key: Callable[[S], int],
                 max_running: int, keep: int,
                 job_type: Callable[[int], Job[S, R]] = Job) -> None:
        self.what = what
        """``scan``, ``assessment``: names the run in messages and thread names."""
        self.list_path = list_path
        self.key = key
        """The id of a run from its first record."""
        self.max_running = max_running
        self.keep = keep
        self._job_type = job_type
        self._pool = ThreadPoolExecutor(max_workers=max(1, max_running),
                                        thread_name_prefix=f"fleetwarden-{what}")
        self._lock = threading.Lock()
        self._running = 0
        self._closed = False
        self._jobs: OrderedDict[tuple[int, int], Job[S, R]] = OrderedDict()

    @property
    def running(self) -> int:
        return self._running

    def start(self, tenant_id: int, run: Callable[[Callable[[S], None]], R],
              timeout: float = START_TIMEOUT) -> Job[S, R]:
        """Run ``run`` in the background; return once its first record is stored."""
        with self._lock:
            if self._closed:
                raise HTTPException(503, "the server is shutting down")
            if self._running >= self.max_running:
                raise HTTPException(
                    status.HTTP_429_TOO_MANY_REQUESTS,
                    f"this server already runs {self._running} {self.what}(s), the most it "
                    f"may at once: try again when one has finished (GET {self.list_path})",
                    headers={"Retry-After": RETRY_AFTER})
            self._running += 1
        job = self._job_type(tenant_id)
        try:
            self._pool.submit(self._work, job, run)
        except RuntimeError:  # the pool was shut down in between
            self._done()
            raise HTTPException(503, "the server is shutting down") from None
        job.started.wait(timeout)
        if job.first is None:
            if job.error is not None:
                raise job.error
            raise StorageError(f"the {self.what} was not recorded within {timeout:.0f} s")
        return job

    def _work(self, job: Job[S, R], run: Callable[[Callable[[S], None]], R]) -> None:
        def on_start(first: S) -> None:
            job.first = first
            with self._lock:
                self._jobs[(job.tenant_id, self.key(first))] = job
                self._evict()
            job.started.set()

        try:
            job.result = run(on_start)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
            job.error = exc
            # After the start the service has recorded the failure on its own record.
            run_id = self.key(job.first) if job.first is not None else "-"
            if not isinstance(exc, FleetwardenError):
                log.error("%s %s failed", self.what, run_id, exc_info=exc)
            elif job.first is not None:
                log.warning("%s %s failed: %s", self.what, run_id, exc)
        finally:
            self._done()
            job.finished.set()
            job.started.set()

    def _done(self) -> None:
        with self._lock:
            self._running -= 1

    def _evict(self) -> None:
        finished = [key for key, job in self._jobs.items() if job.finished.is_set()]
        for key in finished[: max(0, len(self._jobs) - self.keep)]:
            del self._jobs[key]

    def result(self, tenant_id: int, run_id: int, *, settle: float = 0.0) -> R | None:
        """The result of a run this process ran, if still held. ``settle``: seconds to wait
        for a job whose run the database already shows as finished (it has committed and
        is about to hand its result over)."""
        with self._lock:
            job = self._jobs.get((tenant_id, run_id))
        if job is None:
            return None
        if settle:
            job.finished.wait(settle)
        return job.result

    def close(self) -> None:
        """Refuse new runs and wait for the running ones (their records then say how they
        ended rather than staying ``running``)."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)
