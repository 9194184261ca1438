"""Small XLSX files written by hand with zipfile (no spreadsheet library needed): real
workbooks for the happy paths, and broken or hostile ones for the refusals."""

# ruff: noqa: E501  (the OOXML boilerplate below is kept as the format writes it)

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any
from xml.sax.saxutils import escape

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>
{sheets}
</Types>"""
SHEET_TYPE = (
    '<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
)
ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""
WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets>{sheets}</sheets>
</workbook>"""
WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
{sheets}
<Relationship Id="rIdStyles" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>
</Relationships>"""
# Style 1 is a date (built-in number format 14).
STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>
<fills count="1"><fill><patternFill patternType="none"/></fill></fills>
<borders count="1"><border/></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>
</styleSheet>"""
EPOCH = dt.date(1899, 12, 30)


class Formula:
    """A formula cell with its cached value (what spreadsheet programs show)."""

    def __init__(self, formula: str, cached: Any) -> None:
        self.formula = formula
        self.cached = cached


def _column(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _cell(ref: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, Formula):
        cached = value.cached
        kind = ' t="str"' if isinstance(cached, str) else ""
        return f'<c r="{ref}"{kind}><f>{escape(value.formula)}</f><v>{escape(str(cached))}</v></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, dt.date):
        return f'<c r="{ref}" s="1"><v>{(value - EPOCH).days}</v></c>'
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return (
        f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(str(value))}</t></is></c>'
    )


def sheet_xml(rows: Iterable[Sequence[Any]]) -> Iterable[str]:
    """The XML of one worksheet, in pieces (a big sheet is never one string)."""
    yield (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        "<sheetData>"
    )
    for r, row in enumerate(rows, start=1):
        cells = "".join(_cell(f"{_column(c)}{r}", v) for c, v in enumerate(row))
        yield f'<row r="{r}">{cells}</row>'
    yield "</sheetData></worksheet>"


def write_xlsx(target: Any, sheets: dict[str, Iterable[Sequence[Any]]]) -> None:
    """Write a workbook with ``sheets`` (name -> rows) to a path or file object."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        names = list(sheets)
        archive.writestr(
            "[Content_Types].xml",
            CONTENT_TYPES.format(
                sheets="".join(SHEET_TYPE.format(n=i) for i in range(1, len(names) + 1))
            ),
        )
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr(
            "xl/workbook.xml",
            WORKBOOK.format(
                sheets="".join(
                    f'<sheet name="{escape(name)}" sheetId="{i}" r:id="rId{i}"/>'
                    for i, name in enumerate(names, start=1)
                )
            ),
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            WORKBOOK_RELS.format(
                sheets="".join(
                    f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/'
                    f'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
                    for i in range(1, len(names) + 1)
                )
            ),
        )
        archive.writestr("xl/styles.xml", STYLES)
        for i, name in enumerate(names, start=1):
            with archive.open(f"xl/worksheets/sheet{i}.xml", "w") as part:
                for piece in sheet_xml(sheets[name]):
                    part.write(piece.encode())


def xlsx_bytes(rows: Iterable[Sequence[Any]], sheet: str = "Contacts", **more: Any) -> bytes:
    """A workbook with one sheet of ``rows`` (and any ``more`` sheets) as bytes."""
    buffer = io.BytesIO()
    write_xlsx(buffer, {sheet: rows, **more})
    return buffer.getvalue()


def bomb_bytes(inflated_mb: int = 200) -> bytes:
    """A workbook whose sheet inflates to ``inflated_mb`` MB of zeros from a few hundred
    KB: a zip bomb as people build them."""
    good = io.BytesIO(xlsx_bytes([["Email"], ["a@example.com"]]))
    out = io.BytesIO()
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dest:
        for item in source.infolist():
            if item.filename == "xl/worksheets/sheet1.xml":
                with dest.open(item.filename, "w") as part:
                    block = b"0" * (1024 * 1024)
                    for _ in range(inflated_mb):
                        part.write(block)
            else:
                dest.writestr(item, source.read(item))
    return out.getvalue()


def lying_bytes() -> bytes:
    """A workbook whose sheet declares a small size but inflates to far more: the
    directory looks harmless, the data is not."""
    honest = xlsx_bytes([["Email"], *([f"p{i}@example.com"] for i in range(20000))])
    data = bytearray(honest)
    with zipfile.ZipFile(io.BytesIO(honest)) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    # Rewrite the declared uncompressed size (local header and central directory).
    real = info.file_size.to_bytes(4, "little")
    fake = (1000).to_bytes(4, "little")
    for offset in _find_all(data, real):
        data[offset : offset + 4] = fake
    return bytes(data)


def _find_all(data: bytearray, needle: bytes) -> list[int]:
    found, start = [], 0
    while (at := data.find(needle, start)) != -1:
        found.append(at)
        start = at + 1
    return found
