"""Profile: name, language and time zone with bad input answered on the field, and the
email change confirmed through a link mailed to the new address."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from flask import Flask

from app.database import db
from app.identity.services import get_or_create_user
from tests.account.conftest import LOCAL, attempt, sign_in, user_by_email
from tests.conftest import PASSWORD, Factory, TenantFixture
from tests.support.smtp import SmtpSink
from tests.web.conftest import Browser, text_of

GOOD = {"name": "Ada Lovelace", "locale": "hy", "timezone": "Asia/Yerevan"}


def test_profile_saves_name_language_and_time_zone(
    app: Flask, tenant: TenantFixture, owner: Browser
) -> None:
    page = owner.get("/settings/profile")
    assert page.status_code == 200
    html = text_of(page)
    for label in ("English", "Русский", "العربية", "فارسی", "Հայերեն", "Монгол"):
        assert label in html
    assert 'value="Europe/Paris"' in html
    response = owner.submit("/settings/profile", GOOD)
    assert response.status_code == 302
    user = user_by_email(app, tenant.owner_email)
    assert (user.name, user.locale, user.timezone) == ("Ada Lovelace", "hy", "Asia/Yerevan")
    assert "Profile saved." in text_of(owner.get("/settings/profile"))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus_Mons", "Not a valid choice"),
        ("timezone", "", "Not a valid choice"),
        ("locale", "de", "Not a valid choice"),
        ("locale", "en\x00", "Not a valid choice"),
        ("name", "Ada\x07", "Remove the invisible control characters."),
        ("name", "A" * 201, "Field cannot be longer than 200 characters."),
    ],
)
def test_bad_profile_input_is_a_field_error(
    app: Flask, tenant: TenantFixture, owner: Browser, field: str, value: str, message: str
) -> None:
    response = owner.submit("/settings/profile", {**GOOD, field: value})
    assert response.status_code == 200
    html = text_of(response)
    assert message in html
    assert f'id="{field}-error"' in html
    if field != "name":
        assert 'value="Ada Lovelace"' in html  # what was typed is kept
    assert user_by_email(app, tenant.owner_email).timezone is None


def test_email_change_through_the_new_address(
    app: Flask, tenant: TenantFixture, owner: Browser, smtp_sink: SmtpSink
) -> None:
    old = tenant.owner_email
    new = f"new-{tenant.slug}@example.com"
    wrong = owner.submit(
        "/settings/profile",
        {"new_email": new, "email_password": "nope"},
        action="/settings/profile/email",
    )
    assert wrong.status_code == 200
    assert "The password is not right." in text_of(wrong)
    assert f'value="{new}"' in text_of(wrong)
    asked = owner.submit(
        "/settings/profile",
        {"new_email": new.upper(), "email_password": PASSWORD},
        action="/settings/profile/email",
    )
    assert asked.status_code == 302
    assert user_by_email(app, old).email == old  # nothing changes before the link
    mail = smtp_sink.last_to(new)
    links = [link for link in mail.links() if "/settings/email/" in link]
    assert len(links) == 1
    path = urlsplit(links[0]).path
    page = owner.get(path)
    assert page.status_code == 200
    assert new in text_of(page)
    # Someone else, signed in to the same workspace, can not use the link.
    _uid, other_email, _token = Factory(app).member(tenant)
    assert sign_in(app, tenant, other_email).get(path).status_code == 400
    done = owner.submit(path, {})
    assert done.status_code == 302
    user = user_by_email(app, new)
    assert user.email_verified_at is not None
    notice = smtp_sink.last_to(old)
    assert notice.subject == "Your email address was changed"
    assert new in notice.text
    assert owner.get(path).status_code == 400  # used
    assert attempt(app.test_client(), tenant, new, PASSWORD, ip=LOCAL).status_code == 302


def test_email_change_refuses_a_taken_address(
    app: Flask, factory: Factory, tenant: TenantFixture, owner: Browser, smtp_sink: SmtpSink
) -> None:
    _uid, taken, _token = factory.member(tenant)
    response = owner.submit(
        "/settings/profile",
        {"new_email": taken, "email_password": PASSWORD},
        action="/settings/profile/email",
    )
    assert response.status_code == 200
    assert "This address is used by another account." in text_of(response)
    # Taken between the request and the click: refused then too.
    late = f"late-{tenant.slug}@example.com"
    owner.submit(
        "/settings/profile",
        {"new_email": late, "email_password": PASSWORD},
        action="/settings/profile/email",
    )
    path = urlsplit(
        next(link for link in smtp_sink.last_to(late).links() if "/settings/email/" in link)
    ).path
    with app.app_context():
        get_or_create_user(db.session, email=late, password=PASSWORD)
        db.session.commit()
        db.session.remove()
    refused = owner.submit(path, {})
    assert refused.status_code == 302
    assert "now used by another account" in text_of(owner.get("/settings/profile"))
    assert user_by_email(app, tenant.owner_email).email == tenant.owner_email
