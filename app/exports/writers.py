"""CSV and XLSX writers that never hold more than a chunk of rows.

Both take the header and an iterator of rows (lists of :data:`Cell`) and consume it
once, front to back: the caller streams rows from a server-side cursor and the writer
turns them into bytes as they come, so memory does not depend on the export's size.

Spreadsheet formula injection (OWASP "CSV Injection"): a text cell that starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a formula by Excel,
LibreOffice and Google Sheets when the file is opened (``=cmd|' /C calc'!A0``). In
CSV, where a cell has no type, such text gets a leading single quote, which the
spreadsheet shows and never evaluates. In XLSX every text cell is written as a string
cell (``write_string``, ``strings_to_formulas`` off), which a spreadsheet never
evaluates, so the text stays exactly as typed. Headers go through the same rule: custom
field labels are typed by people too. Numbers, dates and booleans come from typed
columns, never from text, so they are written as they are (a negative amount is a
number, not a formula).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO, TypeAlias

import xlsxwriter

Cell: TypeAlias = str | int | float | Decimal | dt.date | dt.datetime | bool | None

# What makes a spreadsheet read a cell as a formula (OWASP), and the full-width forms
# that some East Asian locales of Excel treat the same way.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# Excel opens a UTF-8 CSV correctly only when it starts with a byte order mark.
UTF8_BOM = "\ufeff"
# Rows encoded per chunk of a CSV stream: large enough to keep the per-chunk overhead
# (a network write, a file write) negligible, small enough to stay a few hundred KB.
CSV_ROWS_PER_CHUNK = 500
# An XLSX worksheet holds 1,048,576 rows; the header takes one. Larger exports continue
# on a second sheet ("Contacts (2)") with the header repeated.
XLSX_MAX_ROWS = 1_048_576
# Longest text an XLSX cell holds; longer text is cut (only very long notes reach it).
XLSX_MAX_TEXT = 32_767
# Characters a worksheet name may not have, and its length limit.
_SHEET_FORBIDDEN = str.maketrans("", "", "[]:*?/\\")
_SHEET_MAX = 31


def neutralise(text: str) -> str:
    """``text`` made safe for a CSV cell: prefixed with ``'`` when a spreadsheet would
    read it as a formula, unchanged otherwise."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def csv_text(value: Cell) -> str:
    """One cell as CSV text: text neutralised, numbers plain, dates in ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def csv_chunks(
    header: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    rows_per_chunk: int = CSV_ROWS_PER_CHUNK,
) -> Iterator[bytes]:
    """The CSV file as a stream of UTF-8 chunks: the byte order mark and the header
    first (so a download starts at once), then every ``rows_per_chunk`` rows.

    RFC 4180: comma-separated, CRLF line ends, fields with a comma, a quote or a line
    break are quoted, quotes doubled.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    buffer.write(UTF8_BOM)
    writer.writerow([neutralise(label) for label in header])
    yield buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    pending = 0
    for row in rows:
        writer.writerow([csv_text(value) for value in row])
        pending += 1
        if pending == rows_per_chunk:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue().encode("utf-8")


def write_csv(out: BinaryIO, header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> None:
    """Write the CSV file (see :func:`csv_chunks`) to ``out``."""
    for chunk in csv_chunks(header, rows):
        out.write(chunk)


def sheet_name(title: str, number: int = 1) -> str:
    """A valid worksheet name from ``title``: forbidden characters dropped, at most 31
    characters, `` (2)`` and on for the sheets after the first."""
    suffix = f" ({number})" if number > 1 else ""
    base = title.translate(_SHEET_FORBIDDEN).strip("' ") or "Export"
    return base[: _SHEET_MAX - len(suffix)] + suffix


def write_xlsx(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    title: str,
    widths: Sequence[int] | None = None,
    max_rows: int = XLSX_MAX_ROWS,
) -> None:
    """Write an XLSX workbook to ``path``, row by row.

    ``constant_memory`` makes xlsxwriter flush each row to a temporary file (in the
    target's directory, which is known to have room) as soon as the next one starts, so
    memory stays flat whatever the row count. Its price: rows must come in order, and
    text is stored inline instead of in a shared-strings table (a larger file). A sheet
    holds ``max_rows`` rows with its header; the rest continue on the next sheet.
    """
    workbook = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "tmpdir": str(path.parent),
            # Text is text: never a formula, a link or a number guessed from it.
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    try:
        bold = workbook.add_format({"bold": True})
        date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
        time_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        labels = [label[:XLSX_MAX_TEXT] for label in header]

        def new_sheet(number: int) -> xlsxwriter.worksheet.Worksheet:
            sheet = workbook.add_worksheet(sheet_name(title, number))
            for col, width in enumerate(widths or ()):
                sheet.set_column(col, col, width)
            sheet.freeze_panes(1, 0)
            for col, label in enumerate(labels):
                sheet.write_string(0, col, label, bold)
            return sheet

        number = 1
        sheet = new_sheet(number)
        row_index = 0
        for row in rows:
            row_index += 1
            if row_index == max_rows:
                number += 1
                sheet = new_sheet(number)
                row_index = 1
            for col, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, str):
                    if value:
                        sheet.write_string(row_index, col, value[:XLSX_MAX_TEXT])
                elif isinstance(value, bool):
                    sheet.write_boolean(row_index, col, value)
                elif isinstance(value, dt.datetime):
                    sheet.write_datetime(row_index, col, value, time_format)
                elif isinstance(value, dt.date):
                    sheet.write_datetime(row_index, col, value, date_format)
                else:
                    sheet.write_number(row_index, col, float(value))
    finally:
        workbook.close()
