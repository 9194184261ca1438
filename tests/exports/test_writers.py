"""The CSV and XLSX writers: RFC 4180 CSV with a BOM, typed XLSX cells, and text that
a spreadsheet would run as a formula neutralised in both."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest

from app.exports.writers import (
    csv_chunks,
    neutralise,
    sheet_name,
    write_csv,
    write_xlsx,
)
from tests.exports.conftest import read_csv, read_xlsx, xlsx_values

ATTACKS = [
    "=cmd|' /C calc'!A0",
    "@SUM(1)",
    "+1",
    "-1",
    "\tleading tab",
    "\rleading return",
    '=HYPERLINK("http://evil.example","click")',
    "\uff1d1+1",  # full-width equals sign
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_formula_triggers_get_a_quote(attack: str) -> None:
    assert neutralise(attack) == "'" + attack


@pytest.mark.parametrize("text", ["Ada", "", " =not first", "a=b", "50%", "'quoted", "1-2"])
def test_other_text_is_unchanged(text: str) -> None:
    assert neutralise(text) == text


def _csv(header: list[str], rows: list[list[object]]) -> bytes:
    out = io.BytesIO()
    write_csv(out, header, rows)  # type: ignore[arg-type]
    return out.getvalue()


def test_csv_is_rfc4180_with_a_bom_and_crlf() -> None:
    data = _csv(
        ["Name", "Notes"],
        [["Ada, Countess", 'She said "hi"'], ["Line", "one\r\ntwo"], ["Zoë 東京", None]],
    )
    assert data.startswith(b"\xef\xbb\xbfName,Notes\r\n")
    assert b'"Ada, Countess","She said ""hi"""\r\n' in data
    assert b'Line,"one\r\ntwo"\r\n' in data
    assert data.endswith("Zoë 東京,\r\n".encode())
    assert read_csv(data) == [
        ["Name", "Notes"],
        ["Ada, Countess", 'She said "hi"'],
        ["Line", "one\r\ntwo"],
        ["Zoë 東京", ""],
    ]


def test_csv_neutralises_cells_and_headers_but_not_typed_values() -> None:
    rows = [[attack, -12.5, Decimal("-3.10"), 7] for attack in ATTACKS]
    data = _csv(["=HEADER()", "Amount", "Money", "n"], rows)
    parsed = read_csv(data)
    assert parsed[0] == ["'=HEADER()", "Amount", "Money", "n"]
    for attack, row in zip(ATTACKS, parsed[1:], strict=True):
        assert row == ["'" + attack, "-12.5", "-3.10", "7"]


def test_csv_cells_of_every_type() -> None:
    stamp = dt.datetime(2026, 1, 2, 3, 4, 5)  # noqa: DTZ001 - the writers take naive UTC
    parsed = read_csv(_csv(["a"] * 6, [[dt.date(2026, 1, 2), stamp, True, False, None, 1.5]]))
    assert parsed[1] == ["2026-01-02", "2026-01-02 03:04:05", "TRUE", "FALSE", "", "1.5"]


def test_csv_streams_in_chunks() -> None:
    rows = ([str(n)] for n in range(1201))
    chunks = list(csv_chunks(["n"], rows, rows_per_chunk=500))
    # BOM and header first (a download starts at once), then 500, 500 and 201 rows.
    assert chunks[0] == b"\xef\xbb\xbfn\r\n"
    assert [chunk.count(b"\r\n") for chunk in chunks[1:]] == [500, 500, 201]


def test_csv_chunks_consume_rows_lazily() -> None:
    consumed = []

    def rows():  # type: ignore[no-untyped-def]
        for n in range(10_000):
            consumed.append(n)
            yield [n]

    stream = csv_chunks(["n"], rows(), rows_per_chunk=100)
    next(stream)
    next(stream)
    assert len(consumed) == 100


def test_xlsx_cells_are_typed_and_text_is_never_a_formula(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    stamp = dt.datetime(2026, 1, 2, 3, 4, 5)  # noqa: DTZ001 - the writers take naive UTC
    rows = [
        [attack, -12.5, Decimal("1234.50"), dt.date(2026, 1, 2), stamp, True, None]
        for attack in ATTACKS
    ]
    write_xlsx(
        path, ["=HEADER()", "n", "m", "d", "t", "b", "x"], rows, title="Contacts", widths=[10] * 7
    )
    sheets = read_xlsx(path.read_bytes())
    assert list(sheets) == ["Contacts"]
    sheet = sheets["Contacts"]
    assert all(cell["formula"] is None for row in sheet for cell in row.values())
    assert sheet[0]["A"] == {"type": "inlineStr", "text": "=HEADER()", "formula": None}
    for attack, row in zip(ATTACKS, sheet[1:], strict=True):
        # Stored exactly as typed, as a text cell: shown, never evaluated.
        assert row["A"]["type"] == "inlineStr" and row["A"]["text"] == attack
        assert row["B"]["type"] == "n" and float(row["B"]["text"]) == -12.5
        assert float(row["C"]["text"]) == 1234.5
        assert float(row["D"]["text"]) == 46024  # 2026-01-02 as a spreadsheet date
        assert float(row["E"]["text"]) == pytest.approx(46024 + (3 * 3600 + 4 * 60 + 5) / 86400)
        assert row["F"]["type"] == "b" and row["F"]["text"] == "1"
        assert "G" not in row


def test_xlsx_continues_on_a_new_sheet_when_one_is_full(tmp_path: Path) -> None:
    path = tmp_path / "big.xlsx"
    write_xlsx(path, ["n"], ([str(n)] for n in range(7)), title="Deals", max_rows=4)
    sheets = read_xlsx(path.read_bytes())
    assert list(sheets) == ["Deals", "Deals (2)", "Deals (3)"]
    assert [xlsx_values(rows) for rows in sheets.values()] == [
        [["n"], ["0"], ["1"], ["2"]],
        [["n"], ["3"], ["4"], ["5"]],
        [["n"], ["6"]],
    ]


def test_sheet_names_are_valid() -> None:
    assert sheet_name("Contacts") == "Contacts"
    assert sheet_name("a/b:c*d?e[f]g\\h") == "abcdefgh"
    assert sheet_name("x" * 40, 12) == "x" * 26 + " (12)"
    assert sheet_name("[]") == "Export"
