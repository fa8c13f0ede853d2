"""A table of indicators as CSV for a French spreadsheet: UTF-8 with a BOM, `;` between cells, decimal commas."""

from __future__ import annotations

import csv
import io
from datetime import date

from portal.indicators.figures import Table


def csv_bytes(table: Table) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(table.headings)
    writer.writerows([_cell(value) for value in row] for row in table.rows)
    # The BOM is how Excel knows the file is UTF-8 rather than Windows-1252.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _cell(value) -> str:
    if isinstance(value, date):
        return value.strftime("%Y-%m")
    if isinstance(value, float):
        return f"{value:.1f}".replace(".", ",")
    return str(value)
