"""CSV export of a dashboard table: one header row of figure names, then one line per group
with the same values the page shows (money with two decimals, rates as fractions, times in
ms, empty where a figure does not apply)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.http import HttpResponse

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection):
# names typed by staff or buyers are prefixed with a quote so they stay text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Column = tuple[str, Callable[[Any], object]]  # a header and how to read it from a row


def csv_value(value: object) -> str:
    """One cell as text: "" for None, money as "12.30", names defused against formulas."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, str):
        return f"'{value}" if value.startswith(_FORMULA_START) else value
    return str(value)


def kpi_csv_response(filename: str, columns: Sequence[Column],
                     rows: Iterable[Any]) -> HttpResponse:
    """An attachment named ``filename``: the header (each column's name), then each row's
    values as ``columns`` read them (rows: ``KpiRow``s or the returns page's reasons)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response, lineterminator="\r\n")
    writer.writerow([name for name, _ in columns])
    for row in rows:
        writer.writerow([csv_value(read(row)) for _, read in columns])
    return response
