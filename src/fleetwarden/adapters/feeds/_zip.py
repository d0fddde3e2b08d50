"""Zip archives of feed records (osv.dev's ``all.zip``), read member by member, safely.

Before any member is decompressed the central directory is checked, so a hostile
archive is refused whole: too many members, a member declared larger than
``MAX_MEMBER``, more than ``MAX_TOTAL`` declared in all, a member compressed suspiciously
well (``MAX_RATIO``), encrypted members, or names that are absolute or climb with
``..``. Members are then read one at a time, each capped at its declared size (zipfile
checks size and CRC), so memory holds one record at a time. Nothing is extracted to disk.

Must not: extract files, follow names anywhere, or parse what the members hold.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Generator
from pathlib import Path, PurePosixPath

from fleetwarden.adapters.feeds._context import ReadProgress
from fleetwarden.adapters.feeds._source import size_text
from fleetwarden.errors import FeedError

MAX_MEMBERS = 1_000_000
MAX_MEMBER = 64 << 20
MAX_TOTAL = 4 << 30
MAX_RATIO = 200
"""JSON deflates 5-20x; only a crafted member does better than this (checked above 1 MiB)."""
_RATIO_FLOOR = 1 << 20


def _unsafe_name(name: str) -> bool:
    if not name or "\x00" in name or "\\" in name or name.startswith("/"):
        return True
    if len(name) > 1024 or (len(name) > 1 and name[1] == ":"):
        return True
    return ".." in PurePosixPath(name).parts


def _check(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > MAX_MEMBERS:
        raise FeedError(f"{path}: {len(infos)} members, more than {MAX_MEMBERS}; refusing "
                        "the archive")
    total = 0
    for info in infos:
        name = info.filename
        if _unsafe_name(name):
            raise FeedError(f"{path}: member name {name[:80]!r} is absolute or climbs out "
                            "with '..'; refusing the archive")
        if info.flag_bits & 0x1:
            raise FeedError(f"{path}: member {name[:80]!r} is encrypted; refusing the archive")
        if info.file_size > MAX_MEMBER:
            raise FeedError(f"{path}: member {name[:80]!r} declares {info.file_size} bytes, "
                            f"more than {size_text(MAX_MEMBER)}; refusing the archive")
        if info.file_size > _RATIO_FLOOR and \
                info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise FeedError(f"{path}: member {name[:80]!r} inflates more than {MAX_RATIO}x; "
                            "refusing the archive as a zip bomb")
        total += info.file_size
        if total > MAX_TOTAL:
            raise FeedError(f"{path}: members declare more than {size_text(MAX_TOTAL)} in all; "
                            "refusing the archive")


def iter_members(path: Path, suffix: str,
                 progress: ReadProgress | None = None
                 ) -> Generator[tuple[str, bytes], None, None]:
    """(name, content) for each member whose name ends with ``suffix``; others are skipped.

    Raises ``FeedError`` for a hostile or corrupt archive (see the module).
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zlib.error, ValueError) as exc:
        raise FeedError(f"{path}: not a readable zip archive ({str(exc)[:120]})") from None
    except OSError as exc:
        raise FeedError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with archive:
        infos = archive.infolist()
        _check(path, infos)
        size = path.stat().st_size
        done = 0
        for info in infos:
            done += info.compress_size
            if info.is_dir() or not info.filename.lower().endswith(suffix):
                continue
            try:
                with archive.open(info) as member:
                    data = member.read(info.file_size + 1)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError,
                    RuntimeError, ValueError) as exc:
                raise FeedError(f"{path}: member {info.filename[:80]!r} is corrupt or "
                                f"unsupported ({str(exc)[:120]})") from None
            if len(data) > info.file_size:
                raise FeedError(f"{path}: member {info.filename[:80]!r} holds more than it "
                                "declares; refusing the archive")
            yield info.filename, data
            if progress is not None:
                progress(min(done, size), size)
