"""Password reset by mail and password change: every old session, remember-me cookie,
API token and mailed link ends; the browser that changed it stays signed in."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import update

from app.database import db
from app.identity.models import AccountToken
from tests.account.conftest import LOCAL, STRONG_PASSWORD, attempt, fresh_ip, sign_in, user_by_email
from tests.conftest import PASSWORD, Factory, TenantFixture, csrf_token_from
from tests.support.smtp import SmtpSink
from tests.web.conftest import Browser, text_of, visible_text

SAME_ANSWER = "we sent a link to it"


def ask_reset(app: Flask, tf: TenantFixture, email: str) -> str:
    browser = Browser(app.test_client(), tf)
    response = browser.submit("/forgot-password", {"email": email})
    assert response.status_code == 200
    return visible_text(text_of(response))


def reset_link(sink: SmtpSink, email: str, tf: TenantFixture) -> str:
    mail = sink.last_to(email)
    links = [link for link in mail.links() if "/reset-password/" in link]
    assert len(links) == 1, mail.text
    assert urlsplit(links[0]).netloc == tf.host
    return urlsplit(links[0]).path


def test_login_page_links_to_forgot_password(app: Flask, tenant: TenantFixture) -> None:
    page = app.test_client().get("/login", base_url=tenant.base_url)
    assert 'href="/forgot-password"' in text_of(page)
    assert "Forgot your password?" in text_of(page)


def test_password_reset_full_flow(app: Flask, tenant: TenantFixture, smtp_sink: SmtpSink) -> None:
    email = tenant.owner_email
    # Somebody signed in elsewhere, with "remember me", and an API token.
    other = app.test_client()
    assert attempt(other, tenant, email, PASSWORD, ip=LOCAL, remember=True).status_code == 302
    assert other.get("/contacts", base_url=tenant.base_url).status_code == 200
    answer = ask_reset(app, tenant, email)
    assert SAME_ANSWER in answer
    path = reset_link(smtp_sink, email, tenant)

    browser = Browser(app.test_client(), tenant)
    form = browser.get(path)
    assert form.status_code == 200
    assert form.headers["Cache-Control"] == "no-store"
    assert form.headers["Referrer-Policy"] == "no-referrer"
    # A weak password or a typo is a field error, and the link still works.
    weak = browser.submit(path, {"password": "password123", "password_confirm": "password123"})
    assert weak.status_code == 200
    assert "common or leaked" in text_of(weak) or "too easy" in text_of(weak)
    typo = browser.submit(path, {"password": STRONG_PASSWORD, "password_confirm": "other"})
    assert "The two passwords differ." in text_of(typo)
    assert 'value="other"' not in text_of(typo)
    done = browser.submit(path, {"password": STRONG_PASSWORD, "password_confirm": STRONG_PASSWORD})
    assert done.status_code == 302
    # Signed in right away, with the new password.
    assert browser.get("/contacts").status_code == 200
    # The link worked once.
    again = browser.client.get(path, base_url=tenant.base_url)
    assert again.status_code == 400
    assert "Ask for a new link" in text_of(again)
    # Every other session and remember-me cookie is over; so are the API tokens.
    other.delete_cookie("session", domain=tenant.host)
    assert other.get("/contacts", base_url=tenant.base_url).status_code == 302
    assert (
        app.test_client()
        .get("/api/v1/me", base_url=tenant.base_url, headers=tenant.auth())
        .status_code
        == 401
    )
    # The old password is refused, the new one works.
    assert attempt(app.test_client(), tenant, email, PASSWORD, ip=fresh_ip()).status_code == 200
    assert (
        attempt(app.test_client(), tenant, email, STRONG_PASSWORD, ip=fresh_ip()).status_code == 302
    )
    notice = smtp_sink.last_to(email)
    assert notice.subject == "Your password was changed"
    assert user_by_email(app, email).email_verified_at is not None


def test_unknown_and_foreign_addresses_get_the_same_answer_and_no_mail(
    app: Flask, factory: Factory, smtp_sink: SmtpSink
) -> None:
    a = factory.tenant("reset-a")
    b = factory.tenant("reset-b")
    unknown = f"nobody-{a.slug}@example.com"
    known = ask_reset(app, a, a.owner_email)
    nobody = ask_reset(app, a, unknown)
    foreign = ask_reset(app, b, a.owner_email)  # a member of A, asking on B
    assert known.replace(a.owner_email, "X") == nobody.replace(unknown, "X")
    assert SAME_ANSWER in foreign
    assert smtp_sink.to(unknown) == []
    assert len(smtp_sink.wait_for(a.owner_email)) == 1


def test_at_most_three_reset_mails_an_hour(
    app: Flask, tenant: TenantFixture, smtp_sink: SmtpSink
) -> None:
    for _ in range(5):
        assert SAME_ANSWER in ask_reset(app, tenant, tenant.owner_email)
    assert len(smtp_sink.to(tenant.owner_email)) == 3


def test_expired_and_other_workspace_links_are_refused(
    app: Flask, factory: Factory, smtp_sink: SmtpSink
) -> None:
    a = factory.tenant("reset-x")
    b = factory.tenant("reset-y")
    ask_reset(app, a, a.owner_email)
    path = reset_link(smtp_sink, a.owner_email, a)
    on_b = Browser(app.test_client(), b)
    assert on_b.get(path).status_code == 400
    assert on_b.post(path, data={"password": STRONG_PASSWORD}).status_code in (400,)
    with app.app_context():
        db.session.execute(
            update(AccountToken)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
            .where(AccountToken.user_id == user_by_email(app, a.owner_email).id)
        )
        db.session.commit()
    expired = Browser(app.test_client(), a).get(path)
    assert expired.status_code == 400
    assert "expired" in text_of(expired)
    for junk in ("/reset-password/x", "/reset-password/" + "a" * 500, "/reset-password/%00"):
        assert Browser(app.test_client(), a).get(junk).status_code == 400


def test_password_change_keeps_this_browser_and_ends_the_others(
    app: Flask, tenant: TenantFixture, smtp_sink: SmtpSink
) -> None:
    me = sign_in(app, tenant, tenant.owner_email)
    elsewhere = sign_in(app, tenant, tenant.owner_email)
    wrong = me.submit(
        "/settings/profile",
        {
            "current_password": "nope",
            "new_password": STRONG_PASSWORD,
            "new_password_confirm": STRONG_PASSWORD,
        },
        action="/settings/profile/password",
    )
    assert wrong.status_code == 200
    assert "The current password is not right." in text_of(wrong)
    weak = me.submit(
        "/settings/profile",
        {"current_password": PASSWORD, "new_password": "short", "new_password_confirm": "short"},
        action="/settings/profile/password",
    )
    assert "Use at least 10 characters." in text_of(weak)
    done = me.submit(
        "/settings/profile",
        {
            "current_password": PASSWORD,
            "new_password": STRONG_PASSWORD,
            "new_password_confirm": STRONG_PASSWORD,
        },
        action="/settings/profile/password",
    )
    assert done.status_code == 302
    assert me.get("/contacts").status_code == 200
    stale = elsewhere.get("/contacts")
    assert stale.status_code == 302 and urlsplit(stale.location).path == "/login"
    api = app.test_client().get("/api/v1/me", base_url=tenant.base_url, headers=tenant.auth())
    assert api.status_code == 401
    assert smtp_sink.last_to(tenant.owner_email).subject == "Your password was changed"
    assert (
        attempt(
            app.test_client(), tenant, tenant.owner_email, STRONG_PASSWORD, ip=fresh_ip()
        ).status_code
        == 302
    )


def test_a_reset_link_dies_when_the_password_changes(
    app: Flask, tenant: TenantFixture, smtp_sink: SmtpSink
) -> None:
    ask_reset(app, tenant, tenant.owner_email)
    path = reset_link(smtp_sink, tenant.owner_email, tenant)
    me = sign_in(app, tenant, tenant.owner_email)
    me.submit(
        "/settings/profile",
        {
            "current_password": PASSWORD,
            "new_password": STRONG_PASSWORD,
            "new_password_confirm": STRONG_PASSWORD,
        },
        action="/settings/profile/password",
    )
    assert Browser(app.test_client(), tenant).get(path).status_code == 400


def test_forgot_password_form_errors(app: Flask, tenant: TenantFixture) -> None:
    browser = Browser(app.test_client(), tenant)
    for value in ("not-an-email", "a\x00b@example.com", "x" * 300 + "@example.com"):
        response = browser.submit("/forgot-password", {"email": value})
        assert response.status_code == 200
        assert 'class="field-error"' in text_of(response)
    assert csrf_token_from(text_of(browser.get("/forgot-password")))


def test_password_confirmations_are_throttled_like_sign_in(
    app: Flask, tenant: TenantFixture
) -> None:
    """A stolen session can not be used to guess the password on the settings forms:
    wrong passwords there count against the address, and once it is locked even the
    right password is not checked (here or at sign-in)."""
    me = sign_in(app, tenant, tenant.owner_email)
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    new_password = {
        "current_password": "wrong",
        "new_password": STRONG_PASSWORD,
        "new_password_confirm": STRONG_PASSWORD,
    }
    new_email = {"new_email": "new-" + tenant.owner_email, "email_password": "wrong"}
    forms = [
        ("/settings/profile/password", new_password),
        ("/settings/profile/email", new_email),
    ]
    for number in range(limit):
        action, fields = forms[number % len(forms)]
        answer = text_of(me.submit("/settings/profile", fields, action=action))
        expected = "Try again in" if number == limit - 1 else "is not right."
        assert expected in answer, (number, answer)
    locked = me.submit(
        "/settings/profile",
        {
            "current_password": PASSWORD,
            "new_password": STRONG_PASSWORD,
            "new_password_confirm": STRONG_PASSWORD,
        },
        action="/settings/profile/password",
    )
    assert "Too many wrong passwords" in text_of(locked)
    sign_in_now = attempt(app.test_client(), tenant, tenant.owner_email, PASSWORD, ip=fresh_ip())
    assert sign_in_now.status_code == 429
