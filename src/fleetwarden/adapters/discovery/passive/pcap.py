"""Passive discovery from a packet capture (``discover --pcap FILE``): pcap or pcapng,
Ethernet or Linux cooked (SLL, SLL2) link layers.

ARP, DHCP (hostname, option 55, vendor class, leased address), mDNS, SSDP, HTTP
User-Agent and Server, SYN-ACKs (open ports), TLS SNI, version and certificates become
``HostObservation`` values whose ``observed_at`` is the packet time a host was first
seen. ``_walk`` reads the records, ``_frames`` and ``_protocols`` decode what matters.

A large capture is read by several processes at once, each a byte range of the file
(one per CPU, at least 32 MiB each): the walk is pure Python and CPU-bound. Ranges find
their record boundaries again by themselves and the results are merged; if the ranges
did not join up exactly (a damaged or hostile file, a pcapng file with several
sections) the file is read again by one process, so the answer never depends on how
it was split. Workers are fresh interpreters running ``_worker`` (not multiprocessing:
a forked child of a threaded caller, such as the API or a progress bar, can deadlock,
and ``spawn`` runs the caller's main module again); each sends its progress and then
its pickled result over a pipe. If a worker fails, one process reads the file.

Damage is reported, never fatal once something was read: malformed frames are counted
and skipped; a corrupt record header or a file cut short ends the reading with a
warning that says how far it got. A file that is not a capture at all, or whose first
record is already damaged, is a one-line ``InputError``.

Must not: hold the capture in memory, write anything, or give a result that depends on
the number of processes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pickle
import selectors
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, BinaryIO

from fleetwarden.adapters.discovery.passive._common import (
    Notes,
    PassiveResult,
    Progress,
    one_line,
    open_input,
)
from fleetwarden.adapters.discovery.passive._frames import SUPPORTED_LINKTYPES
from fleetwarden.adapters.discovery.passive._walk import (
    MAX_RECORD,
    PCAPNG_SHB,
    Format,
    Part,
    read_section,
    walk_part,
)
from fleetwarden.domain.discovery import Source
from fleetwarden.errors import InputError

#: Files smaller than this are read by one process (starting more costs more).
PARALLEL_MIN = 64 * 1024 * 1024
#: Bytes each extra process should have to read, at least.
PER_WORKER = 32 * 1024 * 1024
MAX_WORKERS = 8
_WORKER = "fleetwarden.adapters.discovery.passive._worker"
log = logging.getLogger("fleetwarden.discovery")
_PCAP_MAGIC = {b"\xd4\xc3\xb2\xa1": ("<", 1), b"\xa1\xb2\xc3\xd4": (">", 1),
               b"\x4d\x3c\xb2\xa1": ("<", 1_000), b"\xa1\xb2\x3c\x4d": (">", 1_000)}
"""First bytes -> (byte order, time stamp fraction units per microsecond)."""


def read_pcap(path: Path, *, progress: Progress | None = None,
              workers: int | None = None) -> PassiveResult:
    """Hosts seen in a capture, with everything they said about themselves.

    ``workers``: processes to read with (default: one per CPU for a large file; 1 reads
    in this process only)."""
    fh, size = open_input(path)
    with fh:
        fmt = _sniff(fh, path)
    count = _worker_count(workers, size)
    parts = _parallel(path, fmt, size, count, progress) if count > 1 else None
    if parts is None:
        done = [0]

        def advance(n: int) -> None:
            done[0] += n
            if progress is not None:
                progress(min(done[0], size), size)

        parts = [walk_part(path, fmt, 0, fmt.body if fmt.kind == "pcap" else 0, None,
                           advance)]
    return _result(path, size, parts)


# -------------------------------------------------------------------- the header
def _sniff(fh: BinaryIO, path: Path) -> Format:
    head = fh.read(24)
    if head[:4] in _PCAP_MAGIC:
        if len(head) < 24:
            raise InputError(f"{path}: pcap file header cut short ({len(head)} bytes)")
        order, per_unit = _PCAP_MAGIC[head[:4]]
        major, minor, _, _, snaplen, network = struct.unpack(order + "HHiIII", head[4:24])
        if major != 2:
            raise InputError(f"{path}: corrupt pcap file header (version {major}.{minor})")
        linktype = network & 0x0FFF_FFFF
        if linktype not in SUPPORTED_LINKTYPES:
            raise InputError(f"{path}: link type {linktype} is not supported "
                             f"({', '.join(SUPPORTED_LINKTYPES.values())})")
        return Format("pcap", order, 24, linktype, per_unit, snaplen or MAX_RECORD)
    if head[:4] == PCAPNG_SHB:
        fh.seek(0)
        section = read_section(fh.read(1024 * 1024))
        if section is None:
            raise InputError(f"{path}: corrupt pcapng section header")
        order, body, interfaces = section
        if interfaces and all(i[0] not in SUPPORTED_LINKTYPES for i in interfaces):
            kinds = ", ".join(sorted({str(i[0]) for i in interfaces}))
            raise InputError(f"{path}: link type {kinds} is not supported "
                             f"({', '.join(SUPPORTED_LINKTYPES.values())})")
        return Format("pcapng", order, body, interfaces=interfaces)
    shown = " ".join(f"{b:02x}" for b in head[:4]) or "nothing"
    raise InputError(f"{path}: not a pcap or pcapng capture (starts with {shown})")


# -------------------------------------------------------------------- parallel
def _worker_count(asked: int | None, size: int) -> int:
    if os.name != "posix":  # the workers' pipes are watched with selectors
        return 1
    if asked is not None:
        return max(1, asked)
    if size < PARALLEL_MIN:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_WORKERS, size // PER_WORKER))


def _parallel(path: Path, fmt: Format, size: int, count: int,
              progress: Progress | None) -> list[Part] | None:
    """The parts read side by side, in file order and cut after the first damaged
    one; None when they did not join up or a worker failed (then one process reads)."""
    starts = [fmt.body + (size - fmt.body) * i // count for i in range(count)]
    stops: list[int | None] = [*starts[1:], None]
    workers: list[_Worker] = []
    try:
        for i in range(count):
            workers.append(_Worker(path, fmt, i, starts[i], stops[i]))
        with selectors.DefaultSelector() as selector:
            for worker in workers:
                for stream in worker.streams():
                    selector.register(stream, selectors.EVENT_READ, worker)
            while selector.get_map():
                for key, _ in selector.select(timeout=0.5):
                    data = os.read(key.fd, 1 << 16)
                    if not data:
                        selector.unregister(key.fileobj)
                    else:
                        key.data.receive(key.fileobj, data)
                if progress is not None:
                    progress(min(sum(w.done for w in workers), size), size)
        parts = [worker.result() for worker in workers]
    except OSError as exc:  # no interpreter to start: read in this process instead
        log.warning("pcap workers could not start: %s", exc)
        return None
    finally:
        for worker in workers:
            worker.stop()
    ready = [part for part in parts if part is not None]
    if len(ready) != len(parts):
        return None
    joined = ready[:1]
    for before, part in zip(ready, ready[1:], strict=False):
        if before.damage is not None:
            break
        if before.section_changed or part.first is None or part.first != before.next_start:
            return None
        joined.append(part)
    return joined


class _Worker:
    """One ``_worker`` process reading one range: its progress lines, then its result."""

    def __init__(self, path: Path, fmt: Format, index: int, start: int,
                 stop: int | None) -> None:
        spec = {"path": str(path), "format": dataclasses.asdict(fmt), "index": index,
                "start": start, "stop": stop}
        package_root = str(Path(__file__).resolve().parents[4])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root,
                                                        env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(  # noqa: S603 - our own module, our own arguments
            [sys.executable, "-m", _WORKER, json.dumps(spec)], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.done = 0
        self._out = bytearray()
        self._errors = bytearray()
        self._size: int | None = None

    def streams(self) -> list[Any]:
        return [self.process.stdout, self.process.stderr]

    def receive(self, stream: Any, data: bytes) -> None:
        if stream is self.process.stderr:
            self._errors = (self._errors + data)[-4096:]
            return
        self._out += data
        while self._size is None:
            line, sep, rest = bytes(self._out).partition(b"\n")
            if not sep:
                return
            self._out = bytearray(rest)
            kind, _, value = line.partition(b" ")
            if kind == b"P":
                self.done = int(value)
            elif kind == b"R":
                self._size = int(value)

    def result(self) -> Part | None:
        """The worker's part; None (logged) if it failed, which is a bug to look into."""
        code = self.process.wait()
        if code != 0 or self._size is None or len(self._out) != self._size:
            log.warning("pcap worker failed (exit %s): %s", code,
                        one_line(self._errors.decode("utf-8", "replace")[-300:], 300))
            return None
        # Our own child, reading the file we gave it: the pickle is as trusted as we are.
        part = pickle.loads(bytes(self._out))  # noqa: S301
        return part if isinstance(part, Part) else None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in self.streams():
            stream.close()


# -------------------------------------------------------------------- the result
def _result(path: Path, size: int, parts: list[Part]) -> PassiveResult:
    table, notes = parts[0].table, Notes(path)
    counts: dict[str, int] = {}
    for i, part in enumerate(parts):
        if i:
            table.merge(part.table)
        notes.merge(part.notes)
        for name, n in part.counts.items():
            counts[name] = counts.get(name, 0) + n
    packets = sum(p.packets for p in parts)
    damage = next((p.damage for p in parts if p.damage is not None), None)
    summary = Notes(path)
    if damage is not None:
        if packets == 0:
            raise InputError(f"{path}: {damage[1]}; no packet could be read")
        summary.say(f"{damage[1]}; reading stopped after {packets:,} packets")
    elif packets == 0:
        summary.say("the capture holds no packets")
    unsupported = sum(p.unsupported for p in parts)
    if unsupported:
        summary.say(f"{unsupported:,} packets on interfaces with unsupported link types "
                    "were skipped")
    if table.over:
        summary.say(f"more than {table.max_hosts:,} hosts; {table.over:,} facts about "
                    "further hosts were dropped")
    summary.merge(notes)
    observations = tuple(table.observations(Source.PCAP))
    stats = {"bytes": size, "packets": packets, "decoded": sum(p.decoded for p in parts),
             "malformed": summary.skipped, "hosts": len(observations),
             "parts": len(parts), **counts}
    return PassiveResult(Source.PCAP, str(path), observations, summary.warnings(), stats)

