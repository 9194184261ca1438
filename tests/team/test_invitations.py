"""Inviting, resending, revoking and accepting, through the pages and real mail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from sqlalchemy import select, update

from app.database import db, utcnow
from app.identity.models import Invitation, Membership, User
from tests.conftest import PASSWORD, Factory, TenantFixture
from tests.team.conftest import (
    STRONG_PASSWORD,
    field_errors,
    invitation_link,
    new_email,
    path_of,
    seats_actual,
    seats_counter,
)
from tests.team.support import issue_invitation, verify_email
from tests.web.conftest import Browser, sign_in_as, text_of, visible_text


def invite(owner: Browser, email: str, role: str = "sales_rep") -> Any:
    return owner.submit("/settings/team", {"email": email, "role": role})


def test_invite_mail_accept_as_new_identity(
    app: Flask, owner: Browser, tenant: TenantFixture, smtp_sink: Any
) -> None:
    page = visible_text(text_of(owner.get("/settings/team")))
    assert "1 of 2 seats used" in page
    email = new_email()
    response = invite(owner, email)
    assert response.status_code == 302, text_of(response)[:3000]
    assert seats_counter(app, tenant) == 2 == seats_actual(app, tenant)
    listed = visible_text(text_of(owner.get("/settings/team")))
    assert email in listed and "2 of 2 seats used" in listed

    mail = smtp_sink.last_to(email)
    assert "Acme Team" in mail.subject and "Owner" in mail.subject
    link = invitation_link(smtp_sink, email)
    assert link.startswith(f"http://{tenant.host}/invitations/")

    visitor = Browser(app.test_client(), tenant)
    page = visible_text(text_of(visitor.get(path_of(link))))
    assert "Join Acme Team" in page and "Owner invited" in page and "Sales rep" in page
    accepted = visitor.submit(
        path_of(link), {"name": "Nina New", "password": STRONG_PASSWORD, "confirm": STRONG_PASSWORD}
    )
    assert accepted.status_code == 302, text_of(accepted)[:3000]
    assert visitor.get("/contacts").status_code == 200  # signed in, in the workspace
    assert visitor.get("/api/v1/me").get_json()["email"] == email

    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == email)).one()
        assert user.email_verified_at is not None and user.name == "Nina New"
        membership = db.session.scalars(
            select(Membership).where(Membership.user_id == user.id)
        ).one()
        assert membership.role == "sales_rep" and membership.is_active
        invitation = db.session.scalars(select(Invitation).where(Invitation.email == email)).one()
        assert invitation.accepted_user_id == user.id
        db.session.remove()
    # The seat passed from the invitation to the membership: no second reservation.
    assert seats_counter(app, tenant) == 2 == seats_actual(app, tenant)
    # The link is spent.
    again = Browser(app.test_client(), tenant).get(path_of(link))
    assert again.status_code == 410


def test_accept_with_existing_identity_of_another_workspace(
    app: Flask, factory: Factory, owner: Browser, tenant: TenantFixture, smtp_sink: Any
) -> None:
    other = factory.tenant("other", name="Other Co")
    user_id, email, _ = factory.member(other, role="viewer")
    assert invite(owner, email, role="manager").status_code == 302
    link = path_of(invitation_link(smtp_sink, email))
    visitor = Browser(app.test_client(), tenant)
    page = visible_text(text_of(visitor.get(link)))
    assert "Join with your existing account" in page and "Your name" not in page
    wrong = visitor.submit(link, {"password": "not the password"})
    assert wrong.status_code == 400
    assert "Wrong password" in field_errors(text_of(wrong))
    joined = visitor.submit(link, {"password": PASSWORD})
    assert joined.status_code == 302, text_of(joined)[:2000]
    assert visitor.get("/api/v1/me").get_json()["role"] == "manager"
    with app.app_context():
        assert db.session.query(User).filter(User.email == email).count() == 1
        tenants = {
            m.tenant_id: m.role
            for m in db.session.scalars(select(Membership).where(Membership.user_id == user_id))
        }
        assert tenants == {other.tenant.id: "viewer", tenant.tenant.id: "manager"}
        db.session.remove()


def test_accepting_with_an_existing_identity_is_throttled_like_sign_in(
    app: Flask, factory: Factory, owner: Browser, tenant: TenantFixture, smtp_sink: Any
) -> None:
    # The accept form checks an account's password: it must not be a way around the
    # sign-in lockout.
    other = factory.tenant("other", name="Other Co")
    _, email, _ = factory.member(other, role="viewer")
    assert invite(owner, email).status_code == 302
    link = path_of(invitation_link(smtp_sink, email))
    visitor = Browser(app.test_client(), tenant)
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    address = {"REMOTE_ADDR": "198.51.100.23"}
    for _ in range(limit):
        wrong = visitor.submit(link, {"password": "not the password"}, environ_overrides=address)
        assert "Wrong password" in field_errors(text_of(wrong))
    locked = visitor.submit(link, {"password": PASSWORD}, environ_overrides=address)
    assert locked.status_code == 400
    assert "Too many wrong passwords" in field_errors(text_of(locked))
    with app.app_context():
        assert (
            db.session.query(Membership)
            .filter(
                Membership.tenant_id == tenant.tenant.id,
                Membership.user_id == select(User.id).where(User.email == email).scalar_subquery(),
            )
            .count()
            == 0
        )
        db.session.remove()
    # The account is locked for sign-in too, on every workspace.
    signed = Browser(app.test_client(), other).submit(
        "/login", {"email": email, "password": PASSWORD}, environ_overrides=address
    )
    assert signed.status_code == 429


def test_signed_in_as_someone_else(app: Flask, owner: Browser, tenant: TenantFixture) -> None:
    _, token = issue_invitation(app, tenant, new_email())
    page = owner.get(f"/invitations/{token}")
    assert page.status_code == 200
    assert "You are signed in to this workspace as" in visible_text(text_of(page))
    posted = owner.submit(f"/invitations/{token}", {"password": PASSWORD})
    assert posted.status_code == 409


def test_bad_links_are_answered_cleanly(
    app: Flask, factory: Factory, tenant: TenantFixture
) -> None:
    visitor = Browser(app.test_client(), tenant)
    for junk in ("nope", "x" * 300, "%00", "..%2f..", "a b"):
        assert visitor.get(f"/invitations/{junk}").status_code == 404, junk
    # Another workspace's token is unknown here.
    other = factory.tenant("other")
    verify_email(app, other.owner_id)
    _, foreign = issue_invitation(app, other, new_email())
    assert visitor.get(f"/invitations/{foreign}").status_code == 404
    # Expired: 410 with a page saying what to do; posting changes nothing.
    invitation_id, token = issue_invitation(app, tenant, new_email())
    with app.app_context():
        db.session.execute(
            update(Invitation)
            .where(Invitation.id == invitation_id)
            .values(expires_at=utcnow() - dt.timedelta(minutes=1))
        )
        db.session.commit()
        db.session.remove()
    expired = visitor.get(f"/invitations/{token}")
    assert expired.status_code == 410
    assert "expired" in visible_text(text_of(expired))


def test_new_identity_form_errors_keep_values(app: Flask, tenant: TenantFixture) -> None:
    email = new_email()
    _, token = issue_invitation(app, tenant, email)
    visitor = Browser(app.test_client(), tenant)
    path = f"/invitations/{token}"
    cases = [
        ({"name": "Ann", "password": "short", "confirm": "short"}, "at least 10"),
        ({"name": "Ann", "password": STRONG_PASSWORD, "confirm": "other"}, "differ"),
        ({"name": "A\x07nn", "password": STRONG_PASSWORD, "confirm": STRONG_PASSWORD}, "control"),
        ({"name": "", "password": STRONG_PASSWORD, "confirm": STRONG_PASSWORD}, "required"),
        ({"name": "Ann", "password": "password123", "confirm": "password123"}, "common"),
    ]
    for data, hint in cases:
        response = visitor.submit(path, data)
        assert response.status_code == 400, (data, response.status_code)
        assert hint in field_errors(text_of(response)).lower(), (data, text_of(response)[:3000])
    typed = visitor.submit(path, {"name": "Ann Typed", "password": "x", "confirm": "x"})
    assert 'value="Ann Typed"' in text_of(typed)
    with app.app_context():
        assert db.session.query(User).filter(User.email == email).count() == 0
        db.session.remove()


def test_invite_form_bad_input(app: Flask, owner: Browser, tenant: TenantFixture) -> None:
    cases = [
        ({"email": "not-an-email", "role": "viewer"}, "email"),
        ({"email": "a\x01b@example.com", "role": "viewer"}, "control"),
        ({"email": new_email(), "role": "emperor"}, "choice"),
        ({"email": new_email(), "role": "owner"}, "choice"),
        ({"email": tenant.owner_email, "role": "viewer"}, "already a member"),
    ]
    for data, hint in cases:
        response = owner.submit("/settings/team", data)
        assert response.status_code in (400, 409), (data, response.status_code)
        assert hint in field_errors(text_of(response)).lower(), (data, text_of(response)[:3000])
    typed = owner.submit("/settings/team", {"email": "typed@@example", "role": "viewer"})
    assert 'value="typed@@example"' in text_of(typed)
    assert seats_counter(app, tenant) == 1 == seats_actual(app, tenant)


def test_double_submit_is_already_invited(
    app: Flask, owner: Browser, tenant: TenantFixture
) -> None:
    tenant_plan_pro(app, tenant)
    email = new_email()
    assert invite(owner, email).status_code == 302
    again = invite(owner, email.upper())
    assert again.status_code == 409
    assert "already invited" in text_of(again)
    assert seats_counter(app, tenant) == 2 == seats_actual(app, tenant)


def tenant_plan_pro(app: Flask, tf: TenantFixture) -> None:
    from tenants.models import Tenant

    with app.app_context():
        db.session.execute(update(Tenant).where(Tenant.id == tf.tenant.id).values(plan="pro"))
        db.session.commit()
        db.session.remove()


def test_unverified_inviter_is_told_why(app: Flask, factory: Factory, client: Any) -> None:
    tf = factory.tenant("unverified")
    from tests.conftest import login

    assert login(client, tf).status_code == 302
    owner = Browser(client, tf)
    page = visible_text(text_of(owner.get("/settings/team")))
    assert "Verify your email address before you invite anyone" in page
    response = owner.submit("/settings/team", {"email": new_email(), "role": "viewer"})
    assert response.status_code == 403
    assert "Verify your email address first" in text_of(response)
    assert seats_actual(app, tf) == 1


def test_resend_and_revoke(
    app: Flask, owner: Browser, tenant: TenantFixture, smtp_sink: Any
) -> None:
    email = new_email()
    assert invite(owner, email).status_code == 302
    first = invitation_link(smtp_sink, email)
    with app.app_context():
        invitation = db.session.scalars(select(Invitation).where(Invitation.email == email)).one()
        invitation_id = invitation.id
        db.session.remove()
    # Within a minute: refused, no mail.
    owner.submit("/settings/team", {}, action=f"/settings/team/invitations/{invitation_id}/resend")
    assert len(smtp_sink.to(email)) == 1
    with app.app_context():
        db.session.execute(
            update(Invitation)
            .where(Invitation.id == invitation_id)
            .values(last_sent_at=utcnow() - dt.timedelta(minutes=2))
        )
        db.session.commit()
        db.session.remove()
    resent = owner.submit(
        "/settings/team", {}, action=f"/settings/team/invitations/{invitation_id}/resend"
    )
    assert resent.status_code == 302
    smtp_sink.wait_for(email, 2)
    second = invitation_link(smtp_sink, email)
    assert second != first
    visitor = Browser(app.test_client(), tenant)
    assert visitor.get(path_of(first)).status_code == 404  # the old link is dead
    assert visitor.get(path_of(second)).status_code == 200
    with app.app_context():
        assert db.session.get(Invitation, invitation_id).send_count == 2  # type: ignore[union-attr]
        db.session.remove()

    assert seats_counter(app, tenant) == 2
    confirm = owner.get(f"/settings/team/invitations/{invitation_id}/revoke")
    assert confirm.status_code == 200
    revoked = owner.submit(
        f"/settings/team/invitations/{invitation_id}/revoke",
        {},
    )
    assert revoked.status_code == 302
    assert seats_counter(app, tenant) == 1 == seats_actual(app, tenant)
    assert visitor.get(path_of(second)).status_code == 410
    # Revoking twice changes nothing.
    owner.submit(f"/settings/team/invitations/{invitation_id}/revoke", {})
    assert seats_counter(app, tenant) == 1


def test_sales_rep_may_not_invite(app: Flask, factory: Factory, tenant: TenantFixture) -> None:
    _, email, _ = factory.member(tenant, role="sales_rep")
    rep = sign_in_as(app, tenant, email)
    page = rep.get("/settings/team")
    assert page.status_code == 200  # sales reps see the team
    assert "Send invitation" not in text_of(page)
    token = rep.get("/contacts/new")
    from tests.conftest import csrf_token_from

    csrf = csrf_token_from(text_of(token))
    refused = rep.post(
        "/settings/team", data={"email": new_email(), "role": "viewer", "csrf_token": csrf}
    )
    assert refused.status_code == 403
