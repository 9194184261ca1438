"""The duplicates pages: the lists of suggestions and the side-by-side merge page."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from app.activities.services import create_activity
from app.contacts.models import Contact
from tests.api.conftest import tenant_session
from tests.conftest import Factory, TenantFixture, csrf_token_from, login
from tests.duplicates.conftest import owner_actor, seed_companies, seed_contacts
from tests.web.conftest import Browser, sign_in_as, text_of, visible_text


def _two_anns(app: Flask, tf: TenantFixture) -> tuple[int, int]:
    keep, other = seed_contacts(
        app,
        tf,
        [
            {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", "tags": ["VIP"]},
            {"first_name": "Anne", "last_name": "Lee", "email": "ANN@example.com",
             "phone": "+1 555 0100", "notes": "Prefers mail.", "tags": ["Partner"]},
        ],
    )  # fmt: skip
    with tenant_session(app, tf) as session:
        create_activity(
            session, owner_actor(tf), {"type": "call", "subject": "Intro", "contact_id": other}
        )
    return keep, other


def test_the_lists_link_to_the_duplicates(
    owner: Browser, app: Flask, tenant: TenantFixture
) -> None:
    keep, other = _two_anns(app, tenant)
    assert 'href="/contacts/duplicates"' in text_of(owner.get("/contacts"))
    assert 'href="/companies/duplicates"' in text_of(owner.get("/companies"))
    page = owner.get("/contacts/duplicates")
    assert page.status_code == 200
    html = text_of(page)
    assert "Same email" in visible_text(html)
    assert f'href="/contacts/{keep}/merge/{other}"' in html
    assert "style=" not in html and "<script>" not in html


def test_merge_page_compares_and_merges(owner: Browser, app: Flask, tenant: TenantFixture) -> None:
    keep, other = _two_anns(app, tenant)
    path = f"/contacts/{keep}/merge/{other}"
    page = owner.get(path)
    assert page.status_code == 200
    html = text_of(page)
    text = visible_text(html)
    for expected in ("Ann Lee", "Anne Lee", "+1 555 0100", "Prefers mail.", "1 activity", "VIP"):
        assert expected in text, expected
    # A choice per differing field, the default checked; the same values shown once.
    assert re.search(r'name="field-first_name" value="keep" checked', html)
    assert re.search(r'name="field-phone" value="other" checked', html)
    assert 'name="field-last_name"' not in html
    assert f'href="/contacts/{other}/merge/{keep}"' in html  # keep the other one instead

    response = owner.post(
        path,
        data={"csrf_token": csrf_token_from(html), "field-first_name": "other"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/contacts/{keep}")
    card = text_of(owner.get(f"/contacts/{keep}"))
    assert "was merged into this record" in card
    assert "merged Anne Lee into this contact" in visible_text(card)
    assert "Brought over: 1 activity" in visible_text(card)
    assert owner.get(f"/contacts/{other}").status_code == 404
    with tenant_session(app, tenant) as session:
        kept = session.get(Contact, keep)
        assert kept is not None
        assert (kept.first_name, kept.phone, kept.tags) == (
            "Anne",
            "+1 555 0100",
            ["VIP", "Partner"],
        )
    # The pair is gone from the list.
    assert "No likely duplicates" in text_of(owner.get("/contacts/duplicates"))


def test_a_refused_merge_says_why_and_changes_nothing(
    owner: Browser, app: Flask, tenant: TenantFixture
) -> None:
    keep, other = _two_anns(app, tenant)
    path = f"/contacts/{keep}/merge/{other}"
    page = owner.get(path)
    response = owner.post(
        path, data={"csrf_token": csrf_token_from(text_of(page)), "field-email": "both"}
    )
    assert response.status_code == 200
    assert "Choose one of: keep, other." in text_of(response)
    assert owner.get(f"/contacts/{other}").status_code == 200
    # Without the CSRF token: refused, and nothing happens either.
    assert owner.post(path, data={}).status_code == 400
    assert owner.get(f"/contacts/{other}").status_code == 200


def test_companies_pages(owner: Browser, app: Flask, tenant: TenantFixture) -> None:
    keep, other = seed_companies(
        app, tenant, [{"name": "Initech"}, {"name": "Initech Inc", "domain": "initech.example"}]
    )
    (staff,) = seed_contacts(app, tenant, [{"first_name": "Peter", "company_id": other}])
    html = text_of(owner.get("/companies/duplicates"))
    assert "Similar name" in visible_text(html)
    path = f"/companies/{keep}/merge/{other}"
    page = text_of(owner.get(path))
    assert "1 contact" in visible_text(page)
    response = owner.post(path, data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/companies/{keep}")
    card = visible_text(text_of(owner.get(f"/companies/{keep}")))
    assert "initech.example" in card and "Peter" in card
    assert owner.get(f"/contacts/{staff}").status_code == 200


def test_who_may_merge(app: Flask, factory: Factory, client: FlaskClient) -> None:
    tenant = factory.tenant("dupweb", plan="enterprise")
    keep, other = _two_anns(app, tenant)
    _, viewer_email, _ = factory.member(tenant, role="viewer")
    _, rep_email, _ = factory.member(tenant, role="sales_rep")
    viewer, rep = sign_in_as(app, tenant, viewer_email), sign_in_as(app, tenant, rep_email)
    path = f"/contacts/{keep}/merge/{other}"
    # A viewer sees the contacts but may not merge: no link, 403.
    assert "/contacts/duplicates" not in text_of(viewer.get("/contacts"))
    assert viewer.get("/contacts/duplicates").status_code == 403
    assert viewer.get(path).status_code == 403
    # A sales rep may merge their own only: the owner's are not found.
    assert rep.get("/contacts/duplicates").status_code == 200
    assert "Same email" not in text_of(rep.get("/contacts/duplicates"))
    assert rep.get(path).status_code == 404
    # Itself: 400. Another workspace's ids: 404.
    assert login(client, tenant).status_code == 302
    owner = Browser(client, tenant)
    assert owner.get(f"/contacts/{keep}/merge/{keep}").status_code == 400
    stranger = factory.tenant("dupother")
    assert login(client, stranger).status_code == 302
    assert Browser(client, stranger).get(path).status_code == 404
    assert owner.get(f"/contacts/{other}").status_code == 200
