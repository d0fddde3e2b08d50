"""Streaming readers for device files: CSV, a JSON array, or JSON Lines.

Files can hold millions of rows, so nothing here loads a whole file: CSV and JSON
Lines are read row by row and a JSON array is decoded one element at a time.
Everything in a file is untrusted: errors name the row, never echo long content.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from fleetwarden.domain.device_input import IMPORT_COLUMNS, LIST_FIELDS
from fleetwarden.errors import InputError

MAX_FIELD = 4096
_CHUNK = 1 << 16


def detect_format(path: Path, declared: str | None = None) -> str:
    if declared and declared != "auto":
        if declared not in ("csv", "json", "jsonl"):
            raise InputError(f"--format: csv, json or jsonl, not {declared!r}")
        return declared
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        return "json"
    if suffix == ".csv":
        return "csv"
    with path.open("rb") as fh:
        head = fh.read(256).lstrip()
    if head.startswith(b"["):
        return "json"
    if head.startswith(b"{"):
        return "jsonl"
    return "csv"


def count_lines(path: Path) -> int:
    """A cheap estimate of the row count for progress bars."""
    n = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            n += chunk.count(b"\n")
    return n


def read_rows(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, record) pairs; row numbers count data rows from 1."""
    try:
        fh = path.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    with fh:
        try:
            yield from read_stream(fh, fmt)
        except UnicodeDecodeError:
            raise InputError(f"{path.name}: not UTF-8 text") from None


def read_stream(fh: IO[str], fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The same as ``read_rows`` for an open text stream (an HTTP body, say)."""
    readers = {"csv": _csv_rows, "json": _json_array_rows, "jsonl": _jsonl_rows}
    if fmt not in readers:
        raise InputError(f"format: csv, json or jsonl, not {fmt[:20]!r}")
    return readers[fmt](fh)


def _csv_rows(fh: IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    # The limit is process-wide: put it back after this file, or every later CSV reader
    # in the process (report tests, a long-running server) inherits it.
    previous = csv.field_size_limit(MAX_FIELD)
    try:
        yield from _limited_csv_rows(fh)
    finally:
        csv.field_size_limit(previous)


def _limited_csv_rows(fh: IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.reader(fh, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("the CSV file is empty") from None
    except csv.Error as exc:
        raise InputError(f"CSV header: {exc}") from None
    header = [h.strip() for h in header]
    unknown = [h for h in header if h not in IMPORT_COLUMNS]
    if unknown:
        shown = ", ".join(repr(u[:30]) for u in unknown[:5])
        raise InputError(f"CSV header: unknown column(s) {shown}")
    if len(set(header)) != len(header):
        raise InputError("CSV header: a column is named twice")
    if "name" not in header:
        raise InputError("CSV header: the 'name' column is required")
    width = len(header)
    number = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(f"CSV row {number + 1}: {exc}") from None
        number += 1
        if not values or (len(values) == 1 and not values[0].strip()):
            number -= 1
            continue
        if len(values) != width:
            raise InputError(f"CSV row {number}: {len(values)} cells, header has {width}")
        yield number, {k: (v if v != "" else None) for k, v in zip(header, values, strict=True)}


def _check_record(number: int, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"row {number}: expected a JSON object, got {type(value).__name__}")
    for key in LIST_FIELDS & value.keys():
        if isinstance(value[key], str):
            raise InputError(f"row {number}: {key} must be a JSON list")
    return value


def _jsonl_rows(fh: IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    number = 0
    for line_no, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        number += 1
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"line {line_no}: invalid JSON ({exc.msg})") from None
        yield number, _check_record(number, value)


def _json_array_rows(fh: IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Decode ``[ {...}, {...} ]`` one element at a time (no whole-file load)."""
    decoder = json.JSONDecoder()
    buf = fh.read(_CHUNK).lstrip()
    if not buf.startswith("["):
        raise InputError("JSON: expected an array of device objects")
    pos = 1
    number = 0
    expect_value = True
    while True:
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n":
                pos += 1
            if pos < len(buf):
                break
            more = fh.read(_CHUNK)
            if not more:
                raise InputError("JSON: the array is not closed")
            buf, pos = buf[pos:] + more, 0
        ch = buf[pos]
        if ch == "]":
            if expect_value and number:
                raise InputError("JSON: trailing comma before ]")
            if buf[pos + 1 :].strip() or fh.read(1).strip():
                raise InputError("JSON: unexpected content after the array")
            return
        if ch == ",":
            if expect_value:
                raise InputError(f"JSON: unexpected ',' after element {number}")
            pos += 1
            expect_value = True
            continue
        if not expect_value:
            raise InputError(f"JSON: expected ',' or ']' after element {number}")
        while True:
            try:
                value, end = decoder.raw_decode(buf, pos)
                break
            except json.JSONDecodeError as exc:
                more = fh.read(_CHUNK)
                if not more:
                    raise InputError(f"JSON element {number + 1}: {exc.msg}") from None
                if len(buf) - pos > 16 * _CHUNK:
                    raise InputError(f"JSON element {number + 1}: larger than 1 MiB") from None
                buf, pos = buf[pos:] + more, 0
        number += 1
        yield number, _check_record(number, value)
        buf, pos = buf[end:], 0
        expect_value = False
        if len(buf) < _CHUNK:
            buf += fh.read(_CHUNK)
