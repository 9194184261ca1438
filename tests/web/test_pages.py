"""The workspace and apex pages through Flask's test client: what a person can do,
what they are refused, and that nothing they type becomes a server error."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from app.database import db
from app.errors import InvalidInput
from tenants.services import set_tenant_status
from tests.conftest import (
    PASSWORD,
    SERVER_NAME,
    Factory,
    TenantFixture,
    csrf_token_from,
    login,
    make_app,
)
from tests.web.conftest import (
    Browser,
    contact_count,
    contact_ids,
    next_link,
    seed_contacts,
    sign_in_as,
    text_of,
)

APEX = f"http://{SERVER_NAME}"
SCRIPT = "<script>alert(1)</script>"


def assert_no_server_error(response: object) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    assert status < 500, (status, text_of(response)[:1000])
    assert "Traceback" not in text_of(response)


# --- apex ---------------------------------------------------------------------------


def test_landing_says_what_it_is_and_leads_in(client: FlaskClient) -> None:
    response = client.get("/", base_url=APEX)
    assert response.status_code == 200
    html = text_of(response)
    assert "Every client in one place." in html
    assert 'href="/login"' in html
    assert '<meta name="viewport"' in html


def test_apex_login_redirects_to_the_workspace_sign_in(client: FlaskClient) -> None:
    page = client.get("/login", base_url=APEX)
    assert page.status_code == 200
    token = csrf_token_from(text_of(page))
    for typed in ("acme", "  Acme ", "acme.crm.test", "https://acme.crm.test/contacts?q=1"):
        response = client.post("/login", base_url=APEX, data={"slug": typed, "csrf_token": token})
        assert response.status_code == 302, (typed, text_of(response)[:500])
        assert response.headers["Location"] == f"http://acme.{SERVER_NAME}/login", typed


@pytest.mark.parametrize("typed", ["", "a", "Not a slug!", "-acme", "x" * 41, "ac\x00me", "عربي"])
def test_apex_login_rejects_malformed_addresses_with_a_field_error(
    client: FlaskClient, typed: str
) -> None:
    token = csrf_token_from(text_of(client.get("/login", base_url=APEX)))
    response = client.post("/login", base_url=APEX, data={"slug": typed, "csrf_token": token})
    assert response.status_code == 200
    html = text_of(response)
    assert 'class="field-error"' in html
    assert 'aria-invalid="true"' in html


def test_apex_login_without_csrf_is_a_400_page(client: FlaskClient) -> None:
    response = client.post("/login", base_url=APEX, data={"slug": "acme"})
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "Bad request" in text_of(response)


# --- workspace sign-in ----------------------------------------------------------------


def test_login_page_shows_the_workspace(client: FlaskClient, tenant: TenantFixture) -> None:
    response = client.get("/login", base_url=tenant.base_url)
    assert response.status_code == 200
    html = text_of(response)
    assert "Sign in to Acme Web" in html
    assert 'name="remember"' in html
    assert 'autocomplete="current-password"' in html


def test_login_success_lands_on_contacts_with_a_user_menu(
    client: FlaskClient, tenant: TenantFixture
) -> None:
    response = login(client, tenant)
    assert response.status_code == 302
    assert response.headers["Location"] == "/contacts"
    html = text_of(client.get("/contacts", base_url=tenant.base_url))
    assert tenant.owner_email in html
    assert 'action="/logout"' in html
    assert "Sign out" in html
    assert '<span class="badge">Owner</span>' in html


def test_wrong_password_and_unknown_email_get_one_generic_message(
    client: FlaskClient, tenant: TenantFixture
) -> None:
    wrong_password = login(client, tenant, password="not the password")
    unknown_email = login(client, tenant, email="nobody@nowhere.example")
    for response in (wrong_password, unknown_email):
        assert response.status_code == 200
        html = text_of(response)
        assert html.count("Wrong email or password.") == 1
        assert 'role="alert"' in html
        assert "correct horse" not in html  # the password is never echoed back
    assert client.get("/contacts", base_url=tenant.base_url).status_code == 302


def test_login_field_errors(client: FlaskClient, tenant: TenantFixture) -> None:
    token = csrf_token_from(text_of(client.get("/login", base_url=tenant.base_url)))
    response = client.post(
        "/login",
        base_url=tenant.base_url,
        data={"email": "not-an-email", "password": "", "csrf_token": token},
    )
    assert response.status_code == 200
    html = text_of(response)
    assert html.count('aria-invalid="true"') == 2
    assert 'id="email-error"' in html and 'id="password-error"' in html
    assert "Wrong email or password." not in html
    assert 'value="not-an-email"' in html


def test_login_without_csrf_token_is_a_400_page_not_a_500(
    client: FlaskClient, tenant: TenantFixture
) -> None:
    response = client.post(
        "/login", base_url=tenant.base_url, data={"email": tenant.owner_email, "password": PASSWORD}
    )
    assert response.status_code == 400
    html = text_of(response)
    assert "Bad request" in html
    assert "Acme Web" in html  # the workspace's own layout
    assert client.get("/contacts", base_url=tenant.base_url).status_code == 302


def test_remember_me_sets_a_lasting_cookie_only_when_asked(factory: Factory, app: Flask) -> None:
    tf = factory.tenant("remember")
    for remember, expected in ((False, False), (True, True)):
        client = app.test_client()
        token = csrf_token_from(text_of(client.get("/login", base_url=tf.base_url)))
        data = {"email": tf.owner_email, "password": PASSWORD, "csrf_token": token}
        if remember:
            data["remember"] = "y"
        response = client.post("/login", base_url=tf.base_url, data=data)
        assert response.status_code == 302
        cookie = client.get_cookie("remember_token", domain=tf.host)
        assert (cookie is not None) is expected


def test_anonymous_visitors_are_sent_to_login_and_back(
    client: FlaskClient, tenant: TenantFixture
) -> None:
    response = client.get("/contacts?q=ann", base_url=tenant.base_url)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    next_url = parse_qs(location.query)["next"][0]
    assert next_url == "/contacts?q=ann"
    token = csrf_token_from(
        text_of(client.get(f"/login?{location.query}", base_url=tenant.base_url))
    )
    response = client.post(
        f"/login?{location.query}",
        base_url=tenant.base_url,
        data={"email": tenant.owner_email, "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/contacts?q=ann"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "http:evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        " //evil.example",
        "javascript:alert(1)",
        "evil.example",
        "///evil.example",
    ],
)
def test_next_never_leaves_the_workspace(
    client: FlaskClient, tenant: TenantFixture, target: str
) -> None:
    token = csrf_token_from(text_of(client.get("/login", base_url=tenant.base_url)))
    response = client.post(
        "/login",
        base_url=tenant.base_url,
        query_string={"next": target},
        data={"email": tenant.owner_email, "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/contacts"
    # Signed in already: the login page redirects, with the same rule.
    again = client.get("/login", base_url=tenant.base_url, query_string={"next": target})
    assert again.headers["Location"] == "/contacts"


def test_logout(owner: Browser) -> None:
    page = owner.get("/contacts")
    token = csrf_token_from(text_of(page))
    assert owner.post("/logout").status_code == 400  # no CSRF token, no sign-out
    assert owner.get("/contacts").status_code == 200
    response = owner.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert "You have signed out." in text_of(owner.get("/login"))
    assert owner.get("/contacts").status_code == 302


# --- contacts: create, edit, delete -------------------------------------------------------


def test_create_contact_then_see_a_flash_and_the_card(owner: Browser, app: Flask) -> None:
    response = owner.submit(
        "/contacts/new",
        {
            "first_name": "Ann",
            "last_name": "Archer",
            "email": "Ann@Example.COM",
            "phone": "+44 20 7946 0018",
            "title": "Buyer",
            "company_name": "Globex",
            "notes": "Met at the fair.\nCall back in May.",
        },
    )
    assert response.status_code == 302
    card = owner.get(response.headers["Location"])
    html = text_of(card)
    assert "Contact created." in html
    assert "Ann Archer" in html
    assert 'href="mailto:ann@example.com"' in html
    assert 'href="tel:+442079460018"' in html
    assert "Met at the fair.\nCall back in May." in html
    assert "Globex" in html
    # The flash is shown once.
    assert "Contact created." not in text_of(owner.get(response.headers["Location"]))
    assert contact_count(app, owner.tf) == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "first_name"),  # neither a name nor an email
        ({"first_name": "   ", "email": "  "}, "first_name"),
        ({"first_name": "Ann", "email": "not-an-email"}, "email"),
        ({"first_name": "Ann", "phone": "call me maybe"}, "phone"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"first_name": "Ann", "company_name": "c" * 201}, "company_name"),
        ({"first_name": "Ann", "notes": "n" * 20001}, "notes"),
        ({"first_name": "Ann\x00"}, "first_name"),
        ({"first_name": "Ann", "title": "Boss\x1b[31m"}, "title"),
    ],
)
def test_invalid_contact_shows_field_errors_and_creates_nothing(
    owner: Browser, app: Flask, data: dict[str, str], field: str
) -> None:
    response = owner.submit("/contacts/new", data)
    assert response.status_code == 200
    html = text_of(response)
    assert f'id="{field}-error"' in html
    assert f'aria-describedby="{field}-error"' in html
    assert "Please correct the marked fields." in html
    assert contact_count(app, owner.tf) == 0


def test_edit_contact(owner: Browser) -> None:
    contact_id = owner.create_contact(first_name="Bob", email="bob@example.com")
    form = text_of(owner.get(f"/contacts/{contact_id}/edit"))
    assert 'value="Bob"' in form and 'value="bob@example.com"' in form
    bad = owner.submit(f"/contacts/{contact_id}/edit", {"first_name": "Bob", "email": "nope"})
    assert bad.status_code == 200 and 'id="email-error"' in text_of(bad)
    response = owner.submit(
        f"/contacts/{contact_id}/edit",
        {"first_name": "Robert", "last_name": "Brown", "email": "robert@example.com", "phone": ""},
    )
    assert response.status_code == 302
    html = text_of(owner.get(response.headers["Location"]))
    assert "Changes saved." in html
    assert "Robert Brown" in html and 'href="mailto:robert@example.com"' in html
    # The old address only remains in the card's history.
    assert 'href="mailto:bob@example.com"' not in html


def test_delete_contact_after_confirmation(owner: Browser, app: Flask) -> None:
    contact_id = owner.create_contact(first_name="Dora", last_name="Dee")
    card = text_of(owner.get(f"/contacts/{contact_id}"))
    assert f'href="/contacts/{contact_id}/delete"' in card  # the no-script confirmation page
    assert "<dialog" in card
    confirm = owner.get(f"/contacts/{contact_id}/delete")
    assert confirm.status_code == 200
    assert "Delete Dora Dee?" in text_of(confirm)
    assert contact_count(app, owner.tf) == 1  # asking deletes nothing
    response = owner.submit(f"/contacts/{contact_id}/delete", {})
    assert response.status_code == 302
    assert response.headers["Location"] == "/contacts"
    assert "Dora Dee was deleted." in text_of(owner.get("/contacts"))
    assert owner.get(f"/contacts/{contact_id}").status_code == 404
    assert contact_count(app, owner.tf) == 0


def test_delete_needs_a_csrf_token(owner: Browser, app: Flask) -> None:
    contact_id = owner.create_contact(first_name="Eve")
    assert owner.post(f"/contacts/{contact_id}/delete").status_code == 400
    assert contact_count(app, owner.tf) == 1


HOSTILE = [
    SCRIPT,
    '"><img src=x onerror=alert(1)>',
    "{{ 7*7 }}{% raw %}",
    "שלום עולם — مرحبا بالعالم",
    "\u202etxt.exe",
    "Zoë Ñúñez 山田太郎 🙂",
    "x" * 5000,
    "a\x00b",
    "line\r\nbreak",
    "%s %(name)s",
]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_anything_typed_in_any_field_is_an_answer_never_a_500(owner: Browser, value: str) -> None:
    fields = ("first_name", "last_name", "email", "phone", "title", "company_name", "notes")
    for field in fields:
        data = {"first_name": "Anchor", field: value}
        response = owner.submit("/contacts/new", data)
        assert_no_server_error(response)
        if response.status_code == 302:
            card = text_of(owner.get(response.headers["Location"]))
            assert SCRIPT not in card and "<img src=x" not in card
        else:
            assert response.status_code == 200
            html = text_of(response)
            assert 'class="field-error"' in html
            assert SCRIPT not in html and "<img src=x" not in html
    for path in ("/contacts", "/login"):
        response = owner.get(
            path, query_string={"q": value, "next": value, "sort": value, "cursor": value}
        )
        assert_no_server_error(response)
        assert SCRIPT not in text_of(response)


def test_html_is_escaped_everywhere_a_contact_is_shown(owner: Browser) -> None:
    contact_id = owner.create_contact(
        first_name=SCRIPT,
        last_name='"><b>bold</b>',
        title=SCRIPT,
        company_name=SCRIPT,
        notes=SCRIPT,
    )
    pages = [
        owner.get("/contacts"),
        owner.get("/contacts", query_string={"q": "script"}),
        owner.get("/contacts", query_string={"q": SCRIPT + "nothing"}),
        owner.get(f"/contacts/{contact_id}"),
        owner.get(f"/contacts/{contact_id}/edit"),
        owner.get(f"/contacts/{contact_id}/delete"),
    ]
    for response in pages:
        html = text_of(response)
        assert response.status_code == 200
        assert SCRIPT not in html
        assert "<b>bold</b>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    deleted = owner.submit(f"/contacts/{contact_id}/delete", {})
    flash_page = text_of(owner.get(deleted.headers["Location"]))
    assert SCRIPT not in flash_page and "&lt;script&gt;" in flash_page


# --- contacts: list, search, pagination ----------------------------------------------------


def test_empty_states(owner: Browser, app: Flask) -> None:
    html = text_of(owner.get("/contacts"))
    assert "No contacts yet" in html
    assert "Add your first contact" in html
    seed_contacts(app, owner.tf, [{"first_name": "Zed"}])
    html = text_of(owner.get("/contacts", query_string={"q": "nobody-like-this"}))
    assert "No contact matches “nobody-like-this”" in html
    assert "Clear the search" in html


def test_search_by_name_email_phone_digits_and_company(owner: Browser, app: Flask) -> None:
    ann, bob, cy, dee = seed_contacts(
        app,
        owner.tf,
        [
            {"first_name": "Ann", "last_name": "Archer", "email": "ann@alpha.example"},
            {
                "first_name": "Bob",
                "last_name": "Baker",
                "email": "bob@bravo.example",
                "phone": "+1 (555) 010-2030",
            },
            {"first_name": "Cy", "last_name": "Cole", "company_name": "Initech"},
            {"first_name": "Dee", "last_name": "Dunn", "email": "dee@delta.example"},
        ],
    )
    cases = {
        "ann archer": [ann],
        "ARCHER": [ann],
        "bravo.example": [bob],
        "5550102030": [bob],
        "010-2030": [bob],
        "initech": [cy],
        "example": [ann, bob, dee],
    }
    for q, expected in cases.items():
        html = text_of(owner.get("/contacts", query_string={"q": q}))
        assert sorted(contact_ids(html)) == sorted(expected), q
        assert f'value="{q}"' in html  # the box keeps what was typed


@pytest.mark.parametrize("sort", ["-created_at", "created_at", "last_name", "-last_name", "email"])
def test_pagination_returns_every_contact_exactly_once(
    owner: Browser, app: Flask, sort: str
) -> None:
    rows = [
        {
            "first_name": f"P{i:02d}",
            "last_name": ["Smith", "Jones", ""][i % 3],
            "email": None if i % 4 == 0 else f"p{i % 7}@x.example",
        }
        for i in range(60)
    ]
    expected = seed_contacts(app, owner.tf, rows)
    seen: list[int] = []
    url: str | None = f"/contacts?sort={sort}"
    pages = 0
    while url:
        html = text_of(owner.get(url))
        ids = contact_ids(html)
        assert ids, url
        seen += ids
        pages += 1
        assert f'<option value="{sort}" selected>' in html
        url = next_link(html)
        assert pages <= 3
    assert pages == 3
    assert len(seen) == len(set(seen)) == 60
    assert set(seen) == set(expected)


def test_a_hand_edited_sort_or_cursor_shows_the_first_page(owner: Browser, app: Flask) -> None:
    seed_contacts(app, owner.tf, [{"first_name": f"N{i}"} for i in range(30)])
    first = contact_ids(text_of(owner.get("/contacts")))
    for query in (
        {"sort": "password"},
        {"cursor": "garbage!"},
        {"cursor": "WyJsYXN0X25hbWUiLGZhbHNlLDEsMV0"},
    ):
        response = owner.get("/contacts", query_string=query)
        assert response.status_code == 200, query
        assert contact_ids(text_of(response)) == first


# --- roles ---------------------------------------------------------------------------


def test_sales_rep_sees_only_their_own_contacts(
    app: Flask, factory: Factory, owner: Browser
) -> None:
    owners_contact = owner.create_contact(first_name="Owned", last_name="ByOwner")
    _, rep_email, _ = factory.member(owner.tf, role="sales_rep")
    rep = sign_in_as(app, owner.tf, rep_email)
    mine = rep.create_contact(first_name="Reps", last_name="Own")
    html = text_of(rep.get("/contacts"))
    assert contact_ids(html) == [mine]
    assert contact_ids(text_of(rep.get("/contacts", query_string={"q": "ByOwner"}))) == []
    assert rep.get(f"/contacts/{owners_contact}").status_code == 404
    assert rep.get(f"/contacts/{owners_contact}/edit").status_code == 404
    assert rep.get(f"/contacts/{owners_contact}/delete").status_code == 404
    token = csrf_token_from(html)
    assert (
        rep.post(f"/contacts/{owners_contact}/delete", data={"csrf_token": token}).status_code
        == 404
    )
    assert (
        rep.post(
            f"/contacts/{owners_contact}/edit", data={"csrf_token": token, "first_name": "X"}
        ).status_code
        == 404
    )
    assert "Owned" in text_of(owner.get(f"/contacts/{owners_contact}"))
    assert rep.get(f"/contacts/{mine}/edit").status_code == 200
    assert "Sales rep" in html


def test_viewer_sees_contacts_but_can_not_change_them(
    app: Flask, factory: Factory, owner: Browser
) -> None:
    contact_id = owner.create_contact(first_name="Vera", last_name="Visible")
    _, viewer_email, _ = factory.member(owner.tf, role="viewer")
    viewer = sign_in_as(app, owner.tf, viewer_email)
    html = text_of(viewer.get("/contacts"))
    assert contact_ids(html) == [contact_id]
    assert "/contacts/new" not in html
    card = text_of(viewer.get(f"/contacts/{contact_id}"))
    assert "Vera Visible" in card
    assert (
        f"/contacts/{contact_id}/edit" not in card and f"/contacts/{contact_id}/delete" not in card
    )
    for path in ("/contacts/new", f"/contacts/{contact_id}/edit", f"/contacts/{contact_id}/delete"):
        response = viewer.get(path)
        assert response.status_code == 403, path
        assert "Not allowed" in text_of(response)
    token = csrf_token_from(html)
    for path in ("/contacts/new", f"/contacts/{contact_id}/edit", f"/contacts/{contact_id}/delete"):
        assert (
            viewer.post(path, data={"csrf_token": token, "first_name": "Changed"}).status_code
            == 403
        ), path
    assert contact_count(app, owner.tf) == 1
    assert "Vera Visible" in text_of(owner.get(f"/contacts/{contact_id}"))


def test_another_workspaces_contact_is_not_found(
    app: Flask, two_tenants: tuple[TenantFixture, TenantFixture]
) -> None:
    a, b = two_tenants
    (a_contact,) = seed_contacts(app, a, [{"first_name": "Only", "last_name": "InA"}])
    seed_contacts(app, b, [{"first_name": "Only", "last_name": "InB"}])
    b_owner = sign_in_as(app, b, b.owner_email)
    response = b_owner.get(f"/contacts/{a_contact}")
    if response.status_code == 200:  # ids are per schema: B may have its own contact with this id
        assert "InA" not in text_of(response)
    else:
        assert response.status_code == 404
    assert "InA" not in text_of(b_owner.get("/contacts", query_string={"q": "Only"}))
    # B's session cookie means nothing on A's host.
    b_owner.client.set_cookie(
        "session", b_owner.client.get_cookie("session", domain=b.host).value, domain=a.host
    )
    assert b_owner.client.get("/contacts", base_url=a.base_url).status_code == 404


# --- suspended workspace and error pages --------------------------------------------------------


def test_suspended_workspace_shows_its_page_and_still_lets_people_sign_out(
    app: Flask, owner: Browser
) -> None:
    token = csrf_token_from(text_of(owner.get("/contacts")))
    with app.app_context():
        set_tenant_status(db.session, slug=owner.tf.slug, status="suspended", actor="test")
        db.session.remove()
    response = owner.get("/contacts")
    assert response.status_code == 302 and response.headers["Location"] == "/suspended"
    page = owner.get("/suspended")
    assert page.status_code == 403
    assert "This workspace is suspended" in text_of(page)
    assert "nothing has been deleted" in text_of(page)
    assert owner.post("/logout", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        set_tenant_status(db.session, slug=owner.tf.slug, status="active", actor="test")
        db.session.remove()
    assert owner.get("/suspended").status_code == 302


def test_error_pages_share_the_layout(owner: Browser, client: FlaskClient) -> None:
    not_found = owner.get("/contacts/999999")
    assert not_found.status_code == 404
    html = text_of(not_found)
    assert "Page not found" in html
    assert "Acme Web" in html and 'class="topbar"' in html and "Sign out" in html
    apex_404 = client.get("/no-such-page", base_url=APEX)
    assert apex_404.status_code == 404
    assert 'class="topbar"' in text_of(apex_404) and "Page not found" in text_of(apex_404)
    unknown_workspace = client.get("/login", base_url=f"http://no-such-workspace.{SERVER_NAME}")
    assert unknown_workspace.status_code == 404
    assert "Page not found" in text_of(unknown_workspace)
    wrong_method = owner.get("/logout")
    assert wrong_method.status_code == 405
    assert 'class="topbar"' in text_of(wrong_method)


def test_a_server_error_is_a_friendly_page_even_after_a_failed_query(
    owner: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        db.session.execute(text("SELECT 1/0"))

    # The query the contact list reads (app.lists filters it).
    monkeypatch.setattr("app.web.list_view.filtered_query", broken)
    response = owner.get("/contacts")
    assert response.status_code == 500
    html = text_of(response)
    assert "Something went wrong" in html
    assert 'class="topbar"' in html
    assert "division by zero" not in html and "Traceback" not in html


def test_a_server_error_on_the_apex_is_a_friendly_page(database_url: str, app: Flask) -> None:
    broken_app = make_app(database_url)

    @broken_app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret detail")

    response = broken_app.test_client().get("/boom", base_url=APEX)
    assert response.status_code == 500
    assert "Something went wrong" in text_of(response)
    assert "secret detail" not in text_of(response)


def test_a_service_refusal_is_shown_on_the_form(
    owner: Browser, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise InvalidInput({"email": ["Already taken."], "owner_id": ["Not a member."]})

    monkeypatch.setattr("app.contacts.services.create_contact", refuse)
    response = owner.submit("/contacts/new", {"first_name": "Ann", "email": "ann@example.com"})
    assert response.status_code == 200
    html = text_of(response)
    assert 'id="email-error"' in html and "Already taken." in html
    assert "Not a member." in html  # no such field on the form: shown above it
    assert 'value="ann@example.com"' in html
    assert contact_count(app, owner.tf) == 0


def test_user_menu_lists_the_other_workspaces_of_the_same_identity(
    app: Flask, factory: Factory, tenant: TenantFixture
) -> None:
    other = factory.tenant("sister", name="Sister Company")
    third = factory.tenant("third", name="Unrelated Co")
    _, email, _ = factory.member(other, role="viewer")
    factory.member(tenant, role="sales_rep", email=email)
    page = text_of(sign_in_as(app, tenant, email).get("/contacts"))
    assert "Your other workspaces" in page
    assert f'href="http://{other.host}/"' in page and "Sister Company" in page
    assert third.host not in page and "Unrelated Co" not in page
    # Someone with one workspace sees no such section.
    alone = text_of(sign_in_as(app, third, third.owner_email).get("/contacts"))
    assert "Your other workspaces" not in alone
