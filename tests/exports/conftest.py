"""Fixtures of the export tests: a storage directory per test, records seeded straight
into a tenant's schema, and readers for the CSV and XLSX files the exports write."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from flask import Flask

from app.database import db
from tenants.context import tenant_context
from tests.conftest import TenantFixture
from tests.web.conftest import chromium, live_server, owner, tenant

__all__ = ["chromium", "live_server", "owner", "tenant"]

SHEET_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


@pytest.fixture(autouse=True)
def export_storage(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Export files of this test go to its own directory (removed with it)."""
    storage = tmp_path / "exports"
    monkeypatch.setitem(app.config, "EXPORT_STORAGE_DIR", str(storage))
    return storage


def add_rows(app: Flask, tf: TenantFixture, rows: list[Any]) -> list[int]:
    """Insert model instances into ``tf``'s schema in one transaction; their ids."""
    with app.app_context(), tenant_context(tf.tenant.ref):
        try:
            db.session.add_all(rows)
            db.session.commit()
            return [int(row.id) for row in rows]
        finally:
            db.session.remove()


def read_csv(data: bytes) -> list[list[str]]:
    """The rows of an exported CSV (which must start with a UTF-8 byte order mark and
    end its lines with CRLF)."""
    assert data.startswith(b"\xef\xbb\xbf"), data[:20]
    text = data[3:].decode("utf-8")
    assert text.split("\n", 1)[0].endswith("\r"), "the header line must end with CRLF"
    return list(csv.reader(io.StringIO(text, newline="")))


def read_xlsx(data: bytes) -> dict[str, list[dict[str, Any]]]:
    """Every worksheet of an XLSX file: name -> rows of ``{"ref", "type", "text",
    "formula"}`` cells, read from the XML itself (no spreadsheet library needed)."""
    book = zipfile.ZipFile(io.BytesIO(data))
    workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))  # noqa: S314 - our own file
    names = [sheet.get("name") for sheet in workbook.iter(f"{SHEET_NS}sheet")]
    shared: list[str] = []
    if "xl/sharedStrings.xml" in book.namelist():
        strings = ElementTree.fromstring(book.read("xl/sharedStrings.xml"))  # noqa: S314 - our own file
        shared = ["".join(t.text or "" for t in si.iter(f"{SHEET_NS}t")) for si in strings]
    sheets: dict[str, list[dict[str, Any]]] = {}
    for number, name in enumerate(names, start=1):
        root = ElementTree.fromstring(book.read(f"xl/worksheets/sheet{number}.xml"))  # noqa: S314 - our own file
        rows = []
        for row in root.iter(f"{SHEET_NS}row"):
            cells = {}
            for cell in row.iter(f"{SHEET_NS}c"):
                kind = cell.get("t", "n")
                value = cell.find(f"{SHEET_NS}v")
                inline = cell.find(f"{SHEET_NS}is")
                formula = cell.find(f"{SHEET_NS}f")
                if kind == "inlineStr" and inline is not None:
                    text = "".join(t.text or "" for t in inline.iter(f"{SHEET_NS}t"))
                elif kind == "s" and value is not None:
                    text = shared[int(value.text or "0")]
                else:
                    text = value.text if value is not None else None
                if text is not None and kind in ("inlineStr", "s", "str"):
                    # OOXML escapes control characters (and "_x") as _xHHHH_.
                    text = re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m[1], 16)), text)
                column = re.sub(r"[0-9]+", "", cell.get("r", ""))
                cells[column] = {
                    "type": kind,
                    "text": text,
                    "formula": formula.text if formula is not None else None,
                }
            rows.append(cells)
        sheets[str(name)] = rows
    return sheets


def xlsx_values(sheet: list[dict[str, Any]]) -> list[list[str | None]]:
    """A worksheet's cell texts, row by row, in column order (A, B, ... AA)."""

    def order(column: str) -> int:
        n = 0
        for char in column:
            n = n * 26 + ord(char) - 64
        return n

    width = max((order(c) for row in sheet for c in row), default=0)
    letters = {}
    for row in sheet:
        for column in row:
            letters[order(column)] = column
    return [
        [row.get(letters.get(i, ""), {}).get("text") for i in range(1, width + 1)] for row in sheet
    ]
