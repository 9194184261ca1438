"""Exports honour the exporter's record scope: a role that may export its own records
gets those and nothing else, from a list filter or from a segment shared by someone
who sees more; and a queued job checks the member's rights again when it runs.

The built-in roles give the export right to owners and admins only ("all" scope), so
the "own" scope is exercised with a custom permission matrix, as a tenant-defined role
will carry it: the sales rep's, plus the export right on their own records.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from app.access.builtin import BUILTIN_ROLES
from app.access.policy import Actor, actor_for
from app.companies.models import Company
from app.contacts.models import Contact
from app.database import db
from app.errors import InvalidInput
from app.exports.models import ExportJob
from app.exports.services import (
    may_export,
    open_stream,
    run_export,
    select_records,
    start_export,
)
from app.identity.models import Membership
from app.lists.models import Segment
from tenants.context import tenant_context
from tests.conftest import Factory, TenantFixture
from tests.exports.conftest import add_rows, read_csv


def rep_exporter(user_id: int) -> Actor:
    """A sales rep whose role may also export their own contacts."""
    permissions: dict[str, Any] = copy.deepcopy(BUILTIN_ROLES["sales_rep"]["permissions"])
    permissions["contacts"]["export"] = "own"
    permissions["exports"]["export"] = "own"
    return Actor(user_id=user_id, role_key="rep_exporter", permissions=permissions)


def _csv(app: Flask, tf: TenantFixture, actor: Actor, **request: Any) -> list[list[str]]:
    """What ``actor`` gets for an export request, streamed as a page would send it."""
    with app.app_context(), tenant_context(tf.tenant.ref):
        try:
            selection = select_records(db.session, actor, **request)
            stream = open_stream(actor, selection, 1000)
            assert stream is not None
            return read_csv(b"".join(stream.chunks()))
        finally:
            db.session.remove()


def _world(app: Flask, factory: Factory) -> tuple[TenantFixture, int, dict[str, int]]:
    tf = factory.tenant("scope", plan="pro")
    rep_id, _, _ = factory.member(tf, role="sales_rep")
    (company,) = add_rows(app, tf, [Company(name="Owner's Company", owner_id=tf.owner_id)])
    ids = add_rows(
        app,
        tf,
        [
            Contact(first_name="Rita", last_name="Rep", tags=["VIP"], owner_id=rep_id,
                    company_id=company, company_name="Typed Co"),
            Contact(first_name="Ron", last_name="Rep", owner_id=rep_id),
            Contact(first_name="Olga", last_name="Owner", tags=["VIP"], owner_id=tf.owner_id,
                    company_id=company),
            Contact(first_name="Otto", last_name="Owner", owner_id=tf.owner_id),
        ],
    )  # fmt: skip
    return tf, rep_id, dict(zip(("rita", "ron", "olga", "otto"), ids, strict=True))


def test_a_rep_exports_only_their_own_records(app: Flask, factory: Factory) -> None:
    tf, rep_id, ids = _world(app, factory)
    rows = _csv(app, tf, rep_exporter(rep_id), entity="contact", filters={})
    assert [int(row[0]) for row in rows[1:]] == [ids["rita"], ids["ron"]]
    rita = dict(zip(rows[0], rows[1], strict=True))
    # The linked company belongs to the owner, outside the rep's view: its name stays
    # out; the company as typed on the contact is shown instead.
    assert rita["Company"] == "Typed Co"
    owner_rows = _csv(app, tf, actor_for(tf.owner_id, "owner"), entity="contact", filters={})
    assert len(owner_rows) == 5
    assert dict(zip(owner_rows[0], owner_rows[1], strict=True))["Company"] == "Owner's Company"
    # Companies are not exportable for this role at all.
    assert not may_export(rep_exporter(rep_id), "company")
    assert may_export(rep_exporter(rep_id), "contact")


def test_a_shared_segment_exports_within_the_exporters_scope(app: Flask, factory: Factory) -> None:
    tf, rep_id, ids = _world(app, factory)
    (segment,) = add_rows(
        app,
        tf,
        [Segment(entity="contact", name="VIPs", filters={"tag": "VIP"}, owner_id=tf.owner_id,
                 shared=True)],
    )  # fmt: skip
    rep_rows = _csv(app, tf, rep_exporter(rep_id), entity=None, segment_id=segment)
    assert [int(row[0]) for row in rep_rows[1:]] == [ids["rita"]]
    owner_rows = _csv(app, tf, actor_for(tf.owner_id, "owner"), entity=None, segment_id=segment)
    assert [int(row[0]) for row in owner_rows[1:]] == [ids["rita"], ids["olga"]]

    # A segment whose filter names a custom field removed since is refused up front.
    (broken,) = add_rows(
        app,
        tf,
        [Segment(entity="contact", name="Old", filters={"cf.gone": "x"}, owner_id=tf.owner_id)],
    )
    with app.app_context(), tenant_context(tf.tenant.ref):
        try:
            with pytest.raises(InvalidInput) as refused:
                select_records(
                    db.session, actor_for(tf.owner_id, "owner"), entity=None, segment_id=broken
                )
        finally:
            db.session.remove()
    assert list(refused.value.details) == ["segment_id"]


def test_a_queued_export_checks_the_members_rights_again(app: Flask, factory: Factory) -> None:
    tf = factory.tenant("recheck", plan="pro")
    admin_id, _, _ = factory.member(tf, role="admin")
    add_rows(app, tf, [Contact(first_name="Secret", owner_id=tf.owner_id)])
    with app.app_context(), tenant_context(tf.tenant.ref):
        try:
            actor = actor_for(admin_id, "admin")
            selection = select_records(db.session, actor, entity="contact", filters={})
            job_id = start_export(db.session, actor, selection, "csv", dispatch=False).id
            # Demoted before a worker got to it.
            db.session.execute(
                update(Membership)
                .where(Membership.user_id == admin_id, Membership.tenant_id == tf.tenant.id)
                .values(role="viewer")
            )
            db.session.commit()
            job = run_export(db.session, job_id)
            assert job is not None and job.status == "failed"
            assert job.error == "You may no longer export these records."
            assert job.rows_written == 0 and job.file_size is None
            # A redelivered message finds nothing to do.
            assert run_export(db.session, job_id) is None
            assert db.session.get(ExportJob, job_id).status == "failed"  # type: ignore[union-attr]
        finally:
            db.session.remove()
