"""The import pages: upload -> map and preview -> start -> progress and report."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from flask import Flask

from tests.conftest import Factory, TenantFixture, csrf_token_from
from tests.imports.conftest import contacts, job_count, multipart
from tests.web.conftest import Browser, sign_in_as, text_of, visible_text


def _upload(owner: Browser, content: bytes, name: str = "people.csv", **fields: str) -> object:
    page = owner.get("/imports/new")
    token = csrf_token_from(text_of(page))
    body, content_type = multipart(
        {"csrf_token": token, "entity": "contact", **fields}, content, name
    )
    return owner.post("/imports/new", data=body, content_type=content_type)


def test_contacts_list_offers_the_import(owner: Browser) -> None:
    html = text_of(owner.get("/contacts"))
    assert 'href="/imports/new?entity=contact"' in html
    page = owner.get("/imports/new?entity=contact")
    assert page.status_code == 200
    html = text_of(page)
    assert 'enctype="multipart/form-data"' in html and "imports.js" in html
    assert "<script>" not in html and "style=" not in html


def test_upload_map_preview_start_and_report(
    owner: Browser, app: Flask, tenant: TenantFixture
) -> None:
    content = (
        b"Full name,E-mail,Notes\n"
        b"Ann Lee,ann@example.com,=1+1\n"
        b"Bo Ray,not-an-email,\n"
        b"Cy Doe,ANN@example.com,\n"
    )
    response = _upload(owner, content)
    assert response.status_code == 302, text_of(response)[:2000]
    match = re.search(r"/imports/(\d+)/map$", response.headers["Location"])
    assert match
    job_id = int(match.group(1))
    page = text_of(owner.get(f"/imports/{job_id}/map"))
    text = visible_text(page)
    assert "3 rows of contacts" in text and "Read as utf-8" in text
    assert 'option value="full_name" selected' in page and 'option value="email" selected' in page
    # The preview: row 3 fails, row 4 duplicates row 2.
    assert "Not a valid email address." in text
    assert "Duplicate of row 2 of this file." in text
    # Map Notes to nothing, preview again: kept as chosen, nothing imported yet.
    token = csrf_token_from(page)
    form = {
        "csrf_token": token,
        "col_0": "full_name",
        "col_1": "email",
        "col_2": "",
        "dedup_policy": "skip",
        "match_on_sent": "1",
        "match_on": "email",
        "action": "preview",
    }
    again = owner.post(f"/imports/{job_id}/map", data=form)
    assert again.status_code == 200
    assert '<option value="notes">' in text_of(again)
    assert contacts(app, tenant) == []
    # An impossible mapping is a field error, not a start.
    bad = owner.post(
        f"/imports/{job_id}/map", data={**form, "col_0": "", "col_1": "", "action": "start"}
    )
    assert bad.status_code == 200
    assert "Map a column to a name or to the email" in text_of(bad)
    started = owner.post(
        f"/imports/{job_id}/map", data={**form, "col_2": "notes", "action": "start"}
    )
    assert started.status_code == 302
    assert started.headers["Location"].endswith(f"/imports/{job_id}")
    report = text_of(owner.get(f"/imports/{job_id}"))
    text = visible_text(report)
    assert "The import started." in text and "Done" in text
    assert "Created 1" in text and "Skipped 1" in text and "Failed 1" in text
    assert "Row 3: email: Not a valid email address." in text
    assert "data-import-status" not in report  # finished: nothing to follow
    status = owner.get(f"/imports/{job_id}/status").get_json()
    assert status["status"] == "done" and status["progress"] == 100
    problems = owner.get(f"/imports/{job_id}/problems.csv")
    assert problems.status_code == 200 and problems.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(problems.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Row", "Outcome", "Reason", "Full name", "E-mail", "Notes"]
    assert [r[:2] for r in rows[1:]] == [["3", "failed"], ["4", "skipped"]]
    (ann,) = contacts(app, tenant)
    assert (ann.first_name, ann.last_name, ann.notes) == ("Ann", "Lee", "=1+1")
    listing = visible_text(text_of(owner.get("/imports")))
    assert "people.csv" in listing and "Done" in listing


def test_upload_refusals_are_field_errors(
    owner: Browser, app: Flask, tenant: TenantFixture
) -> None:
    response = _upload(owner, b"Email,Email\na,b\n")
    assert response.status_code == 200
    assert "both named" in visible_text(text_of(response))
    response = _upload(owner, b"")
    assert "The file is empty." in visible_text(text_of(response))
    page = owner.get("/imports/new")
    no_file = owner.post(
        "/imports/new", data={"csrf_token": csrf_token_from(text_of(page)), "entity": "contact"}
    )
    assert "Choose a CSV or XLSX file." in visible_text(text_of(no_file))
    assert job_count(app, tenant) == 0


def test_plan_cap_on_the_page(client: object, app: Flask, factory: Factory) -> None:
    from billing.models import UsageCounter
    from tests.api.conftest import seed_contacts, tenant_session

    tf = factory.tenant("capweb", plan="free")
    seed_contacts(app, tf, [{"first_name": f"P{i}"} for i in range(499)])
    with tenant_session(app, tf) as session:
        session.execute(
            UsageCounter.__table__.update()
            .where(UsageCounter.resource == "contacts")
            .values(used=499)
        )
        session.commit()
    owner = sign_in_as(app, tf, tf.owner_email)
    response = _upload(owner, b"Email\na@example.com\nb@example.com\n")
    job_id = int(response.headers["Location"].split("/")[-2])
    page = owner.get(f"/imports/{job_id}/map")
    started = owner.post(
        f"/imports/{job_id}/map",
        data={
            "csrf_token": csrf_token_from(text_of(page)),
            "col_0": "email",
            "dedup_policy": "skip",
            "match_on_sent": "1",
            "match_on": "email",
            "action": "start",
        },
    )
    assert started.status_code == 200
    assert "allows 500 contacts" in visible_text(text_of(started))
    assert len(contacts(app, tf)) == 499


def test_cancel_from_the_page(owner: Browser, app: Flask, tenant: TenantFixture) -> None:
    response = _upload(owner, b"Email\na@example.com\n")
    job_id = int(response.headers["Location"].split("/")[-2])
    detail = owner.get(f"/imports/{job_id}")
    token = csrf_token_from(text_of(detail))
    cancelled = owner.post(f"/imports/{job_id}/cancel", data={"csrf_token": token})
    assert cancelled.status_code == 302
    assert "The import was cancelled." in visible_text(text_of(owner.get(f"/imports/{job_id}")))
    assert owner.get(f"/imports/{job_id}/map").status_code == 302  # nothing left to map


def test_members_without_the_right_see_no_import(
    app: Flask, tenant: TenantFixture, factory: Factory
) -> None:
    _, email, _ = factory.member(tenant, role="sales_rep")
    rep = sign_in_as(app, tenant, email)
    assert "/imports/new" not in text_of(rep.get("/contacts"))
    assert rep.get("/imports/new").status_code == 403
    assert rep.get("/imports").status_code == 403


def test_resume_from_the_page(
    owner: Browser, app: Flask, tenant: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.imports import services

    monkeypatch.setitem(app.config, "IMPORT_CHUNK_ROWS", 2)
    original = services._Importer.write_chunk
    calls = {"n": 0}

    def dies_on_the_second_chunk(self: Any, rows: Any, results: Any = None) -> bool:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker lost")
        return original(self, rows, results)

    monkeypatch.setattr(services._Importer, "write_chunk", dies_on_the_second_chunk)
    response = _upload(owner, b"Email\na@example.com\nb@example.com\nc@example.com\n")
    job_id = int(response.headers["Location"].split("/")[-2])
    page = owner.get(f"/imports/{job_id}/map")
    form = {
        "csrf_token": csrf_token_from(text_of(page)),
        "col_0": "email",
        "dedup_policy": "skip",
        "match_on_sent": "1",
        "match_on": "email",
        "action": "start",
    }
    assert owner.post(f"/imports/{job_id}/map", data=form).status_code == 302
    detail = visible_text(text_of(owner.get(f"/imports/{job_id}")))
    assert "Stopped" in detail and "unexpected error" in detail and "Resume" in detail
    monkeypatch.undo()
    page = text_of(owner.get(f"/imports/{job_id}/map"))
    assert "2 of 3 rows were processed" in visible_text(page)
    assert "Resume the import" in page
    resumed = owner.post(
        f"/imports/{job_id}/map", data={**form, "csrf_token": csrf_token_from(page)}
    )
    assert resumed.status_code == 302
    assert sorted(c.email for c in contacts(app, tenant)) == [
        "a@example.com", "b@example.com", "c@example.com",
    ]  # fmt: skip
