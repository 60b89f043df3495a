"""How ``manage.py fallback_storage`` prints: aligned columns, or JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.core.management.base import OutputWrapper

__all__ = ["print_rows", "print_table"]


def print_rows(
    stdout: OutputWrapper,
    as_json: bool,
    data: object,
    rows: list[dict[str, Any]],
    columns: Sequence[str],
) -> None:
    """Print ``data`` as JSON, or ``rows`` as a table of ``columns``."""
    if as_json:
        stdout.write(json.dumps(data))
    else:
        print_table(stdout, rows, columns)


def print_table(stdout: OutputWrapper, rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    """Print ``rows`` in aligned columns under upper-case headings; a missing value is ``-``."""
    cells = [[column.upper() for column in columns]]
    cells += [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    for line in cells:
        text = "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        stdout.write(text.rstrip())


def _cell(value: object) -> str:
    return "-" if value is None or value == "" else str(value)
