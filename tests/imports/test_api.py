"""Imports through the REST API: rows checked one by one, duplicates, the plan's cap,
remembered mappings, progress, the report, cancelling and resuming."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.imports.models import ImportFileChunk
from app.timeline.models import TimelineEvent
from billing.models import UsageCounter
from tests.api.conftest import Api, assert_error, seed_contacts, tenant_session
from tests.conftest import Factory
from tests.imports.conftest import HEADER, contacts, job_count, run, upload


def usage(app: Flask, api: Api) -> int:
    with tenant_session(app, api.tf) as session:
        return int(
            session.scalar(select(UsageCounter.used).where(UsageCounter.resource == "contacts"))
            or 0
        )


def report_rows(api: Api, job_id: int) -> list[list[str]]:
    response = api.get(f"/imports/{job_id}/failed-rows")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def test_happy_path_with_timeline_audit_and_usage(api: Api, app: Flask) -> None:
    before = usage(app, api)
    content = HEADER + (
        'Ann,Lee,Ann@Example.com,+1 555 0100,Initech,1990-05-17,"VIP, Partner"\n'
        "Bo,Ray,bo@example.com,,,,\n"
    )
    job = run(api, content)
    assert job["status"] == "done" and job["progress"] == 100
    assert job["counts"] == {"created": 2, "updated": 0, "skipped": 0, "failed": 0}
    assert job["processed_rows"] == job["total_rows"] == 2
    ann, bo = contacts(app, api.tf)
    assert (ann.email, ann.company_name, ann.tags) == (
        "ann@example.com",
        "Initech",
        ["VIP", "Partner"],
    )
    assert ann.owner_id == api.tf.owner_id and ann.created_by_id == api.tf.owner_id
    assert usage(app, api) == before + 2  # reserved for 2 rows, all used
    with tenant_session(app, api.tf) as session:
        events = session.execute(
            select(TimelineEvent.kind, TimelineEvent.contact_id, TimelineEvent.data)
        ).all()
        assert sorted((k, c) for k, c, _d in events) == [("created", ann.id), ("created", bo.id)]
        assert all(d["import_id"] == job["id"] for _k, _c, d in events)
        audit = session.scalars(select(AuditEntry).where(AuditEntry.entity == "import")).all()
        assert [(a.action, a.entity_id, a.changes["created"]) for a in audit] == [
            ("imported", job["id"], 2)
        ]
        # The file is deleted once the job is done.
        assert session.scalar(select(func.count()).select_from(ImportFileChunk)) == 0
    listed = api.get("/imports").get_json()
    assert [item["id"] for item in listed["items"]] == [job["id"]]
    assert listed["next_cursor"] is None


def test_invalid_rows_are_reported_one_by_one(api: Api, app: Flask) -> None:
    content = HEADER + (
        "Ann,Lee,not-an-email,+1 555 0100,,,\n"
        "Bo,Ray,bo@example.com,call me,,,\n"
        "Cy,Doe,cy@example.com,,,17/05/1990,\n"
        "Di,Fox,di@example.com,,,2999-01-01,\n"
        ",,,,Initech,,\n"
        "Ed,Gray,ed@example.com,,," + ",".join(["x"] * 3) + "\n"
        '=HYPERLINK("http://evil"),Hack,ok@example.com,,,,\n'
        'Fay,Hill,fay@example.com,,,,"' + ",".join(f"t{i}" for i in range(40)) + '"\n'
    )
    job = run(api, content)
    assert job["counts"] == {"created": 1, "updated": 0, "skipped": 0, "failed": 7}, job
    assert [e["row"] for e in job["errors"]] == [2, 3, 4, 5, 6, 7, 9]
    reasons = {e["row"]: e["reason"] for e in job["errors"]}
    assert reasons[2] == "email: Not a valid email address."
    assert reasons[3] == "phone: Use digits, spaces and + ( ) - . only."
    assert reasons[4] == "birthday: Not a valid date; use YYYY-MM-DD."
    assert reasons[5] == "birthday: A birthday can not be in the future."
    assert reasons[6].startswith("first_name: Give at least a first name")
    assert "beyond the last named column" in reasons[7]
    assert "tags: At most 30 tags." in reasons[9]
    # The formula is the person's name as typed: stored as text, never run.
    (hack,) = contacts(app, api.tf)
    assert hack.first_name == '=HYPERLINK("http://evil")'
    report = report_rows(api, job["id"])
    assert report[0] == ["Row", "Outcome", "Reason", *HEADER.strip().split(",")]
    assert [r[0] for r in report[1:]] == ["2", "3", "4", "5", "6", "7", "9"]
    assert report[1][1:4] == ["failed", "email: Not a valid email address.", "Ann"]


def test_report_cells_are_formula_safe(api: Api, app: Flask) -> None:
    content = "Email,Notes\n" + "".join(
        f"bad{i},{cell}\n" for i, cell in enumerate(["=1+1", "+1", "-1", "@SUM(A1)", "plain"])
    )
    job = run(api, content)
    notes = [row[4] for row in report_rows(api, job["id"])[1:]]
    assert notes == ["'=1+1", "'+1", "'-1", "'@SUM(A1)", "plain"]


def test_custom_field_columns(api: Api, app: Flask) -> None:
    created = api.post(
        "/custom-fields", json={"entity": "contact", "label": "Budget", "type": "number"}
    )
    assert created.status_code == 201, created.get_json()
    response = upload(api, 'Email,Budget\na@example.com,"1,234.5"\nb@example.com,lots\n')
    assert response.get_json()["mapping"] == {"Email": "email", "Budget": "cf:budget"}
    job_id = response.get_json()["id"]
    assert api.post(f"/imports/{job_id}/start", json={}).status_code == 202
    job = api.get(f"/imports/{job_id}").get_json()
    assert job["counts"]["created"] == 1 and job["counts"]["failed"] == 1
    assert job["errors"][0]["reason"].startswith("custom_fields.budget:")
    (a,) = contacts(app, api.tf)
    assert a.custom_fields == {"budget": 1234.5}


# ------------------------------------------------------------------------ duplicates


def test_duplicates_skipped_by_email_in_the_file_and_in_the_workspace(api: Api, app: Flask) -> None:
    seed_contacts(app, api.tf, [{"first_name": "Old", "email": "old@example.com"}])
    content = "Email,First name\nOLD@example.com,X\nnew@example.com,N\nNew@example.com,M\n"
    job = run(api, content, dedup_policy="skip", match_on=["email"])
    assert job["counts"] == {"created": 1, "updated": 0, "skipped": 2, "failed": 0}
    reasons = [row[2] for row in report_rows(api, job["id"])[1:]]
    assert reasons[0].startswith("Duplicate of contact #")
    assert reasons[1] == "Duplicate of row 3 of this file."
    assert [c.first_name for c in contacts(app, api.tf)] == ["Old", "N"]


def test_duplicates_updated_by_phone(api: Api, app: Flask) -> None:
    (old_id,) = seed_contacts(
        app, api.tf, [{"first_name": "Old", "phone": "+1 (555) 010-0000", "tags": ["A"]}]
    )
    content = "Phone,Title,Tags,First name\n15550100000,CTO,B,\n555 0101,CEO,,Nu\n"
    job = run(api, content, dedup_policy="update", match_on=["phone"])
    assert job["counts"] == {"created": 1, "updated": 1, "skipped": 0, "failed": 0}, job
    old, new = contacts(app, api.tf)
    assert old.id == old_id
    # Empty cells keep what the contact had; tags are added.
    assert (old.first_name, old.title, old.tags) == ("Old", "CTO", ["A", "B"])
    assert (new.first_name, new.title) == ("Nu", "CEO")
    with tenant_session(app, api.tf) as session:
        (data,) = session.scalars(
            select(TimelineEvent.data).where(
                TimelineEvent.kind == "updated", TimelineEvent.contact_id == old_id
            )
        ).all()
    assert data["changes"] == {"title": [None, "CTO"], "tags": [["A"], ["A", "B"]]}
    # The same file again: nothing left to change.
    again = run(api, content, dedup_policy="update", match_on=["phone"])
    assert again["counts"] == {"created": 0, "updated": 0, "skipped": 2, "failed": 0}


def test_duplicates_created_anyway(api: Api, app: Flask) -> None:
    seed_contacts(app, api.tf, [{"first_name": "Old", "email": "a@example.com"}])
    job = run(api, "Email\na@example.com\na@example.com\n", dedup_policy="create")
    assert job["counts"]["created"] == 2
    assert len(contacts(app, api.tf)) == 3


def test_duplicates_matched_by_name_and_company(api: Api, app: Flask) -> None:
    seed_contacts(
        app,
        api.tf,
        [
            {"first_name": "Ann", "last_name": "Lee", "company_name": "Initech"},
            {"first_name": "Ann", "last_name": "Lee", "company_name": "Globex"},
        ],
    )
    content = (
        "Name,Company,Title\nann lee,INITECH,CTO\nAnn Lee,Umbrella,CEO\nAnn Lee,Umbrella,COO\n"
    )
    job = run(api, content, dedup_policy="update", match_on=["name_company"])
    assert job["counts"] == {"created": 1, "updated": 2, "skipped": 0, "failed": 0}, job
    initech, globex, umbrella = contacts(app, api.tf)
    assert (initech.title, globex.title) == ("CTO", None)
    # Row 4 matched the contact row 3 created: one Umbrella contact, with the later title.
    assert (umbrella.company_name, umbrella.title) == ("Umbrella", "COO")


def test_updates_only_what_the_importer_may_edit(
    client: FlaskClient, api: Api, app: Flask, factory: Factory
) -> None:
    rep_id, _email, rep_token = factory.member(api.tf, role="sales_rep")
    # A sales rep with the imports right (custom roles arrive later: grant it here).
    from app.access.builtin import BUILTIN_ROLES

    rights = BUILTIN_ROLES["sales_rep"]["permissions"]["imports"]
    rights["create"] = rights["view"] = "own"
    try:
        seed_contacts(app, api.tf, [{"first_name": "Owner's", "email": "shared@example.com"}])
        rep = Api(client, api.tf, token=rep_token)
        job = run(rep, "Email,Title\nshared@example.com,Boss\nmine@example.com,Rep\n",
                  dedup_policy="update")  # fmt: skip
    finally:
        rights["create"] = rights["view"] = "none"
    # The owner's contact is out of the rep's scope: not matched (not even revealed),
    # so the row creates the rep's own contact.
    assert job["counts"] == {"created": 2, "updated": 0, "skipped": 0, "failed": 0}
    owners = {c.email: c.owner_id for c in contacts(app, api.tf)}
    assert owners["mine@example.com"] == rep_id
    assert sorted(c.owner_id for c in contacts(app, api.tf)) == sorted(
        [api.tf.owner_id, rep_id, rep_id]
    )


def test_owner_column(api: Api, app: Flask, factory: Factory) -> None:
    rep_id, rep_email, _ = factory.member(api.tf, role="sales_rep")
    content = (
        f"Email,Owner\na@example.com,{rep_email.upper()}\n"
        "b@example.com,\nc@example.com,nobody@x.example\n"
    )
    job = run(api, content)
    assert job["counts"]["created"] == 2 and job["counts"]["failed"] == 1
    assert job["errors"][0]["reason"] == "owner: No active member has the email nobody@x.example."
    assert [c.owner_id for c in contacts(app, api.tf)] == [rep_id, api.tf.owner_id]


# ----------------------------------------------------------------------- plan limits


def test_plan_cap_refuses_the_whole_import(
    client: FlaskClient, app: Flask, factory: Factory
) -> None:
    free = Api(client, factory.tenant("cap", plan="free"))  # 500 contacts
    seed = [{"first_name": f"P{i}"} for i in range(498)]
    seed_contacts(app, free.tf, seed)
    with tenant_session(app, free.tf) as session:
        session.execute(
            UsageCounter.__table__.update()
            .where(UsageCounter.resource == "contacts")
            .values(used=498)
        )
        session.commit()
    response = upload(free, "Email\na@example.com\nb@example.com\nc@example.com\n")
    job_id = response.get_json()["id"]
    refused = free.post(f"/imports/{job_id}/start", json={})
    details = assert_error(refused, 402, "plan_limit_exceeded")
    assert details == {"limit": "contacts", "used": 498, "max": 500, "plan": "free"}
    job = free.get(f"/imports/{job_id}").get_json()
    assert job["status"] == "uploaded" and job["processed_rows"] == 0
    assert len(contacts(app, free.tf)) == 498
    assert usage(app, free) == 498
    # Two rows fit.
    fits = run(free, "Email\na@example.com\nb@example.com\n")
    assert fits["counts"]["created"] == 2 and usage(app, free) == 500


def test_unused_allowance_is_given_back(api: Api, app: Flask) -> None:
    before = usage(app, api)
    job = run(api, "Email\na@example.com\nbad\na@example.com\n")
    assert job["counts"] == {"created": 1, "updated": 0, "skipped": 1, "failed": 1}
    assert usage(app, api) == before + 1


# ----------------------------------------------------------- mapping, preview, control


def test_mapping_is_remembered_per_header_set(api: Api, app: Flask) -> None:
    first = upload(api, "Col A,Col B\nAnn,a@example.com\n").get_json()
    assert first["mapping"] == {"Col A": None, "Col B": None}
    started = api.post(
        f"/imports/{first['id']}/start",
        json={"mapping": {"Col A": "first_name", "Col B": "email"}},
    )
    assert started.status_code == 202
    second = upload(api, "col a,COL B\nBo,b@example.com\n").get_json()
    assert second["mapping"] == {"col a": "first_name", "COL B": "email"}
    assert any("last import" in n for n in second["notices"])
    other = upload(api, "Col A,Col C\nCy,c@example.com\n").get_json()
    assert other["mapping"] == {"Col A": None, "Col C": None}


def test_bad_settings_are_refused(api: Api, app: Flask) -> None:
    job_id = upload(api, "Notes,Email\nx,a@example.com\n").get_json()["id"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"mapping": {"Notes": "notes", "Email": None}}, "mapping"),
        ({"mapping": {"Notes": "email", "Email": "email"}}, "mapping"),
        ({"mapping": {"Nope": "email"}}, "mapping"),
        ({"mapping": {"Notes": "salary"}}, "mapping"),
        ({"mapping": ["email"]}, "mapping"),
        ({"dedup_policy": "merge"}, "dedup_policy"),
        ({"match_on": ["fax"]}, "match_on"),
        ({"match_on": []}, "match_on"),
        ({"sheet": "x"}, "sheet"),
    ]
    for body, field in cases:
        assert_error(
            api.post(f"/imports/{job_id}/start", json=body), 400, "validation_error", field
        )
    assert api.get(f"/imports/{job_id}").get_json()["status"] == "uploaded"
    assert contacts(app, api.tf) == []


def test_preview_shows_what_would_happen(api: Api, app: Flask) -> None:
    seed_contacts(app, api.tf, [{"first_name": "Old", "email": "old@example.com"}])
    content = "Email,First name\nold@example.com,O\nnew@example.com,N\nbad,B\nnew@example.com,M\n"
    job_id = upload(api, content, dedup_policy="update").get_json()["id"]
    items = api.get(f"/imports/{job_id}/preview").get_json()["items"]
    assert [(i["row"], i["outcome"]) for i in items] == [
        (2, "update"), (3, "create"), (4, "fail"), (5, "update"),
    ]  # fmt: skip
    assert items[2]["messages"] == ["email: Not a valid email address."]
    assert items[3]["messages"] == ["Adds to row 3 of this file."]
    assert len(contacts(app, api.tf)) == 1  # a preview writes nothing


def test_cancel_and_finished_jobs(api: Api, app: Flask) -> None:
    job_id = upload(api, "Email\na@example.com\n").get_json()["id"]
    cancelled = api.delete(f"/imports/{job_id}")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert_error(api.delete(f"/imports/{job_id}"), 400, "validation_error", "status")
    assert_error(api.post(f"/imports/{job_id}/start", json={}), 400, "validation_error", "status")
    assert contacts(app, api.tf) == []
    done = run(api, "Email\nb@example.com\n")
    assert_error(api.post(f"/imports/{done['id']}/start"), 400, "validation_error", "status")


def test_resume_after_a_failure_continues_after_the_last_chunk(
    api: Api, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that stops after a chunk (its worker died) leaves a failed, resumable job:
    starting it again imports the rest, once."""
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
    job = run(api, "Email\n" + "".join(f"p{i}@example.com\n" for i in range(5)))
    monkeypatch.undo()
    assert job["status"] == "failed" and job["processed_rows"] == 2
    assert job["error"]["code"] == "unexpected"
    before = usage(app, api)
    resumed = api.post(f"/imports/{job['id']}/start", json={"dedup_policy": "create"})
    assert resumed.status_code == 202
    job = api.get(f"/imports/{job['id']}").get_json()
    assert job["status"] == "done" and job["counts"]["created"] == 5
    assert sorted(c.email for c in contacts(app, api.tf)) == [f"p{i}@example.com" for i in range(5)]
    assert usage(app, api) == before + 3


def test_rights(client: FlaskClient, api: Api, app: Flask, factory: Factory) -> None:
    _, _, viewer_token = factory.member(api.tf, role="viewer")
    viewer = Api(client, api.tf, token=viewer_token)
    assert_error(upload(viewer, "Email\na@example.com\n"), 403, "forbidden")
    assert_error(viewer.get("/imports"), 403, "forbidden")
    job_id = upload(api, "Email\na@example.com\n").get_json()["id"]
    assert_error(viewer.get(f"/imports/{job_id}"), 403, "forbidden")
    assert_error(viewer.post(f"/imports/{job_id}/start"), 404, "not_found")
    assert_error(api.get("/imports/999999"), 404, "not_found")
    assert_error(api.post("/imports", data={"entity": "contact"}), 415, "unsupported_media_type")
    assert job_count(app, api.tf) == 1


def test_company_import(api: Api, app: Flask) -> None:
    content = "Company,Website,Size\nInitech,https://www.Initech.example/x,51-200\nGlobex,globex.example,huge\ninitech,,\n"
    response = upload(api, content, entity="company")
    assert response.status_code == 201
    job = response.get_json()
    assert job["mapping"] == {"Company": "name", "Website": "domain", "Size": "size"}
    assert api.post(f"/imports/{job['id']}/start", json={"match_on": ["name"]}).status_code == 202
    job = api.get(f"/imports/{job['id']}").get_json()
    assert job["counts"] == {"created": 1, "updated": 0, "skipped": 1, "failed": 1}, job
    listed = api.get("/companies").get_json()["items"]
    assert [(c["name"], c["domain"]) for c in listed] == [("Initech", "initech.example")]
