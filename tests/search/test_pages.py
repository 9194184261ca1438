"""The search results page (/search) and the search box of the top navigation."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from app.companies.models import Company
from app.contacts.models import Contact
from tests.api.conftest import tenant_session
from tests.conftest import Factory, TenantFixture
from tests.web.conftest import Browser, sign_in_as, text_of, visible_text


def _seed(app: Flask, tf: TenantFixture, owner_id: int | None = None) -> dict[str, int]:
    owner = owner_id or tf.owner_id
    with tenant_session(app, tf) as session:
        ann = Contact(first_name="Ann", last_name="Lee", email="ann@hooli.example", owner_id=owner)
        hooli = Company(name="Hooli", domain="hooli.example", owner_id=owner)
        session.add_all([ann, hooli])
        session.commit()
        return {"ann": ann.id, "hooli": hooli.id}


def test_results_are_grouped_by_kind_and_link_to_records(
    owner: Browser, app: Flask, tenant: TenantFixture
) -> None:
    ids = _seed(app, tenant)
    page = owner.get("/search", query_string={"q": "hooli"})
    assert page.status_code == 200
    html = text_of(page)
    text = visible_text(html)
    assert "Contacts" in text and "Companies" in text
    assert "Deals" not in re.sub(r"<nav.*?</nav>", "", html, flags=re.S)  # no deal matched
    assert f'href="/contacts/{ids["ann"]}"' in html
    assert f'href="/companies/{ids["hooli"]}"' in html
    assert "ann@hooli.example" in text
    # The box keeps what was searched.
    assert 'name="q" value="hooli"' in html


def test_the_empty_box_explains_and_too_short_says_what_to_type(owner: Browser) -> None:
    page = owner.get("/search")
    assert page.status_code == 200
    assert "Small typos are forgiven" in visible_text(text_of(page))
    short = owner.get("/search", query_string={"q": " a "})
    assert short.status_code == 400
    html = text_of(short)
    assert "Type at least 2 characters to search." in visible_text(html)
    assert 'aria-invalid="true"' in html and 'role="alert"' in html
    long = owner.get("/search", query_string={"q": "x" * 300})
    assert long.status_code == 400
    assert "Type at most 200 characters." in visible_text(text_of(long))


def test_nothing_found_and_odd_input(owner: Browser) -> None:
    page = owner.get("/search", query_string={"q": "zzqqxx"})
    assert page.status_code == 200
    assert "Nothing matches “zzqqxx”" in visible_text(text_of(page))
    for junk in ("%%", "\\\\", "a\x00b", "<script>alert(1)</script>", "'--"):
        response = owner.get("/search", query_string={"q": junk})
        assert response.status_code in (200, 400), junk
        assert "<script>alert(1)</script>" not in text_of(response)


def test_every_workspace_page_has_the_search_box(owner: Browser) -> None:
    for path in ("/contacts", "/companies", "/deals"):
        html = text_of(owner.get(path))
        form = re.search(r'<form class="navsearch"[^>]*>', html)
        assert form, path
        assert 'action="/search"' in form.group(0)
        assert 'data-typeahead="/api/v1/search"' in form.group(0)
        assert 'role="combobox"' in html and 'aria-controls="navsearch-list"' in html
        assert "/static/search.js" in html


def test_a_sales_rep_finds_only_their_own(
    owner: Browser, app: Flask, tenant: TenantFixture, factory: Factory
) -> None:
    _seed(app, tenant)
    _, rep_email, _ = factory.member(tenant, role="sales_rep")
    rep = sign_in_as(app, tenant, rep_email)
    page = rep.get("/search", query_string={"q": "hooli"})
    assert page.status_code == 200
    assert "Nothing matches" in visible_text(text_of(page))
    assert "ann@hooli.example" not in text_of(page)


def test_signed_out_visitors_are_sent_to_sign_in(
    client: FlaskClient, tenant: TenantFixture
) -> None:
    response = client.get("/search?q=ann", base_url=tenant.base_url)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
