"""Two-factor sign-in: enrolment, sign-in with a code or a recovery code, replays,
throttling of wrong codes, turning it off, and workspaces that require it."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient

from tests.account.conftest import (
    LOCAL,
    attempt,
    code_at,
    enrol_two_factor,
    fresh_ip,
    recovery_codes_in,
    sign_in,
    user_by_email,
)
from tests.conftest import PASSWORD, Factory, TenantFixture, csrf_token_from
from tests.web.conftest import Browser, text_of, visible_text


def second_step(client: FlaskClient, tf: TenantFixture, code: str, ip: str = LOCAL) -> object:
    page = client.get(
        "/login/two-factor", base_url=tf.base_url, environ_overrides={"REMOTE_ADDR": ip}
    )
    assert page.status_code == 200, page.status_code
    return client.post(
        "/login/two-factor",
        base_url=tf.base_url,
        data={"code": code, "csrf_token": csrf_token_from(text_of(page))},
        environ_overrides={"REMOTE_ADDR": ip},
    )


def test_enrol_then_sign_in_with_a_code_and_no_replay(
    app: Flask, tenant: TenantFixture, owner: Browser
) -> None:
    totp, codes = enrol_two_factor(owner)
    user = user_by_email(app, tenant.owner_email)
    assert user.totp_enabled_at is not None
    assert len(user.recovery_code_hashes) == 10
    assert not set(codes) & set(user.recovery_code_hashes)  # only hashes are stored
    assert "On" in visible_text(text_of(owner.get("/settings/security")))

    client = app.test_client()
    first = attempt(client, tenant, tenant.owner_email, PASSWORD, ip=LOCAL, remember=True)
    assert first.status_code == 302 and urlsplit(first.location).path == "/login/two-factor"
    # Not signed in yet.
    assert client.get("/contacts", base_url=tenant.base_url).status_code == 302
    code = code_at(totp, 1)
    done = second_step(client, tenant, code)
    assert done.status_code == 302
    assert client.get("/contacts", base_url=tenant.base_url).status_code == 200

    # The same code again (a replay) is refused, even with the right password.
    again = app.test_client()
    attempt(again, tenant, tenant.owner_email, PASSWORD, ip=LOCAL)
    replay = second_step(again, tenant, code)
    assert replay.status_code == 200
    assert "That code is not right." in text_of(replay)
    assert again.get("/contacts", base_url=tenant.base_url).status_code == 302


def test_a_recovery_code_works_once(app: Flask, tenant: TenantFixture, owner: Browser) -> None:
    _totp, codes = enrol_two_factor(owner)
    client = app.test_client()
    attempt(client, tenant, tenant.owner_email, PASSWORD, ip=LOCAL)
    assert second_step(client, tenant, codes[0].upper()).status_code == 302
    assert len(user_by_email(app, tenant.owner_email).recovery_code_hashes) == 9
    client = app.test_client()
    attempt(client, tenant, tenant.owner_email, PASSWORD, ip=LOCAL)
    assert second_step(client, tenant, codes[0]).status_code == 200


def test_wrong_codes_count_in_the_account_throttle(
    app: Flask, tenant: TenantFixture, owner: Browser
) -> None:
    enrol_two_factor(owner)
    client = app.test_client()
    ip = fresh_ip()
    attempt(client, tenant, tenant.owner_email, PASSWORD, ip=ip)
    statuses = [second_step(client, tenant, "000000", ip=ip).status_code for _ in range(4)]
    assert statuses == [200] * 4
    locked = second_step(client, tenant, "111111", ip=ip)
    assert locked.status_code == 429
    assert "sign-in is locked" in visible_text(text_of(locked))
    # The password step is locked as well now, and the right code does not help.
    assert (
        attempt(app.test_client(), tenant, tenant.owner_email, PASSWORD, ip=fresh_ip()).status_code
        == 429
    )


def test_the_pending_step_expires_and_stays_on_its_workspace(
    app: Flask, factory: Factory, tenant: TenantFixture, owner: Browser
) -> None:
    enrol_two_factor(owner)
    client = app.test_client()
    attempt(client, tenant, tenant.owner_email, PASSWORD, ip=LOCAL)
    with client.session_transaction(base_url=tenant.base_url) as session:
        state = dict(session["pending_second_factor"])
        state["expires"] = 0
        session["pending_second_factor"] = state
    late = client.get("/login/two-factor", base_url=tenant.base_url)
    assert late.status_code == 302 and urlsplit(late.location).path == "/login"
    # Without a pending sign-in there is nothing to answer.
    assert app.test_client().get("/login/two-factor", base_url=tenant.base_url).status_code == 302


def test_disable_needs_the_password_and_a_code(
    app: Flask, tenant: TenantFixture, owner: Browser
) -> None:
    _totp, codes = enrol_two_factor(owner)
    wrong = owner.submit(
        "/settings/security",
        {"password": "nope", "code": codes[0]},
        action="/settings/security/two-factor/disable",
    )
    assert wrong.status_code == 200 and "The password is not right." in text_of(wrong)
    bad_code = owner.submit(
        "/settings/security",
        {"password": PASSWORD, "code": "123456"},
        action="/settings/security/two-factor/disable",
    )
    assert "That code is not right." in text_of(bad_code)
    done = owner.submit(
        "/settings/security",
        {"password": PASSWORD, "code": codes[1]},
        action="/settings/security/two-factor/disable",
    )
    assert done.status_code == 302
    user = user_by_email(app, tenant.owner_email)
    assert user.totp_enabled_at is None and user.totp_secret is None
    assert user.recovery_code_hashes == []
    assert attempt(
        app.test_client(), tenant, tenant.owner_email, PASSWORD, ip=LOCAL
    ).location.endswith("/contacts")


def test_regenerating_recovery_codes_retires_the_old_ones(
    app: Flask, tenant: TenantFixture, owner: Browser
) -> None:
    _totp, old = enrol_two_factor(owner)
    response = owner.submit(
        "/settings/security", {"renew_code": old[0]}, action="/settings/security/recovery-codes"
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    new = recovery_codes_in(text_of(response))
    assert len(new) == 10 and not set(new) & set(old)
    client = app.test_client()
    attempt(client, tenant, tenant.owner_email, PASSWORD, ip=LOCAL)
    assert second_step(client, tenant, old[1]).status_code == 200
    assert second_step(client, tenant, new[0]).status_code == 302


def test_a_wrong_first_code_does_not_turn_it_on(
    app: Flask, tenant: TenantFixture, owner: Browser
) -> None:
    owner.submit("/settings/security", {}, action="/settings/security/two-factor/setup")
    response = owner.submit(
        "/settings/security", {"code": "12345x"}, action="/settings/security/two-factor/confirm"
    )
    assert response.status_code == 200
    assert "That code is not right." in text_of(response)
    assert user_by_email(app, tenant.owner_email).totp_enabled_at is None


def test_a_workspace_can_require_two_factor(
    app: Flask, factory: Factory, tenant: TenantFixture, owner: Browser
) -> None:
    _uid, rep_email, rep_token = factory.member(tenant, role="sales_rep")
    rep = sign_in(app, tenant, rep_email)
    # Only admins may set the rule.
    refused = rep.submit(
        "/settings/security", {"require_two_factor": "y"}, action="/settings/security/workspace"
    )
    assert refused.status_code == 403
    assert "Workspace sign-in rules" not in text_of(rep.get("/settings/security"))
    assert "Workspace sign-in rules" in text_of(owner.get("/settings/security"))
    done = owner.submit(
        "/settings/security", {"require_two_factor": "y"}, action="/settings/security/workspace"
    )
    assert done.status_code == 302
    # Members without two-factor are sent to set it up, whatever they ask for.
    for path in ("/contacts", "/settings/profile", "/"):
        response = rep.get(path)
        assert response.status_code == 302, path
        assert urlsplit(response.location).path == "/settings/security"
    # The API is no way around it, with the session cookie or with a token.
    api = rep.get("/api/v1/contacts")
    assert api.status_code == 403
    assert api.get_json()["error"]["code"] == "forbidden"
    assert "two-factor" in api.get_json()["error"]["message"]
    bearer = {"Authorization": f"Bearer {rep_token}"}
    by_token = app.test_client().get("/api/v1/contacts", base_url=tenant.base_url, headers=bearer)
    assert by_token.status_code == 403
    assert "two-factor" in by_token.get_json()["error"]["message"]
    # The rule holds for admins too: the owner has not set it up either.
    assert (
        app.test_client()
        .get("/api/v1/contacts", base_url=tenant.base_url, headers=tenant.auth())
        .status_code
        == 403
    )
    page = rep.get("/settings/security")
    assert page.status_code == 200
    assert "requires two-factor sign-in" in text_of(page)
    enrol_two_factor(rep)
    assert rep.get("/contacts").status_code == 200
    assert rep.get("/api/v1/contacts").status_code == 200
    by_token = app.test_client().get("/api/v1/contacts", base_url=tenant.base_url, headers=bearer)
    assert by_token.status_code == 200
    signed_out = rep.submit("/settings/security", {}, action="/logout")
    assert urlsplit(signed_out.location).path == "/login"
