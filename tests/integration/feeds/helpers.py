"""Shared helpers for the feed reader tests: the hand-written data files and wrappers.

``data/`` holds one real-format file per feed kind, written by hand (identifiers,
version ranges and vectors follow public records; all prose is fixture text).
"""

from __future__ import annotations

import copy
import gzip
import json
import lzma
from pathlib import Path
from typing import Any

from tests.integration.feeds.nvdgen import write_feed

DATA = Path(__file__).parent / "data"


def data(name: str) -> Path:
    return DATA / name


def load(name: str) -> Any:
    return json.loads(data(name).read_text(encoding="utf-8"))


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def gz(source: Path | bytes, dest: Path) -> Path:
    raw = source.read_bytes() if isinstance(source, Path) else source
    dest.write_bytes(gzip.compress(raw))
    return dest


def xz(source: Path | bytes, dest: Path) -> Path:
    raw = source.read_bytes() if isinstance(source, Path) else source
    dest.write_bytes(lzma.compress(raw))
    return dest


def hikvision() -> dict[str, Any]:
    """CVE-2021-36260 as an NVD feed item (``{"cve": ...}``)."""
    return copy.deepcopy(load("nvd-CVE-2021-36260.json"))


def openssl() -> dict[str, Any]:
    """CVE-2022-0778 as an NVD feed item."""
    return {"cve": copy.deepcopy(load("nvd-CVE-2022-0778.json"))}


def cve(number: int, **changes: Any) -> dict[str, Any]:
    """A small valid NVD item with id CVE-2024-<number>, fields replaced by ``changes``."""
    item = openssl()
    item["cve"]["id"] = f"CVE-2024-{number:05d}"
    item["cve"].update(changes)
    return item


def feed(path: Path, items: list[dict[str, Any]]) -> Path:
    return write_feed(path, items, len(items))
