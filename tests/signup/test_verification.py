"""Email verification after signup, its resend button, "find my workspace" by mail and
the development outbox."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import select, update

from app.database import db
from app.identity.models import AccountToken, User
from app.mail.models import OutboxMessage
from tests.conftest import SERVER_NAME, Factory, csrf_token_from, make_app
from tests.signup.conftest import Visitor, good_values
from tests.support.smtp import SmtpSink


def signed_up(app: Flask) -> tuple[Visitor, dict[str, str]]:
    visitor = Visitor(app)
    values = good_values()
    welcome = visitor.follow_to_workspace(visitor.sign_up(**values))
    assert welcome.status_code == 302
    return visitor, values


def verified_at(app: Flask, email: str) -> dt.datetime | None:
    with app.app_context():
        try:
            return db.session.scalar(select(User.email_verified_at).where(User.email == email))
        finally:
            db.session.remove()


def test_verification_mail_link_verifies_once(app: Flask, smtp_sink: SmtpSink) -> None:
    visitor, values = signed_up(app)
    mail = smtp_sink.last_to(values["email"])
    assert "Confirm your email address" in mail.subject
    links = [link for link in mail.links() if "/verify-email/" in link]
    assert len(links) == 1
    assert urlsplit(links[0]).netloc == f"{values['slug']}.{SERVER_NAME}"
    assert links[0] in mail.html_links()
    assert verified_at(app, values["email"]) is None

    # Opened in another browser, signed out: still verifies.
    stranger = Visitor(app)
    page = stranger.open_absolute(links[0])
    assert page.status_code == 200
    assert "Your email address is confirmed" in page.get_data(as_text=True)
    assert verified_at(app, values["email"]) is not None

    again = stranger.open_absolute(links[0])
    assert again.status_code == 400
    assert "This link can not be used" in again.get_data(as_text=True)
    # The banner is gone for the signed-in owner.
    contacts = visitor.get("/contacts", base_url=f"http://{values['slug']}.{SERVER_NAME}")
    assert "Please confirm your email address" not in contacts.get_data(as_text=True)


def test_verification_link_of_another_workspace_is_unknown_here(
    app: Flask, smtp_sink: SmtpSink, factory: Factory
) -> None:
    other = factory.tenant("elsewhere")
    _, values = signed_up(app)
    link = next(
        link for link in smtp_sink.last_to(values["email"]).links() if "/verify-email/" in link
    )
    token = urlsplit(link).path.rsplit("/", 1)[1]
    response = Visitor(app).get(f"/verify-email/{token}", base_url=other.base_url)
    assert response.status_code == 404
    assert verified_at(app, values["email"]) is None
    assert Visitor(app).get("/verify-email/nothing", base_url=other.base_url).status_code == 404


def test_resend_is_limited_to_one_a_minute(app: Flask, smtp_sink: SmtpSink) -> None:
    visitor, values = signed_up(app)
    base = f"http://{values['slug']}.{SERVER_NAME}"
    before = len(smtp_sink.wait_for(values["email"]))
    page = visitor.get("/contacts", base_url=base)
    csrf = csrf_token_from(page.get_data(as_text=True))
    refused = visitor.post("/verify-email/resend", base_url=base, data={"csrf_token": csrf})
    assert refused.status_code == 302
    shown = visitor.get("/contacts", base_url=base).get_data(as_text=True)
    assert "less than a minute ago" in shown
    assert len(smtp_sink.to(values["email"])) == before

    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == values["email"]))
        db.session.execute(
            update(AccountToken)
            .where(AccountToken.user_id == user_id)
            .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2))
        )
        db.session.commit()
        db.session.remove()
    sent = visitor.post("/verify-email/resend", base_url=base, data={"csrf_token": csrf})
    assert sent.status_code == 302
    assert len(smtp_sink.wait_for(values["email"], count=before + 1)) == before + 1
    assert "We sent a new confirmation link" in visitor.get("/contacts", base_url=base).get_data(
        as_text=True
    )
    # Signed out: sent to the sign-in page, nothing mailed.
    anonymous = Visitor(app).post("/verify-email/resend", base_url=base, data={"csrf_token": csrf})
    assert anonymous.status_code in (302, 400)
    assert len(smtp_sink.to(values["email"])) == before + 1


def _find(visitor: Visitor, email: str) -> Any:
    page = visitor.get("/login")
    csrf = csrf_token_from(page.get_data(as_text=True))
    return visitor.post(
        "/login/find-workspace", data={"find-email": email, "find-csrf_token": csrf}
    )


def test_find_my_workspace_mails_every_live_workspace(
    app: Flask, smtp_sink: SmtpSink, factory: Factory
) -> None:
    first = factory.tenant("findme", name="Findme One")
    email = first.owner_email
    second = factory.tenant("findme", name="Findme Two")
    factory.member(second, role="viewer", email=email)
    visitor = Visitor(app)
    response = _find(visitor, email.upper())
    assert response.status_code == 303
    assert urlsplit(response.location).query == "sent=1"
    page = visitor.get(response.location)
    assert "If this address belongs to any workspace" in page.get_data(as_text=True)
    mail = smtp_sink.last_to(email)
    assert mail.subject == "Your CRM workspaces"
    assert f"http://{first.host}/login" in mail.links()
    assert f"http://{second.host}/login" in mail.links()
    assert "Findme One" in mail.text and "Findme Two" in mail.text


def test_find_my_workspace_answers_unknown_addresses_alike(
    app: Flask, smtp_sink: SmtpSink, factory: Factory
) -> None:
    known = factory.tenant("known")
    unknown = f"nobody-{known.slug}@example.com"
    visitor = Visitor(app)
    a = _find(visitor, known.owner_email)
    b = _find(visitor, unknown)
    assert (a.status_code, a.location) == (b.status_code, b.location)
    assert a.get_data() == b.get_data()
    smtp_sink.last_to(known.owner_email)
    assert smtp_sink.to(unknown) == []


def test_find_my_workspace_is_rate_limited(database_url: str, smtp_sink: SmtpSink) -> None:
    from tests.conftest import mail_settings

    limited = make_app(
        database_url, FIND_WORKSPACE_MAX_PER_IP_PER_HOUR=2, **mail_settings(smtp_sink)
    )
    visitor = Visitor(limited)
    assert _find(visitor, "a@example.com").status_code == 303
    assert _find(visitor, "b@example.com").status_code == 303
    refused = _find(visitor, "c@example.com")
    assert refused.status_code == 429
    assert "You have asked several times" in refused.get_data(as_text=True)
    assert _find(Visitor(limited), "d@example.com").status_code == 303
    with limited.app_context():
        db.engine.dispose()


def test_find_my_workspace_field_errors(app: Flask) -> None:
    response = _find(Visitor(app), "not an email")
    assert response.status_code == 200
    assert 'id="find-email-error"' in response.get_data(as_text=True)


def test_outbox_is_there_only_without_smtp_outside_production(
    app: Flask, database_url: str
) -> None:
    # The shared app sends through SMTP: no outbox.
    assert Visitor(app).get("/outbox").status_code == 404
    dev = make_app(database_url)
    visitor = Visitor(dev)
    values = good_values()
    visitor.follow_to_workspace(visitor.sign_up(**values))
    listing = visitor.get("/outbox")
    assert listing.status_code == 200
    html = listing.get_data(as_text=True)
    assert values["email"] in html
    with dev.app_context():
        message_id = db.session.scalar(
            select(OutboxMessage.id)
            .where(OutboxMessage.to_address == values["email"])
            .order_by(OutboxMessage.id.desc())
        )
        db.session.remove()
    detail = visitor.get(f"/outbox/{message_id}")
    assert detail.status_code == 200
    detail_html = detail.get_data(as_text=True)
    assert re.search(r'<a href="http://[^"]+/verify-email/[^"]+" dir="ltr">', detail_html)
    assert f'src="/outbox/{message_id}/html"' in detail_html and "sandbox" in detail_html
    framed = visitor.get(f"/outbox/{message_id}/html")
    assert framed.status_code == 200
    assert framed.headers["Content-Security-Policy"] == "sandbox"
    assert visitor.get("/outbox/999999999").status_code == 404
    assert visitor.get("/outbox?page=abc").status_code == 200
    # Production never keeps mail (it refuses to start without SMTP); even so, the page
    # is not served there.
    dev.config["ENV_NAME"] = "production"
    assert visitor.get("/outbox").status_code == 404
    assert visitor.get(f"/outbox/{message_id}").status_code == 404
    assert visitor.get(f"/outbox/{message_id}/html").status_code == 404
    with dev.app_context():
        db.engine.dispose()
