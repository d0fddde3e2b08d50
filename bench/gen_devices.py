"""Write a large device import file (CSV or JSON) from the synthetic demo catalogue.

    .venv/bin/python bench/gen_devices.py OUT.csv [--count 1000000] [--seed 7]
                                          [--site NAME_OR_CODE ...] [--format csv|json]
    .venv/bin/python bench/gen_devices.py --out OUT.csv ...      (same, as an option)

Rows come from ``fleetwarden.adapters.demo.estate.iter_device_rows``: O(1) memory,
deterministic for a seed, every name/serial/MAC unique, every address on 127.0.0.0/8.
The sites, segments and models the rows name are the demo catalogue's, so the target
tenant must be seeded with the demo registry first (bench/common.py does that).
The file is written in the import format (``devices list --format csv`` columns,
lists ``;``-separated, absent values as empty cells; JSON: one array of objects), so
``fleetwarden devices import OUT.csv`` reads it. Prints rows/s at the end.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from fleetwarden.adapters.demo.estate import DEVICE_FIELDS, iter_device_rows

_LISTS = [i for i, f in enumerate(DEVICE_FIELDS) if f in {"mac_addresses", "ip_addresses", "tags"}]


def _rows(count: int, seed: int, sites: Iterable[str] | None) -> Iterator[dict[str, Any]]:
    return iter_device_rows(seed, count, tenant_sites=sites)


def write_csv(path: Path, count: int, *, seed: int = 7, sites: Iterable[str] | None = None) -> int:
    """Write ``count`` rows to ``path``; returns the number of bytes written.

    Output is what csv.writer produces, but rows needing no quotes are joined directly:
    csv.writer inspects every character and would cost more than generating the row.
    """
    commas = len(DEVICE_FIELDS) - 1
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(DEVICE_FIELDS)
        for row in _rows(count, seed, sites):
            cells = [v or "" for v in row.values()]  # DEVICE_FIELDS order; None -> ""
            for i in _LISTS:
                cells[i] = ";".join(cells[i])
            line = ",".join(cells)
            if '"' in line or "\n" in line or "\r" in line or line.count(",") != commas:
                writer.writerow(cells)  # a cell needs quoting: let csv do it
            else:
                fh.write(line + "\n")
    return path.stat().st_size


def write_json(path: Path, count: int, *, seed: int = 7, sites: Iterable[str] | None = None) -> int:
    """Write ``count`` rows as one JSON array, streamed; returns the number of bytes."""
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("[")
        for n, row in enumerate(_rows(count, seed, sites)):
            fh.write(("\n" if n == 0 else ",\n") + encode(row))
        fh.write("\n]\n")
    return path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, nargs="?", help="output file")
    ap.add_argument("--out", type=Path, dest="out_option", help="output file (alternative)")
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--format", choices=("csv", "json"), default="csv")
    ap.add_argument(
        "--site",
        action="append",
        dest="sites",
        help="keep every row on this site (name or code; repeatable)",
    )
    args = ap.parse_args(argv)
    out = args.out_option or args.out
    if out is None or (args.out and args.out_option):
        ap.error("give the output file once, as OUT or --out OUT")
    if args.count < 0:
        ap.error("--count must not be negative")
    write = write_csv if args.format == "csv" else write_json
    t0 = time.perf_counter()
    size = write(out, args.count, seed=args.seed, sites=args.sites)
    dt = time.perf_counter() - t0
    rate = args.count / dt if dt else float("inf")
    print(
        f"wrote {args.count:,} devices ({size / 1e6:.1f} MB, {args.format}) to {out} "
        f"in {dt:.1f} s: {rate:,.0f} rows/s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
