"""Reading uploaded CSV and XLSX files: every check that can refuse a file as a whole
runs before anything is written, then rows come out one at a time.

A file is refused (:class:`FileRefused`, with a message for people) when it can not be
read as a table: an encoding that does not decode, a line longer than the line cap
(read in pieces, never whole), missing, empty or duplicate column names, a first row
that looks like data, too many rows or columns, a ZIP that is not a workbook, or a
workbook whose parts would inflate past the caps (a "zip bomb"). :func:`analyse` reads
the whole file once for this, so an import never stops half-way on a file problem.

XLSX files are never handed to the parser as uploaded. Their ZIP directory is checked
first (declared sizes and compression ratios), then :func:`repack_xlsx` copies the XML
parts through Python's ``zipfile``, which inflates no member past its declared size and
checks its CRC: a member that lies about its size is refused instead of inflating
without end inside the parser. The parser (calamine, in Rust) reads the honest copy.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from flask_babel import lazy_gettext as _l

# A cell as the validators get it: text, or a date/datetime from a date-formatted XLSX
# cell (so that dates never travel through a locale's text form).
Cell = str | dt.date

CSV_DELIMITERS = (",", ";", "\t", "|")
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the pre-2007 binary .xls format
# Encodings a CSV may be read with when it is not UTF-8 (charset-normalizer's guess is
# only taken from this list: a rare guess on a short sample is usually wrong).
FALLBACK_ENCODINGS = {
    "cp1252": "Windows-1252",
    "iso8859_1": "Latin-1",
    "iso8859_15": "Latin-9",
    "cp1250": "Windows-1250",
    "cp1251": "Windows-1251",
    "mac_roman": "Mac Roman",
}
_EMAILISH = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
_NUMBERISH = re.compile(r"^[+(]?[0-9][0-9 ()./-]{4,}$")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_READ_CHUNK = 1024 * 1024


class FileRefused(Exception):
    """The file can not be imported at all; ``message`` tells people why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ReadLimits:
    """The caps a file must fit (from the app's settings)."""

    max_rows: int = 1_000_000
    max_columns: int = 200
    line_cap: int = 1024 * 1024
    max_header_length: int = 200
    # XLSX: all parts together once inflated, and the largest ratio a big part may have.
    max_uncompressed: int = 1024 * 1024 * 1024
    max_ratio: int = 200
    max_members: int = 10_000


@dataclass
class FileInfo:
    """What :func:`analyse` learnt about a file."""

    kind: str
    headers: list[str]
    total_rows: int
    encoding: str | None = None
    delimiter: str | None = None
    sheet_name: str | None = None
    notices: list[str] = field(default_factory=list)


def sniff_kind(head: bytes) -> str:
    """``csv`` or ``xlsx`` from the file's first bytes (never from its name)."""
    if head.startswith(ZIP_MAGIC):
        return "xlsx"
    if head.startswith(OLE_MAGIC):
        raise FileRefused(
            str(
                _l("This is an old Excel file (.xls). Save it as .xlsx or CSV and upload it again.")
            )
        )
    if head.startswith(b"%PDF"):
        raise FileRefused(str(_l("This is a PDF. Upload a CSV or XLSX file.")))
    return "csv"


# ------------------------------------------------------------------------------- CSV


def _bom_encoding(head: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    return None


def _decodes(path: Path, encoding: str) -> bool:
    """Whether the whole file decodes with ``encoding`` (read 1 MiB at a time)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with path.open("rb") as raw:
            while chunk := raw.read(_READ_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 text without a BOM shows NUL in every other byte of ASCII text."""
    even, odd = sample[0::2], sample[1::2]
    if odd and odd.count(0) > len(odd) * 0.4 and even.count(0) < len(even) * 0.1:
        return "utf-16-le"
    if even and even.count(0) > len(even) * 0.4 and odd.count(0) < len(odd) * 0.1:
        return "utf-16-be"
    return None


def detect_encoding(path: Path) -> tuple[str, list[str]]:
    """The encoding to read a CSV with, and a notice when it is not UTF-8 (people should
    check accented letters in the preview)."""
    with path.open("rb") as raw:
        sample = raw.read(256 * 1024)
    bom = _bom_encoding(sample)
    if bom is not None:
        if not _decodes(path, bom):
            raise FileRefused(
                str(
                    _l(
                        "The file starts like %(encoding)s text but does not decode as it.",
                        encoding=bom.upper(),
                    )
                )
            )
        return bom, []
    if b"\x00" in sample:
        utf16 = _utf16_without_bom(sample)
        if utf16 is not None and _decodes(path, utf16):
            return utf16, [str(_l("The file is UTF-16 without a byte order mark."))]
        raise FileRefused(str(_l("This does not look like a CSV file: it contains binary data.")))
    if _decodes(path, "utf-8"):
        return "utf-8", []
    # Windows-1252 first: it is what spreadsheet programs write outside UTF-8 in most of
    # the world, and a guess from a few accented letters is often another code page.
    # The detector's guess wins only with enough non-ASCII text to go on.
    candidates = ["cp1252"]
    if sum(byte > 0x7F for byte in sample) >= 64:
        from charset_normalizer import from_bytes

        guess = from_bytes(sample).best()
        if guess is not None:
            candidates.insert(0, guess.encoding)
    candidates.append("latin_1")
    for encoding in candidates:
        name = codecs.lookup(encoding).name.replace("-", "_")
        label = FALLBACK_ENCODINGS.get(name)
        if label is not None and _decodes(path, name):
            notice = _l(
                "The file is not UTF-8; it was read as %(encoding)s. Check that accented "
                "letters look right in the preview.",
                encoding=label,
            )
            return name, [str(notice)]
    raise FileRefused(
        str(_l("The file's text encoding could not be recognised. Save it as UTF-8."))
    )


class _LineTooLong(Exception):
    def __init__(self, line_number: int) -> None:
        super().__init__(line_number)
        self.line_number = line_number


def _capped_lines(stream: IO[str], cap: int) -> Iterator[str]:
    """The stream's lines, refusing one longer than ``cap`` characters after reading at
    most ``cap + 1`` of it (a 10 MB line is never held whole)."""
    number = 0
    while True:
        line = stream.readline(cap + 1)
        if not line:
            return
        number += 1
        if len(line) > cap and not line.endswith(("\n", "\r")):
            raise _LineTooLong(number)
        yield line


def _pick_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in CSV_DELIMITERS}
    best = max(CSV_DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


@contextmanager
def _csv_text(path: Path, encoding: str) -> Iterator[IO[str]]:
    with path.open("rb") as raw, io.TextIOWrapper(raw, encoding=encoding, newline="") as text:
        yield text


def _too_long(exc: _LineTooLong, limits: ReadLimits) -> FileRefused:
    return FileRefused(
        str(
            _l(
                "Line %(line)s is longer than %(cap)s characters. Nothing was "
                "imported; check the file's delimiter and quotes.",
                line=exc.line_number,
                cap=f"{limits.line_cap:,}",
            )
        )
    )


def _undecodable(encoding: str) -> FileRefused:
    return FileRefused(
        str(_l("The file's text does not decode as %(encoding)s.", encoding=encoding))
    )


def _csv_records(
    path: Path, encoding: str, delimiter: str, limits: ReadLimits
) -> Iterator[list[str]]:
    """Every record of the CSV (header included, blank ones too), or FileRefused."""
    with _csv_text(path, encoding) as text:
        reader = csv.reader(_capped_lines(text, limits.line_cap), delimiter=delimiter)
        try:
            yield from reader
        except _LineTooLong as exc:
            raise _too_long(exc, limits) from exc
        except csv.Error as exc:
            raise FileRefused(
                str(
                    _l(
                        "Line %(line)s can not be read as CSV (%(problem)s). Check for a "
                        "quote that is never closed.",
                        line=reader.line_num,
                        problem=str(exc),
                    )
                )
            ) from exc
        except UnicodeDecodeError as exc:
            raise _undecodable(encoding) from exc


def _csv_cells(
    path: Path, encoding: str, delimiter: str, limits: ReadLimits
) -> Iterator[list[Cell]]:
    """The CSV's records typed as rows of cells (text cells only)."""
    return cast(Iterator[list[Cell]], _csv_records(path, encoding, delimiter, limits))


def _first_line(path: Path, encoding: str, limits: ReadLimits) -> str:
    with _csv_text(path, encoding) as text:
        try:
            for line in _capped_lines(text, limits.line_cap):
                if line.strip():
                    return line
        except _LineTooLong as exc:
            raise _too_long(exc, limits) from exc
        except UnicodeDecodeError as exc:
            raise _undecodable(encoding) from exc
    raise FileRefused(str(_l("The file is empty.")))


# ------------------------------------------------------------------------------ XLSX


def check_zip(path: Path, limits: ReadLimits) -> None:
    """Refuse a ZIP that is not a readable workbook or that would inflate too far, from
    its directory alone (nothing is inflated here)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FileRefused(str(_l("The file is not a valid XLSX workbook."))) from exc
    names = {m.filename for m in members}
    if "xl/workbook.xml" not in names:
        raise FileRefused(str(_l("This ZIP file is not an XLSX workbook.")))
    if any(m.flag_bits & 0x1 for m in members):
        raise FileRefused(str(_l("The workbook is password-protected. Remove the password first.")))
    if len(members) > limits.max_members:
        raise FileRefused(str(_l("The workbook has too many parts to be a spreadsheet.")))
    total = sum(m.file_size for m in members)
    if total > limits.max_uncompressed:
        raise FileRefused(
            str(
                _l(
                    "The workbook would take %(size)s MB once unpacked, more than the %(cap)s "
                    "MB allowed. Nothing was imported.",
                    size=f"{total // (1024 * 1024):,}",
                    cap=f"{limits.max_uncompressed // (1024 * 1024):,}",
                )
            )
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > 1024 * 1024 and ratio > limits.max_ratio:
            raise FileRefused(
                str(
                    _l(
                        "The workbook is compressed suspiciously well (a part grows %(ratio)s "
                        "times when unpacked); it looks like a zip bomb and was refused.",
                        ratio=f"{int(ratio):,}",
                    )
                )
            )


def repack_xlsx(source: Path, dest: Path, limits: ReadLimits) -> None:
    """Copy the workbook's XML parts into a fresh ZIP at ``dest`` (see the module
    docstring); images, macros and other binaries are left behind."""
    check_zip(source, limits)
    inflated = 0
    try:
        with (
            zipfile.ZipFile(source) as archive,
            zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out,
        ):
            for member in archive.infolist():
                name = member.filename
                if member.is_dir() or not name.endswith((".xml", ".rels")):
                    continue
                with archive.open(member) as part, out.open(name, "w") as copy:
                    while piece := part.read(_READ_CHUNK):
                        inflated += len(piece)
                        if inflated > limits.max_uncompressed:
                            raise FileRefused(
                                str(_l("The workbook unpacks to more than is allowed."))
                            )
                        copy.write(piece)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        # zipfile refuses a member whose data does not match its declared size or CRC.
        raise FileRefused(str(_l("The workbook is damaged and can not be read."))) from exc


def xlsx_cell(value: Any) -> Cell:
    """A calamine cell as the validators take it: text, or a date for date cells."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time(0) else value
    if isinstance(value, dt.date):
        return value
    return str(value)


@contextmanager
def _xlsx_sheet(path: Path, sheet_name: str | None) -> Iterator[tuple[str, Any]]:
    from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except (CalamineError, OSError, ValueError) as exc:
        raise FileRefused(
            str(_l("The workbook could not be read: %(problem)s", problem=exc))
        ) from exc
    try:
        sheets = [
            meta.name
            for meta in workbook.sheets_metadata
            if meta.typ == SheetTypeEnum.WorkSheet and meta.visible == SheetVisibleEnum.Visible
        ]
        if sheet_name is None:
            if not sheets:
                raise FileRefused(str(_l("The workbook has no visible worksheet.")))
            sheet_name = sheets[0]
        elif sheet_name not in workbook.sheet_names:
            raise FileRefused(
                str(_l("The workbook has no sheet named “%(name)s”.", name=sheet_name))
            )
        try:
            sheet = workbook.get_sheet_by_name(sheet_name)
        except (CalamineError, ValueError) as exc:
            raise FileRefused(
                str(_l("The worksheet could not be read: %(problem)s", problem=exc))
            ) from exc
        yield sheet_name, sheet
    finally:
        workbook.close()


def _xlsx_records(sheet: Any) -> Iterator[tuple[int, list[Cell]]]:
    start = sheet.start
    first_row = (start[0] if start else 0) + 1
    for offset, values in enumerate(sheet.iter_rows()):
        yield first_row + offset, [xlsx_cell(v) for v in values]


# ------------------------------------------------------------------------------ both


def _blank(cells: list[Any]) -> bool:
    try:
        return not "".join(cells).strip()
    except TypeError:  # a date cell: not blank
        return False


def clean_headers(cells: list[Cell], limits: ReadLimits) -> list[str]:
    """The column names of a header row, or FileRefused saying what is wrong."""
    headers = [str(c).replace("\ufeff", "").strip() for c in cells]
    while headers and not headers[-1]:
        headers.pop()
    if not headers:
        raise FileRefused(str(_l("The first row is empty: it must hold the column names.")))
    if len(headers) > limits.max_columns:
        raise FileRefused(
            str(
                _l(
                    "The file has %(n)s columns; at most %(max)s can be imported.",
                    n=len(headers),
                    max=limits.max_columns,
                )
            )
        )
    seen: dict[str, int] = {}
    for number, name in enumerate(headers, start=1):
        if not name:
            raise FileRefused(
                str(
                    _l(
                        "Column %(n)s has no name. Give every column a name in the first row.",
                        n=number,
                    )
                )
            )
        if len(name) > limits.max_header_length:
            raise FileRefused(str(_l("The name of column %(n)s is too long.", n=number)))
        if _EMAILISH.match(name) or _NUMBERISH.match(name):
            raise FileRefused(
                str(
                    _l(
                        "The first row must hold the column names, but “%(value)s” looks "
                        "like data. Add a row of column names at the top.",
                        value=name,
                    )
                )
            )
        key = name.casefold()
        if key in seen:
            raise FileRefused(
                str(
                    _l(
                        "Columns %(first)s and %(second)s are both named “%(name)s”. Give "
                        "each column its own name.",
                        first=seen[key],
                        second=number,
                        name=name,
                    )
                )
            )
        seen[key] = number
    return headers


def _rows_after_header(
    records: Iterator[tuple[int, list[Cell]]], limits: ReadLimits
) -> tuple[list[str], Iterator[tuple[int, list[Cell]]]]:
    for _number, cells in records:
        if not _blank(cells):
            headers = clean_headers(cells, limits)
            return headers, ((number, row) for number, row in records if not _blank(row))
    raise FileRefused(str(_l("The file is empty.")))


@contextmanager
def open_rows(
    path: Path, info: FileInfo, limits: ReadLimits
) -> Iterator[Iterator[tuple[int, list[Cell]]]]:
    """The data rows of an analysed file, one at a time, each with its row number as a
    spreadsheet shows it (the header is row 1 of a CSV). Blank rows are left out."""
    if info.kind == "csv":
        assert info.encoding is not None and info.delimiter is not None
        records = enumerate(_csv_cells(path, info.encoding, info.delimiter, limits), start=1)
        _headers, rows = _rows_after_header(records, limits)
        yield rows
        return
    with _xlsx_sheet(path, info.sheet_name) as (_name, sheet):
        _headers, rows = _rows_after_header(_xlsx_records(sheet), limits)
        yield rows


def _count(rows: Iterator[Any], cap: int) -> int:
    """How many rows, counting one past ``cap`` at most."""
    total = 0
    for _row in rows:
        total += 1
        if total > cap:
            break
    return total


def analyse(path: Path, kind: str, limits: ReadLimits, sheet: str | None = None) -> FileInfo:
    """Read the whole file once: its encoding and delimiter (CSV), its column names and
    how many data rows it has; raise FileRefused for anything that stops an import.
    ``path`` of an XLSX must be the copy made by :func:`repack_xlsx`."""
    if kind == "csv":
        encoding, notices = detect_encoding(path)
        delimiter = _pick_delimiter(_first_line(path, encoding, limits))
        info = FileInfo("csv", [], 0, encoding=encoding, delimiter=delimiter, notices=notices)
        records = enumerate(_csv_cells(path, encoding, delimiter, limits), start=1)
        headers, rows = _rows_after_header(records, limits)
        total = _count(rows, limits.max_rows)
    else:
        info = FileInfo("xlsx", [], 0, sheet_name=sheet)
        with _xlsx_sheet(path, sheet) as (name, sheet_obj):
            info.sheet_name = name
            headers, rows = _rows_after_header(_xlsx_records(sheet_obj), limits)
            total = _count(rows, limits.max_rows)
    if total > limits.max_rows:
        raise FileRefused(
            str(
                _l(
                    "The file has more than %(max)s rows. Split it into smaller files.",
                    max=f"{limits.max_rows:,}",
                )
            )
        )
    if total == 0:
        raise FileRefused(str(_l("The file has column names but no rows to import.")))
    info.headers = headers
    info.total_rows = total
    return info


def display_cell(cell: Cell) -> str:
    """A cell as text (dates in ISO form), for previews and reports."""
    if isinstance(cell, dt.date):
        return cell.isoformat()
    return cell
