"""Files as people upload them: encodings, BOMs, delimiters, XLSX workbooks, and every
file that can not be imported, each refused with a clear message and nothing kept."""

from __future__ import annotations

import codecs
import datetime as dt
from typing import Any

import pytest
from flask import Flask

from tests.api.conftest import Api, assert_error
from tests.conftest import TenantFixture
from tests.imports.conftest import contacts, job_count, run, upload
from tests.imports.workbooks import Formula, bomb_bytes, lying_bytes, xlsx_bytes

ROWS = "Name,E-mail\nZoë Müller,zoe@example.com\nJosé Núñez,jose@example.com\n"


def refused(api: Api, app: Flask, content: bytes | str, name: str = "f.csv") -> str:
    """Upload ``content``: 400 on ``file``, no job kept; returns the message."""
    before = job_count(app, api.tf)
    details = assert_error(upload(api, content, name), 400, "validation_error", "file")
    assert job_count(app, api.tf) == before
    message: str = details["file"][0]
    return message


@pytest.mark.parametrize(
    ("encoding", "bom", "notice"),
    [
        ("utf-8", b"", False),
        ("utf-8", codecs.BOM_UTF8, False),
        ("utf-16-le", codecs.BOM_UTF16_LE, False),
        ("utf-16-be", codecs.BOM_UTF16_BE, False),
        ("cp1252", b"", True),
    ],
)
def test_encodings_and_boms(api: Api, app: Flask, encoding: str, bom: bytes, notice: bool) -> None:
    job = run(api, bom + ROWS.encode(encoding))
    assert job["status"] == "done", job
    assert job["headers"] == ["Name", "E-mail"]  # no BOM left in the first name
    assert job["mapping"] == {"Name": "full_name", "E-mail": "email"}
    assert bool(job["notices"]) is notice
    if notice:
        assert "Windows-1252" in job["notices"][0]
    people = contacts(app, api.tf)
    assert [(c.first_name, c.last_name, c.email) for c in people] == [
        ("Zoë", "Müller", "zoe@example.com"),
        ("José", "Núñez", "jose@example.com"),
    ]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_and_quoted_multiline_cells(api: Api, app: Flask, delimiter: str) -> None:
    d = delimiter
    text = (
        f"First name{d}Last name{d}Notes\r\n"
        f'Ann{d}Lee{d}"Line one\r\nline two, with {d} inside"\r\n'
        f'Bo{d}"O""Brien"{d}\r\n'
    )
    job = run(api, text)
    assert job["delimiter"] == delimiter
    assert job["counts"] == {"created": 2, "updated": 0, "skipped": 0, "failed": 0}
    ann, bo = contacts(app, api.tf)
    assert ann.notes == f"Line one\r\nline two, with {d} inside"
    assert (bo.first_name, bo.last_name, bo.notes) == ("Bo", 'O"Brien', None)


def test_blank_rows_are_not_rows(api: Api, app: Flask) -> None:
    job = run(api, "\n\nEmail\n\na@example.com\n , \n\nb@example.com\n\n")
    assert job["total_rows"] == 2
    assert job["counts"]["created"] == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"\n\n  \n", "empty"),
        (b"Email\n", "no rows"),
        (b"ann@example.com,Ann\nbo@example.com,Bo\n", "looks like data"),
        (b"+1 555 0100,Ann\n", "looks like data"),
        (b"Email,,Name\na@example.com,x,Ann\n", "Column 2 has no name"),
        (b"Email,Name,email\na,b,c\n", "both named"),
        (b"\xff\xfeE\x00m\x00\x00\xd8", "does not decode"),  # UTF-16 BOM, broken surrogate
        (b"Email\x00Name\x00\x01\x02\x03\x04" * 50, "binary"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, ".xls"),
        (b"%PDF-1.7\n...", "PDF"),
        (b"PK\x03\x04not really a zip", "not a valid XLSX"),
    ],
)
def test_files_that_are_refused(api: Api, app: Flask, content: bytes, expected: str) -> None:
    assert expected in refused(api, app, content)


def test_a_zip_that_is_not_a_workbook(api: Api, app: Flask) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    assert "not an XLSX workbook" in refused(api, app, buffer.getvalue(), "contacts.csv")


def test_a_huge_line_is_refused_without_reading_it_whole(api: Api, app: Flask) -> None:
    line = "x" * (10 * 1024 * 1024)
    message = refused(api, app, f"Email,Notes\na@example.com,{line}\nb@example.com,ok\n")
    assert "Line 2 is longer than 1,048,576 characters" in message
    assert contacts(app, api.tf) == []


def test_an_unclosed_quote_is_refused_with_its_line(api: Api, app: Flask) -> None:
    body = 'Email,Notes\na@example.com,"never closed\n' + "b@example.com,more\n" * 20000
    assert "can not be read as CSV" in refused(api, app, body)


def test_more_rows_than_allowed(api: Api, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "IMPORT_MAX_ROWS", 5)
    message = refused(api, app, "Email\n" + "".join(f"p{i}@x.example\n" for i in range(6)))
    assert "more than 5 rows" in message


def test_a_file_over_the_size_cap(api: Api, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 1024)
    # Over the cap with the multipart envelope too: the request itself is refused
    # (the body is built by hand: the test client would spool a big one to a file).
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
        + b"Email\n"
        + b"a@example.com\n" * 200_000
        + b"\r\n--b--\r\n"
    )
    big = api.post("/imports", data=body, content_type="multipart/form-data; boundary=b")
    assert_error(big, 413, "payload_too_large")
    # Within the envelope's slack: refused on the field.
    message = refused(api, app, "Email\n" + "a@example.com\n" * 100)
    assert message == "The file is larger than 1 KB."


# ---------------------------------------------------------------------------- XLSX


def test_xlsx_with_dates_numbers_and_formulas(api: Api, app: Flask) -> None:
    rows: list[list[Any]] = [
        ["First name", "Last name", "Email", "Phone", "Birthday", "Notes"],
        ["Ann", "Lee", "ann@example.com", 15550100, dt.date(1990, 5, 17), Formula("1+1", 2)],
        ["Bo", "Ray", Formula('LOWER("BO@EXAMPLE.COM")', "bo@example.com"), None, None, "=cmd"],
        [None, None, None, None, None, None],
        ["Cy", "Doe", "cy@example.com", "+1 (555) 0102", "1985-01-02", True],
    ]
    job = run(api, xlsx_bytes(rows), name="people.xlsx")
    assert job["file_kind"] == "xlsx" and job["sheet_name"] == "Contacts"
    assert job["total_rows"] == 3
    assert job["counts"] == {"created": 3, "updated": 0, "skipped": 0, "failed": 0}, job
    ann, bo, cy = contacts(app, api.tf)
    assert (ann.phone, ann.birthday, ann.notes) == ("15550100", dt.date(1990, 5, 17), "2")
    # Formulas are never evaluated: the value the spreadsheet saved is taken.
    assert bo.email == "bo@example.com" and bo.notes == "=cmd"
    assert (cy.phone, cy.birthday, cy.notes) == ("+1 (555) 0102", dt.date(1985, 1, 2), "TRUE")


def test_xlsx_file_type_comes_from_the_content_not_the_name(api: Api, app: Flask) -> None:
    job = run(api, xlsx_bytes([["Email"], ["a@example.com"]]), name="contacts.csv")
    assert job["file_kind"] == "xlsx" and job["counts"]["created"] == 1
    job = run(api, "Email\nb@example.com\n", name="contacts.xlsx")
    assert job["file_kind"] == "csv" and job["counts"]["created"] == 1


def test_xlsx_sheet_choice(api: Api, app: Flask) -> None:
    content = xlsx_bytes([["Email"], ["a@example.com"]], Other=[["Email"], ["o@example.com"]])
    response = upload(api, content, "book.xlsx", sheet="Other")
    assert response.status_code == 201
    assert response.get_json()["sheet_name"] == "Other"
    details = assert_error(
        upload(api, content, "book.xlsx", sheet="Nope"), 400, "validation_error", "file"
    )
    assert "no sheet named" in details["file"][0]


def test_xlsx_bomb_is_refused_before_parsing(api: Api, app: Flask) -> None:
    bomb = bomb_bytes(200)
    assert len(bomb) < 1024 * 1024
    assert "zip bomb" in refused(api, app, bomb, "bomb.xlsx")


def test_xlsx_over_the_unpacked_cap(api: Api, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "IMPORT_MAX_UNCOMPRESSED", 1024 * 1024)
    content = xlsx_bytes(
        [["Email", "Notes"], *([f"p{i}@x.example", "n" * 200] for i in range(6000))]
    )
    message = refused(api, app, content, "big.xlsx")
    assert "once unpacked" in message


def test_xlsx_part_lying_about_its_size_is_refused(api: Api, app: Flask) -> None:
    assert "damaged" in refused(api, app, lying_bytes(), "liar.xlsx")


def test_xlsx_without_a_header_row(api: Api, app: Flask) -> None:
    content = xlsx_bytes([["ann@example.com", "Ann"], ["bo@example.com", "Bo"]])
    assert "looks like data" in refused(api, app, content, "nohead.xlsx")


def test_refusals_do_not_depend_on_the_workspace(
    api: Api, app: Flask, two_tenants: tuple[TenantFixture, TenantFixture]
) -> None:
    """A refused upload leaves no trace in either workspace."""
    refused(api, app, b"Email\n")
    assert job_count(app, two_tenants[1]) == 0
