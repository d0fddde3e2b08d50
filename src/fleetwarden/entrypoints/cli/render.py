"""Output renderers: one per format, chosen by ``--format``."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fleetwarden.entrypoints.presenters import csv_cell

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    # Device-supplied text is untrusted: never let it inject Rich markup or controls.
    text = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return escape("".join(c if c.isprintable() else "?" for c in text))


def rows(
    items: Iterable[dict[str, Any]], fmt: OutputFormat, columns: Sequence[str],
    *, table_columns: Sequence[str] | None = None, title: str | None = None,
) -> None:
    if fmt is OutputFormat.JSON:
        out = sys.stdout
        out.write("[")
        for i, item in enumerate(items):
            out.write(("," if i else "") + "\n  " + json.dumps(item, ensure_ascii=False))
        out.write("\n]\n")
        return
    if fmt is OutputFormat.CSV:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for item in items:
            writer.writerow([csv_cell(item.get(c)) for c in columns])
        return
    shown = table_columns or columns
    table = Table(title=title, show_lines=False, header_style="bold")
    for c in shown:
        table.add_column(c)
    n = 0
    for item in items:
        table.add_row(*[_cell(item.get(c)) for c in shown])
        n += 1
    console.print(table)
    if n == 0:
        console.print("(none)")


def mapping(item: dict[str, Any], fmt: OutputFormat, title: str | None = None) -> None:
    if fmt is OutputFormat.JSON:
        print(json.dumps(item, ensure_ascii=False, indent=2))
        return
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for k, v in item.items():
        nested = isinstance(v, dict) or (
            isinstance(v, list) and any(isinstance(x, dict) for x in v)
        )
        table.add_row(k, _cell(json.dumps(v) if nested else v))
    console.print(table)


def ok(message: str) -> None:
    console.print(f"[green]✓[/green] {escape(message)}")
