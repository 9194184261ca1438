"""Seats, deactivation and reassignment, roles and the owner rules, the sweep."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from flask import Flask
from sqlalchemy import select, update

from app.activities.models import Activity
from app.companies.models import Company
from app.contacts.models import Contact
from app.database import db, utcnow
from app.deals.models import Deal
from app.identity import members
from app.identity.invitation_tasks import sweep_invitations
from app.identity.models import ApiToken, Invitation, Membership
from app.identity.sessions import load_member
from app.pipelines.models import Stage
from billing.limits import PlanLimitExceeded, reconcile_tenant
from tenants.context import tenant_context
from tenants.models import Tenant
from tests.api.conftest import Api
from tests.conftest import Factory, TenantFixture
from tests.team.conftest import new_email, seats_actual, seats_counter
from tests.team.support import issue_invitation, verify_email
from tests.web.conftest import Browser, seed_contacts, sign_in_as, text_of, visible_text


def test_free_plan_cap_in_the_page_and_the_api(
    app: Flask, client: Any, owner: Browser, tenant: TenantFixture
) -> None:
    assert (
        owner.submit("/settings/team", {"email": new_email(), "role": "viewer"}).status_code == 302
    )
    page = visible_text(text_of(owner.get("/settings/team")))
    assert "2 of 2 seats used" in page
    assert "Your Free plan allows 2 users" in page and "upgrade" in page
    refused = owner.submit("/settings/team", {"email": new_email(), "role": "viewer"})
    assert refused.status_code == 402
    assert "Your Free plan allows 2 users" in visible_text(text_of(refused))
    api = Api(client, tenant).post("/invitations", json={"email": new_email(), "role": "viewer"})
    assert api.status_code == 402
    body = api.get_json()["error"]
    assert body["code"] == "plan_limit_exceeded"
    assert body["details"] == {"limit": "seats", "used": 2, "max": 2, "plan": "free"}
    assert seats_counter(app, tenant) == 2 == seats_actual(app, tenant)


def test_concurrent_invites_at_the_cap_never_exceed_it(app: Flask, tenant: TenantFixture) -> None:
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def attempt(n: int) -> None:
        with app.app_context(), tenant_context(tenant.tenant.ref):
            try:
                tenant_row = db.session.get(Tenant, tenant.tenant.id)
                inviter = load_member(tenant.tenant.id, tenant.owner_id)
                assert tenant_row is not None and inviter is not None
                barrier.wait()
                members.invite(
                    db.session,
                    tenant=tenant_row,
                    actor=inviter,
                    email=f"race-{n}-{new_email()}",
                    role="viewer",
                )
                outcomes.append("ok")
            except PlanLimitExceeded:
                outcomes.append("cap")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["cap"] * 5 + ["ok"]
    assert seats_counter(app, tenant) == 2 == seats_actual(app, tenant)


def test_same_address_racing_is_already_invited_not_a_500(
    app: Flask, tenant: TenantFixture
) -> None:
    with app.app_context():
        db.session.execute(update(Tenant).where(Tenant.id == tenant.tenant.id).values(plan="pro"))
        db.session.commit()
        db.session.remove()
    barrier = threading.Barrier(4)
    outcomes: list[str] = []
    email = new_email("same")

    def attempt() -> None:
        with app.app_context(), tenant_context(tenant.tenant.ref):
            try:
                tenant_row = db.session.get(Tenant, tenant.tenant.id)
                inviter = load_member(tenant.tenant.id, tenant.owner_id)
                assert tenant_row is not None and inviter is not None
                barrier.wait()
                members.invite(
                    db.session, tenant=tenant_row, actor=inviter, email=email, role="viewer"
                )
                outcomes.append("ok")
            except members.TeamError as refusal:
                outcomes.append(refusal.code)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict"] * 3 + ["ok"]
    assert seats_counter(app, tenant) == 2 == seats_actual(app, tenant)


def test_reconciliation_counts_pending_invitations(app: Flask, tenant: TenantFixture) -> None:
    issue_invitation(app, tenant, new_email())
    with app.app_context(), tenant_context(tenant.tenant.ref):
        try:
            assert reconcile_tenant(db.session) == {}
        finally:
            db.session.remove()
    assert seats_counter(app, tenant) == 2


def test_deactivate_keeps_and_reassigns_records_ends_sessions_and_tokens(
    app: Flask, client: Any, factory: Factory, owner: Browser, tenant: TenantFixture
) -> None:
    with app.app_context():
        db.session.execute(update(Tenant).where(Tenant.id == tenant.tenant.id).values(plan="pro"))
        db.session.commit()
        db.session.remove()
    leaver_id, leaver_email, leaver_token = factory.member(tenant, role="sales_rep")
    heir_id, _, _ = factory.member(tenant, role="sales_rep")
    seed_contacts(app, tenant, [{"first_name": f"C{n}", "owner_id": leaver_id} for n in range(3)])
    leaver = sign_in_as(app, tenant, leaver_email)
    assert leaver.get("/contacts").status_code == 200
    assert Api(client, tenant, token=leaver_token).get("/me").status_code == 200
    assert seats_counter(app, tenant) == 3

    confirm = owner.get(f"/settings/team/{leaver_id}/deactivate")
    assert confirm.status_code == 200
    assert "Contacts: 3" in visible_text(text_of(confirm))
    bad = owner.submit(f"/settings/team/{leaver_id}/deactivate", {"reassign_to": "999999999"})
    assert bad.status_code == 400  # not one of the offered members
    done = owner.submit(f"/settings/team/{leaver_id}/deactivate", {"reassign_to": str(heir_id)})
    assert done.status_code == 302, text_of(done)[:2000]

    assert seats_counter(app, tenant) == 2 == seats_actual(app, tenant)
    with app.app_context(), tenant_context(tenant.tenant.ref):
        owners = [c.owner_id for c in db.session.scalars(select(Contact))]
        assert owners == [heir_id] * 3  # kept, and handed over
        tokens = db.session.scalars(select(ApiToken).where(ApiToken.user_id == leaver_id)).all()
        assert tokens and all(t.revoked_at is not None for t in tokens)
        membership = db.session.scalars(
            select(Membership).where(Membership.user_id == leaver_id)
        ).one()
        assert not membership.is_active and membership.deactivated_at is not None
        db.session.remove()
    # Their session and their token stop working at once.
    assert leaver.get("/contacts").status_code == 404
    assert Api(client, tenant, token=leaver_token).get("/me").status_code == 401
    page = visible_text(text_of(owner.get("/settings/team")))
    assert "Deactivated" in page and "Reactivate" in page


def test_deactivate_hands_over_companies_open_deals_and_open_tasks_only(
    app: Flask, factory: Factory, owner: Browser, tenant: TenantFixture
) -> None:
    leaver_id, _, _ = factory.member(tenant, role="viewer")
    with app.app_context(), tenant_context(tenant.tenant.ref):
        stages = {s.kind: s for s in db.session.scalars(select(Stage).order_by(Stage.position))}
        company = Company(name="Leaver Co", owner_id=leaver_id)
        db.session.add(company)
        db.session.flush()
        deals = [
            Deal(
                title=title,
                pipeline_id=stages[kind].pipeline_id,
                stage_id=stages[kind].id,
                status=kind,
                owner_id=leaver_id,
            )
            for title, kind in (("Open one", "open"), ("Won one", "won"))
        ]
        tasks = [
            Activity(type="task", subject=subject, done=done, assignee_id=leaver_id)
            for subject, done in (("Call back", False), ("Sent quote", True))
        ]
        db.session.add_all([*deals, *tasks])
        db.session.commit()
        db.session.remove()
    confirm = visible_text(text_of(owner.get(f"/settings/team/{leaver_id}/deactivate")))
    assert "Companies: 1" in confirm and "Open deals: 1" in confirm and "Open tasks: 1" in confirm
    done = owner.submit(
        f"/settings/team/{leaver_id}/deactivate", {"reassign_to": str(tenant.owner_id)}
    )
    assert done.status_code == 302, text_of(done)[:2000]
    with app.app_context(), tenant_context(tenant.tenant.ref):
        assert db.session.scalars(select(Company.owner_id)).all() == [tenant.owner_id]
        by_title = dict(db.session.execute(select(Deal.title, Deal.owner_id)).all())
        # Who won a deal, and who did a task, stays on record.
        assert by_title == {"Open one": tenant.owner_id, "Won one": leaver_id}
        by_subject = dict(db.session.execute(select(Activity.subject, Activity.assignee_id)).all())
        assert by_subject == {"Call back": tenant.owner_id, "Sent quote": leaver_id}
        db.session.remove()


def test_deactivate_without_reassignment_keeps_ownership(
    app: Flask, client: Any, factory: Factory, tenant: TenantFixture
) -> None:
    leaver_id, _, _ = factory.member(tenant, role="viewer")
    seed_contacts(app, tenant, [{"first_name": "Kept", "owner_id": leaver_id}])
    response = Api(client, tenant).post(f"/users/{leaver_id}/deactivate")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["is_active"] is False
    with app.app_context(), tenant_context(tenant.tenant.ref):
        assert [c.owner_id for c in db.session.scalars(select(Contact))] == [leaver_id]
        db.session.remove()


def test_reactivate_at_the_cap_is_refused(
    app: Flask, client: Any, factory: Factory, owner: Browser, tenant: TenantFixture
) -> None:
    leaver_id, _, _ = factory.member(tenant, role="viewer")
    api = Api(client, tenant)
    assert api.post(f"/users/{leaver_id}/deactivate").status_code == 200
    # The freed seat goes to an invitation; now reactivation finds the cap.
    assert (
        api.post("/invitations", json={"email": new_email(), "role": "viewer"}).status_code == 201
    )
    refused = api.post(f"/users/{leaver_id}/reactivate")
    assert refused.status_code == 402
    assert refused.get_json()["error"]["details"]["limit"] == "seats"
    page = owner.submit("/settings/team", {}, action=f"/settings/team/{leaver_id}/reactivate")
    assert page.status_code == 302
    assert "Your Free plan allows 2 users" in visible_text(text_of(owner.get("/settings/team")))
    assert seats_counter(app, tenant) == 2 == seats_actual(app, tenant)
    # Revoke the invitation: now there is room.
    invitation_id = api.get("/invitations").get_json()["items"][0]["id"]
    assert api.delete(f"/invitations/{invitation_id}").status_code == 204
    assert api.post(f"/users/{leaver_id}/reactivate").get_json()["is_active"] is True
    assert seats_counter(app, tenant) == 2 == seats_actual(app, tenant)


def test_owner_rules(app: Flask, client: Any, factory: Factory, tenant: TenantFixture) -> None:
    with app.app_context():
        db.session.execute(update(Tenant).where(Tenant.id == tenant.tenant.id).values(plan="pro"))
        db.session.commit()
        db.session.remove()
    api = Api(client, tenant)
    me = tenant.owner_id
    # The last active owner can not be demoted, and nobody deactivates themselves.
    demote = api.patch(f"/users/{me}", json={"role": "admin"})
    assert demote.status_code == 409 and "owner" in demote.get_json()["error"]["message"]
    assert api.post(f"/users/{me}/deactivate").status_code == 403
    # Admins can not touch owners nor make one.
    admin_id, _, admin_token = factory.member(tenant, role="admin")
    as_admin = Api(client, tenant, token=admin_token)
    assert as_admin.patch(f"/users/{me}", json={"role": "viewer"}).status_code == 403
    assert as_admin.post(f"/users/{me}/deactivate").status_code == 403
    assert as_admin.patch(f"/users/{admin_id}", json={"role": "owner"}).status_code == 403
    # An owner makes another owner; then either may step down, but not both.
    assert api.patch(f"/users/{admin_id}", json={"role": "owner"}).get_json()["role"] == "owner"
    assert api.patch(f"/users/{me}", json={"role": "admin"}).status_code == 200
    assert as_admin.patch(f"/users/{admin_id}", json={"role": "admin"}).status_code == 409
    # Unknown roles and junk bodies are validation errors.
    for body in (
        {"role": "emperor"},
        {"role": 5},
        {"role": "a\x00b"},
        {},
        {"role": "viewer", "x": 1},
    ):
        response = as_admin.patch(f"/users/{me}", json=body)
        assert response.status_code == 400, (body, response.get_json())
        assert response.get_json()["error"]["code"] == "validation_error"


def test_api_invitations_and_users(
    app: Flask, client: Any, factory: Factory, tenant: TenantFixture, smtp_sink: Any
) -> None:
    api = Api(client, tenant)
    email = new_email()
    created = api.post("/invitations", json={"email": f"  {email.upper()} ", "role": "viewer"})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["email"] == email and body["status"] == "pending" and "token" not in str(body)
    assert smtp_sink.last_to(email)
    again = api.post("/invitations", json={"email": email, "role": "viewer"})
    assert again.status_code == 409 and "email" in again.get_json()["error"]["details"]
    member = api.post("/invitations", json={"email": tenant.owner_email, "role": "viewer"})
    assert member.status_code == 409
    for bad in (
        {"email": "nope", "role": "viewer"},
        {"email": new_email(), "role": "owner"},
        {"email": new_email(), "role": "nope"},
        {"email": new_email()},
        {"email": "a\x01@example.com", "role": "viewer"},
    ):
        response = api.post("/invitations", json=bad)
        assert response.status_code == 400, (bad, response.get_json())
    listed = api.get("/invitations").get_json()
    assert [i["email"] for i in listed["items"]] == [email] and listed["next_cursor"] is None
    resend = api.post(f"/invitations/{body['id']}/resend")
    assert resend.status_code == 429
    users = api.get("/users").get_json()
    assert [u["email"] for u in users["items"]] == [tenant.owner_email]
    assert api.get(f"/users/{tenant.owner_id}").get_json()["role"] == "owner"
    # Another workspace's ids are 404; a sales rep may look but not invite.
    other = factory.tenant("other")
    stranger = Api(client, other)
    assert stranger.get(f"/users/{tenant.owner_id}").status_code == 404
    assert stranger.delete(f"/invitations/{body['id']}").status_code == 404
    assert api.delete(f"/invitations/{body['id']}").status_code == 204
    assert api.delete(f"/invitations/{body['id']}").status_code == 409
    _, _, rep_token = factory.member(tenant, role="sales_rep")
    rep = Api(client, tenant, token=rep_token)
    assert rep.get("/users").status_code == 200
    forbidden = rep.post("/invitations", json={"email": new_email(), "role": "viewer"})
    assert forbidden.status_code == 403


def test_api_unverified_inviter(client: Any, factory: Factory) -> None:
    tf = factory.tenant("unverified")
    response = Api(client, tf).post("/invitations", json={"email": new_email(), "role": "viewer"})
    assert response.status_code == 403
    assert response.get_json()["error"]["details"] == {"reason": "email_unverified"}


def test_sweep_retires_expired_invitations_and_frees_seats(
    app: Flask, factory: Factory, tenant: TenantFixture
) -> None:
    old_id, token = issue_invitation(app, tenant, new_email())
    assert seats_counter(app, tenant) == 2
    other = factory.tenant("swept")
    verify_email(app, other.owner_id)
    fresh_id, _ = issue_invitation(app, other, new_email())
    with app.app_context():
        db.session.execute(
            update(Invitation)
            .where(Invitation.id == old_id)
            .values(expires_at=utcnow() - dt.timedelta(days=2))
        )
        db.session.commit()
        db.session.remove()
    with app.app_context():
        result = sweep_invitations.delay().get()
        db.session.remove()
    assert result["swept"].get(str(tenant.tenant.id)) == 1
    assert str(other.tenant.id) not in result["swept"]
    assert seats_counter(app, tenant) == 1 == seats_actual(app, tenant)
    assert seats_counter(app, other) == 2 == seats_actual(app, other)
    with app.app_context():
        assert db.session.get(Invitation, old_id).revoked_at is not None  # type: ignore[union-attr]
        assert db.session.get(Invitation, fresh_id).revoked_at is None  # type: ignore[union-attr]
        db.session.remove()
    assert Browser(app.test_client(), tenant).get(f"/invitations/{token}").status_code == 410
