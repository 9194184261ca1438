"""Which workspace a request belongs to: its host, or its API token; nothing else.

Unknown, deleted and half-made workspaces are 404; suspended ones show a notice (403);
a removed member's cookie and token stop working at once; revoked tokens are refused.
The apex host serves the site, and tokens there bind their own workspace.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.database import db
from app.identity.models import ApiToken, Membership
from app.identity.services import revoke_api_token
from tenants.context import current_tenant
from tenants.models import Tenant, TenantStatus
from tenants.resolution import find_servable_tenant
from tenants.services import set_tenant_status
from tests.conftest import SERVER_NAME, Factory, TenantFixture, login

APEX_URL = f"http://{SERVER_NAME}"


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app
        db.session.remove()


def _new_contact(client: FlaskClient, tf: TenantFixture, name: str) -> int:
    response = client.post(
        "/api/v1/contacts", base_url=tf.base_url, headers=tf.auth(), json={"first_name": name}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    contact_id: int = response.get_json()["id"]
    return contact_id


def _set_status(app: Flask, tf: TenantFixture, status: str) -> None:
    with app.app_context():
        set_tenant_status(db.session, slug=tf.slug, status=status, actor="test")
        db.session.remove()


def _force_status(app: Flask, tf: TenantFixture, status: TenantStatus) -> None:
    """Put a tenant in a state no service offers (deleted, provisioning)."""
    with app.app_context():
        tenant = db.session.get(Tenant, tf.tenant.id)
        assert tenant is not None
        tenant.status = status
        db.session.commit()
        db.session.remove()


def _set_membership_active(app: Flask, tenant_id: int, user_id: int, active: bool) -> None:
    with app.app_context():
        membership = db.session.scalars(
            select(Membership).where(
                Membership.tenant_id == tenant_id, Membership.user_id == user_id
            )
        ).one()
        membership.is_active = active
        db.session.commit()
        db.session.remove()


def _error_code(response: object) -> str:
    body = response.get_json()  # type: ignore[attr-defined]
    code: str = body["error"]["code"]
    return code


# ------------------------------------------------------------------------ unknown


def test_unknown_slug_is_404_on_pages_and_api(client: FlaskClient, factory: Factory) -> None:
    a = factory.tenant("alpha")
    _new_contact(client, a, "KNOWN")
    unknown = f"http://nobody-{uuid.uuid4().hex[:10]}.{SERVER_NAME}"
    for path in ("/", "/login", "/contacts", "/contacts/1", "/suspended"):
        response = client.get(path, base_url=unknown)
        assert response.status_code == 404, path
    for path in ("/api/v1/me", "/api/v1/contacts", "/api/v1/contacts/1"):
        # Even with a valid token: the host names no workspace, there is no fallback.
        response = client.get(path, base_url=unknown, headers=a.auth())
        assert response.status_code == 404, path
        assert _error_code(response) == "not_found"
        assert a.slug not in response.get_data(as_text=True)
    response = client.post(
        "/api/v1/contacts", base_url=unknown, headers=a.auth(), json={"first_name": "X"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "status", [TenantStatus.DELETED, TenantStatus.PROVISIONING], ids=lambda s: s.value
)
def test_workspaces_that_are_not_live_are_404(
    app: Flask, client: FlaskClient, factory: Factory, status: TenantStatus
) -> None:
    a = factory.tenant("gone")
    assert login(client, a).status_code == 302
    _force_status(app, a, status)
    assert client.get("/contacts", base_url=a.base_url).status_code == 404
    assert client.get("/login", base_url=a.base_url).status_code == 404
    response = client.get("/api/v1/me", base_url=a.base_url, headers=a.auth())
    assert response.status_code == 404
    # On the apex, where the token alone would name the workspace: refused.
    response = client.get("/api/v1/me", base_url=APEX_URL, headers=a.auth())
    assert response.status_code == 401


def test_find_servable_tenant(ctx: Flask, factory: Factory) -> None:
    a = factory.tenant("alpha")
    found = find_servable_tenant(db.session, a.slug)
    assert found is not None
    assert found.id == a.tenant.id
    for junk in (
        a.slug.upper(),
        f" {a.slug}",
        f"{a.slug}\n",
        a.tenant.schema_name,
        "public",
        'a"; drop schema public cascade; --',
        "",
        "x" * 64,
        "\u0430" + a.slug[1:],
        None,
        1,
    ):
        assert find_servable_tenant(db.session, junk) is None, junk  # type: ignore[arg-type]


# ---------------------------------------------------------------------- suspended


def test_suspended_workspace_shows_a_notice_and_the_api_refuses(
    app: Flask, client: FlaskClient, factory: Factory
) -> None:
    a = factory.tenant("susp")
    contact = _new_contact(client, a, "KEPT")
    assert login(client, a).status_code == 302
    _set_status(app, a, "suspended")

    for path in ("/", "/contacts", f"/contacts/{contact}", "/contacts/new", "/login"):
        response = client.get(path, base_url=a.base_url)
        assert response.status_code == 302, path
        assert urlsplit(response.location).path == "/suspended", path
    notice = client.get("/suspended", base_url=a.base_url)
    assert notice.status_code == 403
    assert "KEPT" not in notice.get_data(as_text=True)

    for base_url in (a.base_url, APEX_URL):
        response = client.get("/api/v1/contacts", base_url=base_url, headers=a.auth())
        assert response.status_code == 403, base_url
        assert _error_code(response) == "tenant_suspended"
    response = client.get("/api/v1/me", base_url=a.base_url)  # the session cookie
    assert response.status_code == 403
    assert _error_code(response) == "tenant_suspended"
    response = client.post(
        "/api/v1/contacts", base_url=a.base_url, headers=a.auth(), json={"first_name": "NEW"}
    )
    assert response.status_code == 403

    _set_status(app, a, "active")
    assert client.get("/contacts", base_url=a.base_url).status_code == 200
    response = client.get("/suspended", base_url=a.base_url)
    assert response.status_code == 302
    assert urlsplit(response.location).path != "/suspended"
    response = client.get(f"/api/v1/contacts/{contact}", base_url=a.base_url, headers=a.auth())
    assert response.status_code == 200
    assert response.get_json()["first_name"] == "KEPT"


def test_suspending_one_workspace_leaves_the_others_alone(
    app: Flask, client: FlaskClient, two_tenants: tuple[TenantFixture, TenantFixture]
) -> None:
    a, b = two_tenants
    _set_status(app, a, "suspended")
    assert client.get("/api/v1/me", base_url=b.base_url, headers=b.auth()).status_code == 200
    assert login(client, b).status_code == 302
    assert client.get("/contacts", base_url=b.base_url).status_code == 200


# ---------------------------------------------------------------- members, tokens


def test_deactivated_member_loses_cookie_and_token(
    app: Flask, client: FlaskClient, factory: Factory
) -> None:
    a = factory.tenant("members")
    user_id, email, token = factory.member(a, role="sales_rep")
    assert login(client, a, email=email).status_code == 302
    assert client.get("/contacts", base_url=a.base_url).status_code == 200
    assert client.get("/api/v1/me", base_url=a.base_url, headers=a.auth(token)).status_code == 200

    _set_membership_active(app, a.tenant.id, user_id, False)
    for path in ("/", "/contacts", "/contacts/new", "/login"):
        assert client.get(path, base_url=a.base_url).status_code == 404, path
    response = client.get("/api/v1/me", base_url=a.base_url)  # the session cookie
    assert response.status_code == 404
    for base_url in (a.base_url, APEX_URL):
        response = client.get("/api/v1/me", base_url=base_url, headers=a.auth(token))
        assert response.status_code == 401, base_url
        assert _error_code(response) == "unauthorized"
    # Signing in again does not work either.
    fresh = app.test_client()
    assert login(fresh, a, email=email).status_code == 200
    assert fresh.get("/contacts", base_url=a.base_url).status_code == 302
    # The owner is unaffected.
    assert client.get("/api/v1/me", base_url=a.base_url, headers=a.auth()).status_code == 200

    _set_membership_active(app, a.tenant.id, user_id, True)
    assert client.get("/api/v1/me", base_url=a.base_url, headers=a.auth(token)).status_code == 200


def test_revoked_token_is_401(app: Flask, client: FlaskClient, factory: Factory) -> None:
    a = factory.tenant("revoke")
    _, _, other_token = factory.member(a, role="admin")
    assert client.get("/api/v1/me", base_url=a.base_url, headers=a.auth()).status_code == 200
    with app.app_context():
        prefix = a.token[:12]
        token = db.session.scalars(
            select(ApiToken).where(ApiToken.tenant_id == a.tenant.id, ApiToken.prefix == prefix)
        ).one()
        revoke_api_token(db.session, token, actor="test")
        db.session.commit()
        db.session.remove()
    for base_url in (a.base_url, APEX_URL):
        response = client.get("/api/v1/contacts", base_url=base_url, headers=a.auth())
        assert response.status_code == 401, base_url
        assert _error_code(response) == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # Other tokens of the workspace keep working.
    response = client.get("/api/v1/me", base_url=a.base_url, headers=a.auth(other_token))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer crm_", "Bearer crm_nope", "Token x"],
)
def test_malformed_authorization_is_401(
    client: FlaskClient, two_tenants: tuple[TenantFixture, TenantFixture], header: str
) -> None:
    a, _ = two_tenants
    for base_url in (a.base_url, APEX_URL):
        response = client.get("/api/v1/me", base_url=base_url, headers={"Authorization": header})
        assert response.status_code == 401, (header, base_url)


# --------------------------------------------------------------------------- apex


def test_apex_serves_the_site_but_no_workspace(client: FlaskClient) -> None:
    assert client.get("/", base_url=APEX_URL).status_code == 200
    response = client.get("/healthz", base_url=APEX_URL)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert client.get("/login", base_url=APEX_URL).status_code == 200
    for path in ("/contacts", "/contacts/1", "/contacts/new", "/suspended"):
        assert client.get(path, base_url=APEX_URL).status_code == 404, path
    assert client.post("/logout", base_url=APEX_URL).status_code in {400, 404}
    # The probes live on the apex only.
    response = client.get("/healthz", base_url=f"http://acme-{uuid.uuid4().hex[:6]}.{SERVER_NAME}")
    assert response.status_code == 404


def test_token_on_the_apex_binds_its_own_workspace(
    client: FlaskClient, two_tenants: tuple[TenantFixture, TenantFixture]
) -> None:
    a, b = two_tenants
    a_contact = _new_contact(client, a, "ONLY-IN-A")
    b_contact = _new_contact(client, b, "ONLY-IN-B")
    for tf, own, other_name in ((a, a_contact, "ONLY-IN-B"), (b, b_contact, "ONLY-IN-A")):
        me = client.get("/api/v1/me", base_url=APEX_URL, headers=tf.auth())
        assert me.status_code == 200
        assert me.get_json()["tenant"]["slug"] == tf.slug
        assert me.get_json()["auth"] == "token"
        listed = client.get("/api/v1/contacts", base_url=APEX_URL, headers=tf.auth())
        names = [item["first_name"] for item in listed.get_json()["items"]]
        assert other_name not in names
        response = client.get(f"/api/v1/contacts/{own}", base_url=APEX_URL, headers=tf.auth())
        assert response.status_code == 200


def test_workspace_cookie_means_nothing_on_the_apex(
    app: Flask, two_tenants: tuple[TenantFixture, TenantFixture]
) -> None:
    a, _ = two_tenants
    client = app.test_client()
    assert login(client, a).status_code == 302
    cookie = client.get_cookie("session", domain=a.host)
    assert cookie is not None
    apex = app.test_client()
    apex.set_cookie("session", cookie.value, domain=SERVER_NAME)
    response = apex.get("/api/v1/me", base_url=APEX_URL)
    assert response.status_code == 401
    assert apex.get("/api/v1/contacts", base_url=APEX_URL).status_code == 401


def test_binding_ends_with_the_request(
    client: FlaskClient, two_tenants: tuple[TenantFixture, TenantFixture]
) -> None:
    a, b = two_tenants
    assert current_tenant() is None
    assert client.get("/api/v1/me", base_url=a.base_url, headers=a.auth()).status_code == 200
    assert current_tenant() is None
    response = client.get("/api/v1/contacts/999999", base_url=a.base_url, headers=a.auth())
    assert response.status_code == 404
    assert current_tenant() is None
    assert client.get("/api/v1/me", base_url=a.base_url, headers=b.auth()).status_code == 401
    assert current_tenant() is None
    # The next request, on the same thread, is bound afresh to its own workspace.
    me = client.get("/api/v1/me", base_url=b.base_url, headers=b.auth())
    assert me.get_json()["tenant"]["slug"] == b.slug


@pytest.mark.parametrize(
    "host_of",
    [
        lambda tf: f".{tf.host}",
        lambda tf: f"..{tf.host}",
        lambda tf: f"{tf.slug}..{SERVER_NAME}",
        lambda tf: f".{SERVER_NAME}",
    ],
    ids=["leading-dot", "two-leading-dots", "empty-inner-label", "empty-label-on-apex"],
)
def test_hosts_with_empty_labels_are_404(
    client: FlaskClient, two_tenants: tuple[TenantFixture, TenantFixture], host_of: object
) -> None:
    """Werkzeug drops empty labels when splitting off the subdomain; such hosts must
    not be served as the workspace (or the apex) they would collapse to."""
    a, _ = two_tenants
    host = host_of(a)  # type: ignore[operator]
    for path in ("/api/v1/me", "/healthz", "/login", "/"):
        response = client.get(path, headers=a.auth(), environ_overrides={"HTTP_HOST": host})
        assert response.status_code == 404, (host, path)
        assert a.owner_email not in response.get_data(as_text=True)
