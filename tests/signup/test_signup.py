"""Signing up on the apex host: the form, its refusals, the provisioning task, the
progress page and the signed-in arrival on the new workspace."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from sqlalchemy import select, update

from app.audit.models import PlatformAuditEntry
from app.database import db
from app.identity.models import AccountToken, Membership, User
from app.signup import services
from app.signup.models import Signup, SignupStatus
from billing.models import UsageCounter
from tenants.context import tenant_context
from tenants.models import Tenant, TenantStatus
from tenants.provisioning import provision_tenant
from tests.conftest import PASSWORD, SERVER_NAME, Factory, make_app
from tests.signup.conftest import (
    STRONG_PASSWORD,
    Visitor,
    counts,
    field_errors,
    good_values,
)


def tenant_row(app: Flask, slug: str) -> Tenant:
    with app.app_context():
        tenant = db.session.scalars(select(Tenant).where(Tenant.slug == slug)).one()
        db.session.expunge(tenant)
        db.session.remove()
        return tenant


def usage(app: Flask, tenant: Tenant) -> dict[str, int]:
    assert tenant.schema_name is not None
    from tenants.context import TenantRef

    ref = TenantRef(id=tenant.id, slug=tenant.slug, schema_name=tenant.schema_name)
    with app.app_context(), tenant_context(ref):
        try:
            rows = db.session.execute(select(UsageCounter.resource, UsageCounter.used)).all()
            return {row.resource: row.used for row in rows}
        finally:
            db.session.remove()


# --- the happy path ---------------------------------------------------------------------


def test_signup_makes_a_workspace_and_signs_the_owner_in(app: Flask, visitor: Visitor) -> None:
    values = good_values()
    response = visitor.sign_up(**values)
    welcome = visitor.follow_to_workspace(response)
    host = f"{values['slug']}.{SERVER_NAME}"
    assert welcome.status_code == 302
    assert urlsplit(welcome.location).path == "/"
    contacts = visitor.get("/contacts", base_url=f"http://{host}")
    assert contacts.status_code == 200
    html = contacts.get_data(as_text=True)
    assert "Your workspace is ready" in html  # the welcome flash
    assert "Please confirm your email address" in html  # the verification banner

    tenant = tenant_row(app, values["slug"])
    assert tenant.status == TenantStatus.ACTIVE
    assert tenant.name == "Northwind Traders"
    assert tenant.plan == "free" and tenant.trial_ends_at is None
    assert usage(app, tenant) == {"contacts": 0, "seats": 1, "pipelines": 1, "custom_fields": 0}
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == values["email"])).one()
        assert user.name == "Nora Owner"
        assert user.email_verified_at is None
        assert user.password_hash and user.password_hash.startswith("$argon2id$")
        membership = db.session.scalars(
            select(Membership).where(Membership.user_id == user.id)
        ).one()
        assert (membership.tenant_id, membership.role, membership.is_active) == (
            tenant.id,
            "owner",
            True,
        )
        signup = db.session.scalars(select(Signup).where(Signup.slug == values["slug"])).one()
        assert signup.status == SignupStatus.READY
        assert signup.password_hash is None  # forgotten once the workspace exists
        assert signup.tenant_id == tenant.id and signup.user_id == user.id
        actions = set(
            db.session.scalars(
                select(PlatformAuditEntry.action).where(PlatformAuditEntry.tenant_id == tenant.id)
            )
        )
        assert {"tenant.created", "signup.completed"} <= actions
        db.session.remove()


def test_pro_trial_lasts_fourteen_days(app: Flask, visitor: Visitor) -> None:
    values = good_values(plan="pro_trial")
    visitor.follow_to_workspace(visitor.sign_up(**values))
    tenant = tenant_row(app, values["slug"])
    assert tenant.plan == "pro"
    assert tenant.trial_ends_at is not None
    days = (tenant.trial_ends_at - dt.datetime.now(dt.UTC)) / dt.timedelta(days=1)
    assert 13.9 < days <= 14


def test_the_handoff_token_works_once(app: Flask, visitor: Visitor) -> None:
    values = good_values()
    response = visitor.sign_up(**values)
    progress = visitor.get(urlsplit(response.location).path)
    handoff_url = progress.location
    first = Visitor(app).open_absolute(handoff_url)
    assert first.status_code == 302
    again = Visitor(app).open_absolute(handoff_url)
    assert again.status_code == 400
    assert "This link can not be used" in again.get_data(as_text=True)
    assert 'href="/login"' in again.get_data(as_text=True)


def test_expired_unknown_and_foreign_handoff_tokens_are_refused(
    app: Flask, visitor: Visitor, factory: Factory
) -> None:
    other = factory.tenant("other")
    values = good_values()
    response = visitor.sign_up(**values)
    progress = visitor.get(urlsplit(response.location).path)
    token = parse_qs(urlsplit(progress.location).query)["token"][0]
    # On another workspace's host: as if unknown, and not spent by the attempt.
    foreign = Visitor(app).get(f"/welcome?token={token}", base_url=other.base_url)
    assert foreign.status_code == 404
    unknown = Visitor(app).get("/welcome?token=nope", base_url=other.base_url)
    assert unknown.status_code == 404
    assert Visitor(app).get("/welcome", base_url=other.base_url).status_code == 404
    with app.app_context():
        db.session.execute(
            update(AccountToken)
            .where(AccountToken.tenant_id == tenant_row(app, values["slug"]).id)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        db.session.commit()
        db.session.remove()
    expired = Visitor(app).open_absolute(progress.location)
    assert expired.status_code == 400
    assert "This link can not be used" in expired.get_data(as_text=True)


def test_progress_page_belongs_to_the_browser_that_signed_up(app: Flask, visitor: Visitor) -> None:
    response = visitor.sign_up()
    path = urlsplit(response.location).path
    stranger = Visitor(app)
    assert stranger.get(path).status_code == 404
    assert stranger.get(path + "/status").status_code == 404
    status = visitor.get(path + "/status")
    assert status.status_code == 200
    assert status.get_json()["status"] == "ready"
    assert status.get_json()["done"] is True


def test_double_submit_lands_on_the_same_signup(app: Flask, visitor: Visitor) -> None:
    csrf, form_id = visitor.form_page()
    values = good_values()
    first = visitor.sign_up(form_id=form_id, csrf=csrf, **values)
    second = visitor.sign_up(form_id=form_id, csrf=csrf, **values)
    assert first.status_code == second.status_code == 303
    assert first.location == second.location
    found = counts(app, values["slug"], values["email"])
    assert (found.tenants, found.users, found.signups) == (1, 1, 1)


def test_an_existing_identity_must_give_its_password(
    app: Flask, visitor: Visitor, factory: Factory
) -> None:
    owner = factory.tenant("existing")
    values = good_values(email=owner.owner_email.upper(), password=STRONG_PASSWORD)
    refused = visitor.sign_up(**values)
    assert refused.status_code == 200
    errors = field_errors(refused.get_data(as_text=True), "email")
    assert any("already has an account" in e for e in errors)
    assert counts(app, values["slug"], owner.owner_email).tenants == 0

    # With that account's password the new workspace joins the same identity, whose
    # password stays the one it had.
    values["password"] = PASSWORD
    welcome = visitor.follow_to_workspace(visitor.sign_up(**values))
    assert welcome.status_code == 302
    tenant = tenant_row(app, values["slug"])
    with app.app_context():
        user = db.session.get(User, owner.owner_id)
        assert user is not None
        roles = {
            m.tenant_id: m.role
            for m in db.session.scalars(select(Membership).where(Membership.user_id == user.id))
        }
        assert roles == {owner.tenant.id: "owner", tenant.id: "owner"}
        assert user.name == "Owner"
        db.session.remove()


# --- refusals -----------------------------------------------------------------------------


BAD_INPUT = [
    ("slug", {"slug": "admin"}, "reserved"),
    ("slug", {"slug": "www"}, "reserved"),
    ("slug", {"slug": "ab"}, "3 to 40"),
    ("slug", {"slug": "x" * 41}, "3 to 40"),
    ("slug", {"slug": "Acme-Corp"}, "lowercase"),
    ("slug", {"slug": "-acme"}, "Start and end"),
    ("slug", {"slug": "acme-"}, "Start and end"),
    ("slug", {"slug": "ac--me"}, "two hyphens"),
    ("slug", {"slug": "ac me"}, "lowercase"),
    ("slug", {"slug": "ac\x00me"}, "control characters"),
    ("slug", {"slug": ""}, "required"),
    ("password", {"password": "short"}, "at least 10"),
    ("password", {"password": "password123"}, "common"),
    ("password", {"password": "northwind traders"}, ""),
    ("password", {"password": "p" * 201}, ""),
    ("password", {"password": ""}, "required"),
    ("email", {"email": "not-an-email"}, "email"),
    ("email", {"email": "a@b@example.com"}, "email"),
    ("email", {"email": ""}, "required"),
    ("email", {"email": "x" * 250 + "@example.com"}, ""),
    ("company_name", {"company_name": ""}, "required"),
    ("company_name", {"company_name": "Acme\x07 Corp"}, "control characters"),
    ("company_name", {"company_name": "A" * 201}, "200"),
    ("owner_name", {"owner_name": "   "}, "required"),
    ("owner_name", {"owner_name": "Nora\nOwner"}, "control characters"),
    ("owner_name", {"owner_name": "N" * 201}, "200"),
]


@pytest.mark.parametrize(("field", "change", "words"), BAD_INPUT)
def test_bad_input_is_a_field_error_and_creates_nothing(
    app: Flask, visitor: Visitor, field: str, change: dict[str, str], words: str
) -> None:
    values = good_values(**change)
    response = visitor.sign_up(**values)
    assert response.status_code == 200, response.status_code
    html = response.get_data(as_text=True)
    errors = field_errors(html, field)
    assert errors, f"no error next to {field}"
    assert words.lower() in " ".join(errors).lower(), errors
    # Typed values come back (the password never does).
    if field != "company_name":
        assert 'value="Northwind Traders"' in html
    assert STRONG_PASSWORD not in html
    slug = values["slug"] if values["slug"] and "\x00" not in values["slug"] else "-"
    email = values["email"] or "-"
    assert counts(app, slug, email) == counts(app, "-", "-")
    assert counts(app, slug, email).tenants == 0
    assert counts(app, slug, email).users == 0


def test_missing_fields_all_answered_at_once(app: Flask, visitor: Visitor) -> None:
    csrf, form_id = visitor.form_page()
    response = visitor.post("/signup", data={"csrf_token": csrf, "form_id": form_id})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for name in ("company_name", "slug", "owner_name", "email", "password"):
        assert field_errors(html, name), name


def test_taken_slug_gets_suggestions(app: Flask, visitor: Visitor, factory: Factory) -> None:
    existing = factory.tenant("taken")
    values = good_values(slug=existing.slug, company_name="Taken Company")
    response = visitor.sign_up(**values)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "This address is taken." in field_errors(html, "slug")
    assert f'data-suggest="{existing.slug}-team"' in html
    assert 'data-suggest="taken-company"' in html
    assert counts(app, existing.slug, values["email"]).users == 0


def test_a_slug_held_by_an_open_signup_is_taken(app: Flask, visitor: Visitor) -> None:
    slug = good_values()["slug"]
    with app.app_context():
        db.session.add(
            Signup(
                token_hash="f" * 40 + slug[-10:] + "0" * 14,
                company_name="Holder",
                slug=slug,
                owner_name="H",
                email=f"holder@{slug}.example",
                plan="free",
                status=SignupStatus.PENDING,
            )
        )
        db.session.commit()
        db.session.remove()
    response = visitor.sign_up(**good_values(slug=slug))
    assert "This address is taken." in field_errors(response.get_data(as_text=True), "slug")
    check = visitor.get(f"/signup/check-slug?slug={slug}")
    assert check.get_json()["available"] is False


def test_honeypot_refuses_without_creating_anything(app: Flask, visitor: Visitor) -> None:
    values = good_values(website="http://spam.example")
    response = visitor.sign_up(**values)
    assert response.status_code == 400
    assert "could not be accepted" in response.get_data(as_text=True)
    assert counts(app, values["slug"], values["email"]) == counts(app, "-", "-")


def test_signups_per_address_are_limited(database_url: str, smtp_sink: Any) -> None:
    from tests.conftest import mail_settings

    limited = make_app(database_url, SIGNUP_MAX_PER_IP_PER_HOUR=2, **mail_settings(smtp_sink))
    visitor = Visitor(limited)
    for _ in range(2):
        assert visitor.sign_up().status_code == 303
    values = good_values()
    refused = visitor.sign_up(**values)
    assert refused.status_code == 429
    html = refused.get_data(as_text=True)
    assert "Too many workspaces were created from your network" in html
    assert 'value="Northwind Traders"' in html
    assert counts(limited, values["slug"], values["email"]).signups == 0
    # Another address is not affected.
    assert Visitor(limited).sign_up().status_code == 303
    with limited.app_context():
        db.engine.dispose()


def test_form_without_csrf_token_is_refused(app: Flask, visitor: Visitor) -> None:
    values = good_values()
    response = visitor.post("/signup", data=values)
    assert response.status_code == 400
    assert counts(app, values["slug"], values["email"]).signups == 0


# --- the live address check -----------------------------------------------------------------


def test_check_slug_answers_in_json(app: Flask, visitor: Visitor, factory: Factory) -> None:
    free = good_values()["slug"]
    body = visitor.get(f"/signup/check-slug?slug={free}").get_json()
    assert body == {
        "slug": free,
        "available": True,
        "message": f"{free} is available.",
        "suggestions": [],
    }
    taken = factory.tenant("chk")
    body = visitor.get(f"/signup/check-slug?slug={taken.slug}&company=Acme Rockets").get_json()
    assert body["available"] is False
    assert body["message"] == "This address is taken."
    assert body["suggestions"] and taken.slug not in body["suggestions"]
    assert "acme-rockets" in body["suggestions"] or f"{taken.slug}-team" in body["suggestions"]
    for bad in ("api", "Ab", "-x-", "a" * 50, ""):
        body = visitor.get("/signup/check-slug", query_string={"slug": bad}).get_json()
        assert body["available"] is False and body["message"]


# --- provisioning failures ------------------------------------------------------------------


def test_slug_taken_between_form_and_task_fails_cleanly(
    app: Flask, visitor: Visitor, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = good_values()
    real = services.provision_tenant

    def race(engine: Any, **kwargs: Any) -> Any:
        # Someone else gets the address first (e.g. `crm tenants create`).
        with app.app_context():
            provision_tenant(db.engine, slug=kwargs["slug"], name="Quicker Ltd")
        return real(engine, **kwargs)

    monkeypatch.setattr(services, "provision_tenant", race)
    response = visitor.sign_up(**values)
    assert response.status_code == 303
    page = visitor.get(urlsplit(response.location).path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "could not be created" in html
    assert "The workspace address was taken" in html
    found = counts(app, values["slug"], values["email"])
    assert found.tenants == 1 and found.schemas == 1  # only the other one's
    assert tenant_row(app, values["slug"]).name == "Quicker Ltd"
    assert found.users == 0  # the identity made for this signup is gone again
    with app.app_context():
        signup = db.session.scalars(select(Signup).where(Signup.slug == values["slug"])).one()
        assert signup.status == SignupStatus.FAILED and signup.password_hash is None
        db.session.remove()
    # Back to the form: what was typed is there again, except the password.
    back = visitor.get(f"/signup?retry={urlsplit(response.location).path.rsplit('/', 1)[1]}")
    back_html = back.get_data(as_text=True)
    assert f'value="{values["slug"]}"' in back_html
    assert f'value="{values["email"]}"' in back_html


def test_a_failure_inside_provisioning_leaves_no_half_tenant(
    app: Flask, visitor: Visitor, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = good_values()
    import tenants.provisioning as provisioning

    def broken(connection: Any, tenant_id: int) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(provisioning, "seed_usage_counters", broken)
    response = visitor.sign_up(**values)
    page = visitor.get(urlsplit(response.location).path)
    assert "could not be created" in page.get_data(as_text=True)
    found = counts(app, values["slug"], values["email"])
    assert (found.tenants, found.schemas, found.users) == (0, 0, 0)
    with app.app_context():
        schemas = db.session.scalar(select(Signup.tenant_id).where(Signup.slug == values["slug"]))
        assert schemas is None
        db.session.remove()


def test_provisioning_is_idempotent(app: Flask, visitor: Visitor) -> None:
    values = good_values()
    visitor.sign_up(**values)
    with app.app_context():
        signup_id = db.session.scalar(select(Signup.id).where(Signup.slug == values["slug"]))
        assert signup_id is not None
        assert services.provision(db.session, db.engine, signup_id) == SignupStatus.READY
        db.session.remove()
    assert counts(app, values["slug"], values["email"]).tenants == 1


# --- pages ------------------------------------------------------------------------------------


def test_signup_page_has_every_field_and_a_hidden_honeypot(visitor: Visitor) -> None:
    html = visitor.get("/signup").get_data(as_text=True)
    for name in ("company_name", "slug", "owner_name", "email", "password", "plan"):
        assert f'name="{name}"' in html
    assert 'name="website"' in html and 'tabindex="-1"' in html
    assert '<div class="visually-hidden" aria-hidden="true">' in html
    assert "signup.js" in html


def test_landing_invites_to_start_free(visitor: Visitor) -> None:
    html = visitor.get("/").get_data(as_text=True)
    assert 'href="/signup"' in html and "Start free" in html
