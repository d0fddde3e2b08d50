"""Opening a feed file: undo gzip or xz, count and cap what comes out, report progress.

Every reader gets its bytes through ``Source.read``, which is where the limits that keep
memory flat are enforced: no stream may inflate past ``MAX_DECOMPRESSED``, and no single
record (the bytes between two ``mark`` calls) may exceed the record limit. Errors from
the decompressors (a truncated ``.gz``, a corrupt ``.xz``) become one-line ``FeedError``s
naming the file.

Must not: parse JSON or CSV, or build domain values. Zip archives are ``_zip``'s job.
"""

from __future__ import annotations

import gzip
import lzma
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Protocol

from fleetwarden.adapters.feeds._context import ReadProgress
from fleetwarden.errors import FeedError

CHUNK = 1 << 16
MAX_DECOMPRESSED = 16 << 30
"""Far above any real feed (all of NVD is a few GB of JSON); past it, a stream is a bomb."""
DEFAULT_RECORD_LIMIT = 16 << 20
"""The largest NVD records (CPE-heavy configurations) are a few MB."""
_PROGRESS_EVERY = 1 << 20
_BOM = b"\xef\xbb\xbf"


def size_text(size: int) -> str:
    """A byte count for a message: 16 MiB, 4 GiB, 2000 bytes."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size:,} bytes"


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Compression(StrEnum):
    NONE = "none"
    GZIP = "gzip"
    XZ = "xz"
    ZIP = "zip"


def sniff_compression(head: bytes) -> Compression:
    """The container, from the file's first bytes (never from its name)."""
    if head.startswith(b"\x1f\x8b"):
        return Compression.GZIP
    if head.startswith(b"\xfd7zXZ\x00"):
        return Compression.XZ
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return Compression.ZIP
    return Compression.NONE


def file_head(path: Path, size: int = 8) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(size)
    except OSError as exc:
        raise FeedError(f"{path}: cannot read ({exc.strerror or exc})") from None


class Source:
    """The decompressed bytes of one file, read in chunks, counted and capped."""

    def __init__(self, path: Path, raw: BinaryIO, inner: _Readable, total: int,
                 progress: ReadProgress | None, record_limit: int) -> None:
        self.path = path
        self._raw = raw
        self._inner = inner
        self._total = total
        self._progress = progress
        self._record_limit = record_limit
        self._next_progress = 0
        self._first = True
        self.count = 0
        """Decompressed bytes handed out so far."""
        self._mark_at = 0
        self._where = "the start of the file"

    def mark(self, where: str) -> None:
        """A record starts here: the record limit counts from this point."""
        self._mark_at = self.count
        self._where = where

    def read(self, size: int = CHUNK) -> bytes:
        if size == 0:
            return b""
        if size < 0:
            size = CHUNK
        try:
            data = self._inner.read(size)
        except EOFError:
            raise FeedError(f"{self.path}: compressed data ends early "
                            "(the file is truncated)") from None
        except (gzip.BadGzipFile, zlib.error, lzma.LZMAError) as exc:
            raise FeedError(f"{self.path}: corrupt compressed data ({_first_line(exc)})"
                            ) from None
        except OSError as exc:
            raise FeedError(f"{self.path}: cannot read ({exc.strerror or exc})") from None
        if self._first:
            self._first = False
            if data.startswith(_BOM):
                data = data[len(_BOM):]
        self.count += len(data)
        if self.count - self._mark_at > self._record_limit:
            raise FeedError(f"{self.path}: {self._where} is larger than "
                            f"{size_text(self._record_limit)}; refusing it")
        if self.count > MAX_DECOMPRESSED:
            raise FeedError(f"{self.path}: inflates past {size_text(MAX_DECOMPRESSED)}; "
                            "refusing it as a decompression bomb")
        if self._progress is not None:
            position = self._raw.tell()
            if position >= self._next_progress or not data:
                self._next_progress = position + _PROGRESS_EVERY
                self._progress(position, self._total)
        return data

    def read_up_to(self, limit: int) -> bytes:
        """At most ``limit`` bytes (fewer only at the end of the stream)."""
        parts: list[bytes] = []
        have = 0
        while have < limit:
            chunk = self.read(min(CHUNK, limit - have))
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        return b"".join(parts)

    def lines(self, max_line: int) -> Iterator[tuple[int, bytes]]:
        """(line number from 1, line without its end) pairs; a longer line is refused."""
        pending = b""
        number = 0
        while True:
            chunk = self.read(CHUNK)
            if not chunk:
                break
            pieces = (pending + chunk).split(b"\n")
            pending = pieces.pop()
            if len(pending) > max_line:
                raise FeedError(f"{self.path}: line {number + len(pieces) + 1} is longer "
                                f"than {max_line} bytes")
            for piece in pieces:
                number += 1
                if len(piece) > max_line:
                    raise FeedError(f"{self.path}: line {number} is longer than "
                                    f"{max_line} bytes")
                yield number, piece.rstrip(b"\r")
        if pending:
            yield number + 1, pending.rstrip(b"\r")


@contextmanager
def open_source(path: Path, *, progress: ReadProgress | None = None,
                record_limit: int = DEFAULT_RECORD_LIMIT) -> Iterator[Source]:
    """The file's content, gunzipped or unxz'ed as its magic bytes say."""
    try:
        raw: BinaryIO = path.open("rb")
    except OSError as exc:
        raise FeedError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with ExitStack() as stack:
        stack.enter_context(raw)
        total = path.stat().st_size
        kind = sniff_compression(raw.read(8))
        raw.seek(0)
        inner: _Readable
        if kind is Compression.GZIP:
            inner = stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
        elif kind is Compression.XZ:
            inner = stack.enter_context(lzma.LZMAFile(raw))
        elif kind is Compression.ZIP:
            raise FeedError(f"{path}: a zip archive where a single document was expected")
        else:
            inner = raw
        yield Source(path, raw, inner, total, progress, record_limit)
        if progress is not None:
            progress(total, total)


def _first_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]
