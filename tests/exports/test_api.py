"""REST API: /api/v1/exports - queue an export, poll it, download its file."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.access.policy import actor_for
from app.audit.models import AuditEntry
from app.companies.models import Company
from app.contacts.models import Contact
from app.custom_fields.models import CustomFieldDefinition
from app.deals.models import Deal
from app.exports.models import ExportJob
from app.exports.services import select_records, start_export, sweep_tenant
from app.pipelines.models import Stage
from tests.api.conftest import Api, assert_error, tenant_session
from tests.api.test_openapi import check_response
from tests.conftest import Factory, TenantFixture
from tests.exports.conftest import add_rows, read_csv, read_xlsx, xlsx_values
from tests.exports.test_writers import ATTACKS

CONTACT_HEADER = [
    "ID", "First name", "Last name", "Email", "Phone", "Title", "Company", "Source",
    "Birthday", "Tags", "Owner", "Owner email", "Notes", "Created (UTC)", "Updated (UTC)",
]  # fmt: skip


@pytest.fixture
def a(two_tenants: tuple[TenantFixture, TenantFixture]) -> TenantFixture:
    return two_tenants[0]


@pytest.fixture
def api(client: FlaskClient, a: TenantFixture) -> Api:
    return Api(client, a)


@pytest.fixture
def spec(client: FlaskClient, a: TenantFixture) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/api/v1/openapi.json", base_url=a.base_url).get_json()
    return document


def _export(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/exports", json=body)
    assert response.status_code == 202, response.get_json()
    job: dict[str, Any] = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/exports/{job['id']}")
    return job


def _download(api: Api, job: dict[str, Any]) -> bytes:
    assert job["status"] == "done", job
    response = api.get(job["download_url"].removeprefix("/api/v1"))
    assert response.status_code == 200, response.get_data()[:500]
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data: bytes = response.get_data()
    response.close()  # a WSGI server closes the file it streamed; so must the test
    return data


def _seed_people(app: Flask, tf: TenantFixture) -> dict[str, int]:
    """Two custom fields (one with a label that tries a formula), a company and three
    contacts, one of them tagged VIP."""
    add_rows(
        app,
        tf,
        [
            CustomFieldDefinition(
                entity="contact", key="tier", label="Tier", type="single_select",
                options=["Gold", "Silver"], position=0,
            ),
            CustomFieldDefinition(
                entity="contact", key="score", label="=Score()", type="number", position=1
            ),
        ],
    )  # fmt: skip
    (company,) = add_rows(app, tf, [Company(name="Analytical Engines", owner_id=tf.owner_id)])
    ada, bob, eve = add_rows(
        app,
        tf,
        [
            Contact(
                first_name="Ada",
                last_name="Lovelace",
                email="ada@engines.example",
                phone="+44 20 7946 0000",
                company_id=company,
                tags=["VIP", "Math"],
                custom_fields={"tier": "Gold", "score": -42},
                notes="=cmd|' /C calc'!A0",
                birthday=dt.date(1815, 12, 10),
                owner_id=tf.owner_id,
            ),
            Contact(first_name="Bob", last_name="Byte", company_name="Typed Ltd",
                    owner_id=tf.owner_id),
            Contact(first_name="Eve", last_name="Ngo", tags=["vip"], owner_id=None),
        ],
    )  # fmt: skip
    return {"company": company, "ada": ada, "bob": bob, "eve": eve}


def test_a_filtered_list_exported_as_csv(
    app: Flask, api: Api, a: TenantFixture, spec: dict[str, Any]
) -> None:
    ids = _seed_people(app, a)
    job = _export(api, {"entity": "contact", "format": "csv", "filter": {"tag": "VIP"}})
    # No broker in tests: the task ran inside the request.
    assert job["status"] == "done"
    assert job["rows_total"] == job["rows_written"] == 2
    assert job["progress"] == 100
    assert job["filter"] == {"tag": "VIP"}
    assert job["delivery"] == "file"
    assert job["file_name"].startswith("contacts-") and job["file_name"].endswith(".csv")
    status = api.get(f"/exports/{job['id']}")
    check_response(spec, "/api/v1/exports/{export_id}", "get", status)
    assert status.get_json() == job

    rows = read_csv(_download(api, job))
    assert rows[0] == [*CONTACT_HEADER, "Tier", "'=Score()"]
    assert [row[0] for row in rows[1:]] == [str(ids["ada"]), str(ids["eve"])]
    ada = dict(zip(rows[0], rows[1], strict=True))
    assert ada["First name"] == "Ada" and ada["Last name"] == "Lovelace"
    assert ada["Phone"] == "'+44 20 7946 0000"  # text starting with "+": neutralised
    assert ada["Company"] == "Analytical Engines"
    assert ada["Tags"] == "VIP, Math"
    assert ada["Owner"] == "Owner"
    assert ada["Owner email"] == a.owner_email
    assert ada["Birthday"] == "1815-12-10"
    assert ada["Notes"] == "'=cmd|' /C calc'!A0"
    assert ada["Tier"] == "Gold"
    assert ada["'=Score()"] == "-42"  # a number, not text: never quoted
    eve = dict(zip(rows[0], rows[2], strict=True))
    assert eve["Owner"] == eve["Owner email"] == eve["Company"] == ""


def test_the_same_list_as_xlsx(app: Flask, api: Api, a: TenantFixture) -> None:
    ids = _seed_people(app, a)
    job = _export(api, {"entity": "contact", "format": "xlsx", "filter": {"q": "Ada"}})
    assert job["file_name"].endswith(".xlsx")
    response = api.get(f"/exports/{job['id']}/download")
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheets = read_xlsx(response.get_data())
    response.close()
    assert list(sheets) == ["Contacts"]
    values = xlsx_values(sheets["Contacts"])
    assert values[0] == [*CONTACT_HEADER, "Tier", "=Score()"]
    assert len(values) == 2
    row = sheets["Contacts"][1]
    assert row["A"] == {"type": "n", "text": str(ids["ada"]), "formula": None}
    assert row["M"] == {"type": "inlineStr", "text": "=cmd|' /C calc'!A0", "formula": None}
    assert row["Q"]["type"] == "n" and float(row["Q"]["text"]) == -42
    assert all(cell["formula"] is None for r in sheets["Contacts"] for cell in r.values())


def test_formula_injection_is_neutralised_in_every_cell(
    app: Flask, api: Api, a: TenantFixture
) -> None:
    add_rows(
        app,
        a,
        [Contact(first_name=attack, last_name="Mallory", title=attack, owner_id=a.owner_id)
         for attack in ATTACKS],
    )  # fmt: skip
    csv_rows = read_csv(_download(api, _export(api, {"entity": "contact", "format": "csv"})))
    assert sorted(row[1] for row in csv_rows[1:]) == sorted("'" + x for x in ATTACKS)
    assert sorted(row[5] for row in csv_rows[1:]) == sorted("'" + x for x in ATTACKS)
    sheet = read_xlsx(_download(api, _export(api, {"entity": "contact", "format": "xlsx"})))
    rows = sheet["Contacts"][1:]
    assert sorted(row["B"]["text"] for row in rows) == sorted(ATTACKS)
    assert {row["B"]["type"] for row in rows} == {"inlineStr"}


def test_companies_and_deals(app: Flask, api: Api, a: TenantFixture) -> None:
    (company,) = add_rows(
        app, a, [Company(name="Initech", domain="initech.example", tags=["Key"],
                         owner_id=a.owner_id)]
    )  # fmt: skip
    (contact,) = add_rows(app, a, [Contact(first_name="Peter", last_name="Gibbons",
                                           owner_id=a.owner_id)])  # fmt: skip
    with tenant_session(app, a) as session:
        stage = session.scalars(select(Stage).order_by(Stage.pipeline_id, Stage.position)).first()
        assert stage is not None
        stage_id, pipeline_id, stage_name, probability = (
            stage.id,
            stage.pipeline_id,
            stage.name,
            stage.probability,
        )
    add_rows(
        app,
        a,
        [
            Deal(title="Printers", amount_minor=123450, currency="EUR", stage_id=stage_id,
                 pipeline_id=pipeline_id, company_id=company, contact_id=contact,
                 owner_id=a.owner_id, expected_close_date=dt.date(2026, 3, 1)),
            Deal(title="Yen deal", amount_minor=5000, currency="JPY", stage_id=stage_id,
                 pipeline_id=pipeline_id, probability=80, owner_id=a.owner_id),
        ],
    )  # fmt: skip
    companies = read_csv(_download(api, _export(api, {"entity": "company", "format": "csv"})))
    assert companies[0][:4] == ["ID", "Name", "Domain", "Industry"]
    assert companies[1][1:3] == ["Initech", "initech.example"]
    deals = read_csv(_download(api, _export(api, {"entity": "deal", "format": "csv"})))
    head = deals[0]
    printers = dict(zip(head, deals[1], strict=True))
    assert printers["Amount"] == "1234.50" and printers["Currency"] == "EUR"
    assert printers["Stage"] == stage_name
    assert printers["Probability (%)"] == str(probability)
    assert printers["Contact"] == "Peter Gibbons" and printers["Company"] == "Initech"
    assert printers["Expected close"] == "2026-03-01"
    assert printers["Status"] == "Open"
    yen = dict(zip(head, deals[2], strict=True))
    assert yen["Amount"] == "5000" and yen["Probability (%)"] == "80"
    xlsx = read_xlsx(_download(api, _export(api, {"entity": "deal", "format": "xlsx"})))
    assert float(xlsx["Deals"][1]["C"]["text"]) == 1234.5


def test_every_export_is_audited(app: Flask, api: Api, a: TenantFixture) -> None:
    _seed_people(app, a)
    job = _export(api, {"entity": "contact", "format": "csv", "filter": {"tag": "vip"}})
    with tenant_session(app, a) as session:
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity == "export", AuditEntry.entity_id == job["id"]
            )
        ).one()
        assert entry.actor_id == a.owner_id
        assert entry.action == "exported"
        assert entry.changes["rows"] == 2
        assert entry.changes["entity"] == "contact"
        assert entry.changes["filters"] == {"tag": "vip"}


def test_refusals(app: Flask, api: Api, client: FlaskClient, factory: Factory,
                  two_tenants: tuple[TenantFixture, TenantFixture],
                  spec: dict[str, Any]) -> None:  # fmt: skip
    a, b = two_tenants
    path = "/api/v1/exports"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"entity": "lead", "format": "csv"}, "entity"),
        ({"entity": "contact", "format": "pdf"}, "format"),
        ({"entity": "contact"}, "format"),
        ({"format": "csv"}, "entity"),
        ({"entity": "contact", "format": "csv", "filter": {"nonsense": "x"}}, "filter.nonsense"),
        ({"entity": "contact", "format": "csv", "filter": {"created_from": "May 1"}},
         "filter.created_from"),
        ({"entity": "contact", "format": "csv", "filter": {"q": ["a"]}}, "filter.q"),
        ({"entity": "contact", "format": "csv", "filter": "q=a"}, "filter"),
        ({"format": "csv", "segment_id": 987654}, "segment_id"),
        ({"format": "csv", "segment_id": "1"}, "segment_id"),
        ({"format": "csv", "segment_id": 1, "filter": {"q": "a"}}, "filter"),
        ({"entity": "contact", "format": "csv", "tenant_id": 1}, "tenant_id"),
    ]  # fmt: skip
    for body, field in cases:
        response = api.post("/exports", json=body)
        assert_error(response, 400, "validation_error", field)
        check_response(spec, path, "post", response)
    with tenant_session(app, a) as session:
        assert session.scalars(select(ExportJob)).all() == []

    # A viewer may see records but not export them: 403 on every export route.
    _, _, viewer_token = factory.member(a, role="viewer")
    viewer = Api(client, a, token=viewer_token)
    response = viewer.post("/exports", json={"entity": "contact", "format": "csv"})
    assert_error(response, 403, "forbidden")
    check_response(spec, path, "post", response)
    assert_error(viewer.get("/exports"), 403, "forbidden")
    # So is a sales rep with the built-in role (it exports nothing).
    _, _, rep_token = factory.member(b, role="sales_rep")
    rep = Api(client, b, token=rep_token)
    assert_error(rep.post("/exports", json={"entity": "deal", "format": "csv"}), 403, "forbidden")
    unauthenticated = client.post(path, base_url=a.base_url, json={"format": "csv"})
    assert_error(unauthenticated, 401, "unauthorized")


def test_jobs_are_private_to_their_member_and_workspace(
    client: FlaskClient, two_tenants: tuple[TenantFixture, TenantFixture], factory: Factory,
    spec: dict[str, Any],
) -> None:  # fmt: skip
    a, b = two_tenants
    api = Api(client, a)
    job = _export(api, {"entity": "contact", "format": "csv"})
    other = Api(client, b)
    for route in (f"/exports/{job['id']}", f"/exports/{job['id']}/download"):
        assert_error(other.get(route), 404, "not_found")
    check_response(spec, "/api/v1/exports/{export_id}", "get", other.get(f"/exports/{job['id']}"))
    # Another admin of the same workspace does not see it either.
    _, _, admin_token = factory.member(a, role="admin")
    admin = Api(client, a, token=admin_token)
    assert_error(admin.get(f"/exports/{job['id']}"), 404, "not_found")
    listed = admin.get("/exports")
    check_response(spec, "/api/v1/exports", "get", listed)
    assert listed.get_json() == {"items": [], "next_cursor": None}
    mine = api.get("/exports", query_string={"limit": "1"})
    check_response(spec, "/api/v1/exports", "get", mine)
    assert [item["id"] for item in mine.get_json()["items"]] == [job["id"]]
    assert_error(api.get("/exports", query_string={"page": "2"}), 400, "validation_error", "page")


def test_no_file_until_done_and_none_after_expiry(
    app: Flask, api: Api, a: TenantFixture, export_storage: Path, spec: dict[str, Any]
) -> None:
    with tenant_session(app, a) as session:
        actor = actor_for(a.owner_id, "owner")
        selection = select_records(session, actor, entity="contact", filters={})
        queued = start_export(session, actor, selection, "csv", dispatch=False).id
    response = api.get(f"/exports/{queued}/download")
    assert_error(response, 409, "conflict")
    check_response(spec, "/api/v1/exports/{export_id}/download", "get", response)
    assert api.get(f"/exports/{queued}").get_json()["download_url"] is None

    job = _export(api, {"entity": "contact", "format": "csv"})
    files = list(export_storage.rglob("*.csv"))
    # <storage>/<tenant id>/<job id>-<32 random hex>.csv: nothing a client named.
    assert len(files) == 1
    assert re.fullmatch(rf"{job['id']}-[0-9a-f]{{32}}\.csv", files[0].name), files[0].name
    assert files[0].parent.name == str(a.tenant.id)
    with tenant_session(app, a) as session:
        session.execute(
            update(ExportJob)
            .where(ExportJob.id == job["id"])
            .values(expires_at=ExportJob.expires_at - dt.timedelta(days=2))
        )
        session.commit()
    # Read after its expiry: the file is deleted and the job says so.
    expired = api.get(f"/exports/{job['id']}").get_json()
    assert expired["status"] == "expired" and expired["download_url"] is None
    assert not files[0].exists()
    assert_error(api.get(f"/exports/{job['id']}/download"), 409, "conflict")


def test_the_sweep_deletes_old_files_and_fails_lost_jobs(
    app: Flask, api: Api, a: TenantFixture, export_storage: Path
) -> None:
    done = _export(api, {"entity": "contact", "format": "xlsx"})
    with tenant_session(app, a) as session:
        actor = actor_for(a.owner_id, "owner")
        selection = select_records(session, actor, entity="contact", filters={})
        lost = start_export(session, actor, selection, "csv", dispatch=False).id
        assert sweep_tenant(session) == {"expired": 0, "failed": 0}
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)
        assert sweep_tenant(session, later) == {"expired": 1, "failed": 1}
        assert session.get(ExportJob, done["id"]).status == "expired"  # type: ignore[union-attr]
        assert session.get(ExportJob, lost).status == "failed"  # type: ignore[union-attr]
    assert list(export_storage.rglob("*.xlsx")) == []
