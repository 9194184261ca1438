"""Export pages: the lists' Export menu, the direct download of a small list, the job
path of a large one (progress page, status, download), and the refusals."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.contacts.models import Contact
from app.exports.models import ExportJob
from tests.api.conftest import tenant_session
from tests.conftest import Factory, TenantFixture, csrf_token_from
from tests.exports.conftest import add_rows, read_csv, read_xlsx, xlsx_values
from tests.web.conftest import Browser, sign_in_as, text_of, visible_text


def _people(app: Flask, tf: TenantFixture) -> list[int]:
    return add_rows(
        app,
        tf,
        [
            Contact(first_name="Ada", last_name="Lovelace", email="ada@x.example",
                    owner_id=tf.owner_id),
            Contact(first_name="Alan", last_name="Turing", owner_id=tf.owner_id),
            Contact(first_name="Grace", last_name="Hopper", owner_id=tf.owner_id),
        ],
    )  # fmt: skip


def _menu_fields(html: str) -> dict[str, str]:
    """The hidden fields of the page's Export menu."""
    form = re.search(r'<form class="export-menu-panel".*?</form>', html, re.S)
    assert form, "no Export menu"
    return {
        name: unescape(value)
        for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(0))
    }


def _export(browser: Browser, list_path: str, fmt: str) -> object:
    """Open ``list_path`` and choose ``fmt`` in its Export menu."""
    page = browser.get(list_path)
    assert page.status_code == 200
    fields = _menu_fields(text_of(page))
    return browser.post("/exports", data={**fields, "format": fmt})


@pytest.mark.parametrize(
    ("path", "entity"),
    [("/contacts", "contact"), ("/companies", "company"), ("/deals", "deal")],
)
def test_every_list_has_the_export_menu(owner: Browser, path: str, entity: str) -> None:
    fields = _menu_fields(text_of(owner.get(f"{path}?q=ab&cursor=x")))
    assert fields["entity"] == entity
    assert fields["filters"] == "q=ab"  # the filter, without the page
    assert fields["csrf_token"]


def test_members_without_the_export_right_see_no_menu_and_are_refused(
    app: Flask, factory: Factory, tenant: TenantFixture, owner: Browser
) -> None:
    _, email, _ = factory.member(tenant, role="viewer")
    viewer = sign_in_as(app, tenant, email)
    page = text_of(viewer.get("/contacts"))
    assert "export-menu" not in page
    token = csrf_token_from(page)
    response = viewer.post(
        "/exports", data={"csrf_token": token, "entity": "contact", "format": "csv"}
    )
    assert response.status_code == 403
    assert viewer.get("/exports").status_code == 403


def test_a_small_filtered_list_downloads_at_once(
    app: Flask, tenant: TenantFixture, owner: Browser
) -> None:
    ada, _, _ = _people(app, tenant)
    response = _export(owner, "/contacts?q=Lovelace&sort=last_name", "csv")
    assert response.status_code == 200, text_of(response)[:500]  # type: ignore[attr-defined]
    assert response.mimetype == "text/csv"  # type: ignore[attr-defined]
    disposition = response.headers["Content-Disposition"]  # type: ignore[attr-defined]
    assert re.fullmatch(r'attachment; filename="contacts-\d{8}-\d{4}\.csv"', disposition)
    rows = read_csv(response.get_data())  # type: ignore[attr-defined]
    assert [row[:3] for row in rows[1:]] == [[str(ada), "Ada", "Lovelace"]]
    with tenant_session(app, tenant) as session:
        job = session.scalars(select(ExportJob)).one()
        assert (job.delivery, job.status, job.rows_written, job.filters) == (
            "stream", "done", 1, {"q": "Lovelace"}
        )  # fmt: skip
        audit = session.scalars(select(AuditEntry).where(AuditEntry.entity == "export")).one()
        assert audit.changes["rows"] == 1 and audit.changes["delivery"] == "stream"
    # Listed on the exports page, without a file to fetch again.
    page = visible_text(text_of(owner.get("/exports")))
    assert "Downloaded when it was made." in page and "q=Lovelace" in page


def test_a_small_xlsx_is_sent_and_kept_for_a_day(
    app: Flask, tenant: TenantFixture, owner: Browser
) -> None:
    _people(app, tenant)
    response = _export(owner, "/contacts", "xlsx")
    assert response.status_code == 200  # type: ignore[attr-defined]
    values = xlsx_values(read_xlsx(response.get_data())["Contacts"])  # type: ignore[attr-defined]
    response.close()  # type: ignore[attr-defined]
    assert sorted(row[1] for row in values[1:]) == ["Ada", "Alan", "Grace"]
    page = text_of(owner.get("/exports"))
    link = re.search(r'href="(/exports/\d+/download)"', page)
    assert link, page
    again = owner.get(link.group(1))
    assert again.status_code == 200 and again.get_data().startswith(b"PK")
    again.close()


def test_a_large_list_goes_to_a_worker_and_shows_its_progress(
    app: Flask, tenant: TenantFixture, owner: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    _people(app, tenant)
    monkeypatch.setitem(app.config, "EXPORT_DIRECT_MAX_ROWS", 2)
    response = _export(owner, "/contacts", "csv")
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert urlsplit(response.location).path == "/exports"  # type: ignore[attr-defined]
    page = text_of(owner.get("/exports"))
    assert "Your export is being prepared" in page
    job_id = int(re.search(r'id="export-(\d+)"', page).group(1))  # type: ignore[union-attr]
    status = owner.get(f"/exports/{job_id}/status").get_json()
    # No broker here: the task ran inside the request, so it is already done.
    assert status == {
        "id": job_id,
        "status": "done",
        "percent": 100,
        "rows_written": 3,
        "rows_total": 3,
        "error": None,
        "download_url": f"/exports/{job_id}/download",
    }
    assert "3 of 3 rows" in visible_text(page)
    download = owner.get(status["download_url"])
    assert download.status_code == 200
    assert len(read_csv(download.get_data())) == 4
    download.close()


def test_refused_exports_say_why(app: Flask, tenant: TenantFixture, owner: Browser) -> None:
    page = owner.get("/contacts")
    token = csrf_token_from(text_of(page))
    bad_filter = owner.post(
        "/exports",
        data={"csrf_token": token, "entity": "contact", "format": "csv",
              "filters": "created_from=yesterday"},
    )  # fmt: skip
    assert bad_filter.status_code == 303
    assert urlsplit(bad_filter.location).path == "/contacts"
    assert "Not exported: Give a date as YYYY-MM-DD." in text_of(owner.get("/contacts"))
    # Without the page's CSRF token the app refuses the post before the view (400).
    assert owner.post("/exports", data={"entity": "deal", "format": "csv"}).status_code == 400
    bad_format = owner.post(
        "/exports", data={"csrf_token": token, "entity": "deal", "format": "pdf"}
    )
    assert bad_format.status_code == 303 and urlsplit(bad_format.location).path == "/deals"
    assert "could not be started" in text_of(owner.get("/deals"))
    missing_segment = owner.post(
        "/exports", data={"csrf_token": token, "format": "csv", "segment_id": "999999"}
    )
    assert missing_segment.status_code == 303
    assert "No such segment." in text_of(owner.get("/exports"))
    with tenant_session(app, tenant) as session:
        assert session.scalars(select(ExportJob)).all() == []


def test_another_members_export_is_not_found(
    app: Flask, factory: Factory, tenant: TenantFixture, owner: Browser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    _people(app, tenant)
    monkeypatch.setitem(app.config, "EXPORT_DIRECT_MAX_ROWS", 0)
    _export(owner, "/contacts", "csv")
    with tenant_session(app, tenant) as session:
        job_id = session.scalars(select(ExportJob.id)).one()
    _, email, _ = factory.member(tenant, role="admin")
    admin = sign_in_as(app, tenant, email)
    assert admin.get(f"/exports/{job_id}/status").status_code == 404
    assert admin.get(f"/exports/{job_id}/download").status_code == 404
    assert f"export-{job_id}" not in text_of(admin.get("/exports"))


def test_a_segment_shown_on_the_list_is_exported_as_the_segment(
    app: Flask, tenant: TenantFixture, owner: Browser
) -> None:
    from app.lists.models import Segment

    ada, _, grace = _people(app, tenant)
    (segment,) = add_rows(
        app,
        tenant,
        [Segment(entity="contact", name="Pioneers", filters={"last_name_contains": "o"},
                 owner_id=tenant.owner_id)],
    )  # fmt: skip
    fields = _menu_fields(text_of(owner.get(f"/contacts?segment={segment}")))
    assert fields["segment_id"] == str(segment) and "filters" not in fields
    response = owner.post("/exports", data={**fields, "format": "csv"})
    assert response.status_code == 200
    rows = read_csv(response.get_data())
    assert sorted(int(row[0]) for row in rows[1:]) == sorted([ada, grace])
    with tenant_session(app, tenant) as session:
        job = session.scalars(select(ExportJob)).one()
        assert (job.segment_id, job.segment_name) == (segment, "Pioneers")
        assert job.filters == {"last_name_contains": "o"}
