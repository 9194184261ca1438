"""Company pages, and the company on the contact form and card."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import select

from app.companies.models import Company
from app.contacts.models import Contact
from app.timeline.models import TimelineEvent
from tests.api.conftest import tenant_session
from tests.conftest import Factory, TenantFixture
from tests.web.conftest import Browser, next_link, sign_in_as, text_of, visible_text


def _create(owner: Browser, **fields: str) -> int:
    response = owner.submit("/companies/new", {"name": "Initech", **fields})
    assert response.status_code == 302, text_of(response)[:3000]
    match = re.search(r"/companies/(\d+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def _company_ids(html: str) -> list[int]:
    return [int(m) for m in re.findall(r'class="row-link" href="/companies/(\d+)"', html)]


def test_empty_list_nav_and_new_form(owner: Browser) -> None:
    page = owner.get("/companies")
    assert page.status_code == 200
    html = text_of(page)
    assert "No companies yet" in html
    assert 'href="/companies/new"' in html
    assert 'href="/companies" aria-current="page"' in html
    assert "style=" not in html and "<script>" not in html
    assert 'name="viewport"' in html
    assert owner.get("/companies/new").status_code == 200


def test_create_show_edit(owner: Browser, app: Flask, tenant: TenantFixture) -> None:
    company_id = _create(
        owner,
        name="Initech",
        domain="https://www.Initech.example/x",
        industry="Software",
        size="51-200",
        phone="+1 555 0100",
        tags="VIP, vip, Partner",
        address="1 Main St",
        notes="Line one",
    )
    card = text_of(owner.get(f"/companies/{company_id}"))
    assert "Company created." in card
    text = visible_text(card)
    for expected in ("Initech", "initech.example", "Software", "51-200", "VIP", "Partner"):
        assert expected in text
    assert "Its contacts and deals are kept" in card  # the delete dialog says so
    form = text_of(owner.get(f"/companies/{company_id}/edit"))
    assert 'value="VIP, Partner"' in form and 'value="initech.example"' in form
    response = owner.submit(
        f"/companies/{company_id}/edit", {"name": "Initrode", "size": "", "tags": ""}
    )
    assert response.status_code == 302
    assert "Initrode" in text_of(owner.get(f"/companies/{company_id}"))
    with tenant_session(app, tenant) as session:
        company = session.get(Company, company_id)
        assert company is not None and company.size is None and company.tags == []
        kinds = session.scalars(
            select(TimelineEvent.kind).where(TimelineEvent.company_id == company_id)
        ).all()
        assert sorted(kinds) == ["created", "updated"]


def test_bad_input_keeps_values_and_shows_field_errors(owner: Browser) -> None:
    cases = [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "A\x01"}, "name"),
        ({"domain": "not a domain"}, "domain"),
        ({"size": "huge"}, "size"),
        ({"phone": "call me"}, "phone"),
        ({"tags": ", ".join(f"t{n}" for n in range(31))}, "tags"),
        ({"notes": "x" * 20001}, "notes"),
    ]
    for data, field in cases:
        response = owner.submit("/companies/new", {"name": "Kept Name", "industry": "Kept", **data})
        assert response.status_code == 200, (field, response.status_code)
        html = text_of(response)
        assert f'id="{field}-error"' in html, field
        assert 'value="Kept"' in html
    assert "No companies yet" in text_of(owner.get("/companies"))


def test_search_sort_and_next_page(owner: Browser, app: Flask, tenant: TenantFixture) -> None:
    with tenant_session(app, tenant) as session:
        session.add_all(
            Company(name=f"Firm {n:02d}", domain=f"firm{n}.example", owner_id=tenant.owner_id)
            for n in range(30)
        )
        session.commit()
    first = text_of(owner.get("/companies"))
    assert len(_company_ids(first)) == 25
    link = next_link(first)
    assert link
    second = text_of(owner.get(link))
    assert len(_company_ids(second)) == 5
    assert not set(_company_ids(first)) & set(_company_ids(second))
    found = text_of(owner.get("/companies", query_string={"q": "firm7.exa"}))
    assert len(_company_ids(found)) == 1
    assert "No company matches" in text_of(owner.get("/companies", query_string={"q": "zzz"}))
    descending = text_of(owner.get("/companies", query_string={"sort": "-name"}))
    assert "Firm 29" in visible_text(descending).split("Firm 28")[0]
    # Hand-edited sort and cursor show the first page, never an error.
    assert owner.get("/companies", query_string={"sort": "nope", "cursor": "x"}).status_code == 200
    assert owner.get("/companies", query_string={"cursor": "garbage"}).status_code == 200


def test_card_lists_contacts_and_deletion_keeps_them(
    owner: Browser, app: Flask, tenant: TenantFixture
) -> None:
    company_id = _create(owner, name="Globex")
    form = text_of(owner.get("/contacts/new"))
    assert f'<option value="{company_id}">Globex</option>' in form
    contact_id = owner.create_contact(first_name="Hank", company_id=str(company_id))
    contact_card = text_of(owner.get(f"/contacts/{contact_id}"))
    assert f'href="/companies/{company_id}"' in contact_card
    card = text_of(owner.get(f"/companies/{company_id}"))
    assert f'href="/contacts/{contact_id}"' in card and "Hank" in card
    confirm = owner.get(f"/companies/{company_id}/delete")
    assert confirm.status_code == 200
    assert "Its contacts and deals are kept" in text_of(confirm)
    response = owner.submit(f"/companies/{company_id}/delete", {})
    assert response.status_code == 302 and response.headers["Location"] == "/companies"
    assert owner.get(f"/companies/{company_id}").status_code == 404
    with tenant_session(app, tenant) as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None and contact.company_id is None


def test_contact_form_new_fields(owner: Browser, app: Flask, tenant: TenantFixture) -> None:
    company_id = _create(owner, name="Umbrella")
    contact_id = owner.create_contact(
        first_name="Alice",
        company_id=str(company_id),
        source="Trade fair",
        birthday="1990-05-17",
        tags="VIP, vip",
    )
    with tenant_session(app, tenant) as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None
        assert contact.company_id == company_id and contact.tags == ["VIP"]
        assert contact.source == "Trade fair" and str(contact.birthday) == "1990-05-17"
    card = visible_text(text_of(owner.get(f"/contacts/{contact_id}")))
    assert "Umbrella" in card and "Trade fair" in card and "1990" in card and "VIP" in card
    edit = text_of(owner.get(f"/contacts/{contact_id}/edit"))
    assert f'<option selected value="{company_id}">' in edit or (
        f'<option value="{company_id}" selected>' in edit
    )
    for data, field in [
        ({"birthday": "2999-01-01"}, "birthday"),
        ({"birthday": "1850-01-01"}, "birthday"),
        ({"birthday": "not-a-date"}, "birthday"),
        ({"company_id": "999999999"}, "company_id"),
        ({"company_id": "abc"}, "company_id"),
        ({"source": "x" * 101}, "source"),
        ({"tags": "bad\x01tag"}, "tags"),
    ]:
        response = owner.submit("/contacts/new", {"first_name": "Kept", **data})
        assert response.status_code == 200, (field, response.status_code)
        html = text_of(response)
        assert f'id="{field}-error"' in html, field
        assert 'value="Kept"' in html


def test_scope_on_pages(
    app: Flask, factory: Factory, owner: Browser, tenant: TenantFixture
) -> None:
    company_id = _create(owner, name="Owner Co")
    _, rep_email, _ = factory.member(tenant, role="sales_rep")
    rep = sign_in_as(app, tenant, rep_email)
    assert "Owner Co" not in text_of(rep.get("/companies"))
    assert rep.get(f"/companies/{company_id}").status_code == 404
    assert rep.get(f"/companies/{company_id}/edit").status_code == 404
    # Not offered on the rep's contact form, and refused when posted anyway.
    assert f'value="{company_id}"' not in text_of(rep.get("/contacts/new"))
    response = rep.submit("/contacts/new", {"first_name": "X", "company_id": str(company_id)})
    assert response.status_code == 200 and "Choose a company you can see." in text_of(response)


def test_viewer_pages(app: Flask, factory: Factory, owner: Browser, tenant: TenantFixture) -> None:
    company_id = _create(owner, name="Owner Co")
    _, viewer_email, _ = factory.member(tenant, role="viewer")
    viewer = sign_in_as(app, tenant, viewer_email)
    card = text_of(viewer.get(f"/companies/{company_id}"))
    assert f'href="/companies/{company_id}/edit"' not in card
    assert viewer.get("/companies/new").status_code == 403
    assert viewer.get(f"/companies/{company_id}/edit").status_code == 403
    assert viewer.get(f"/companies/{company_id}/delete").status_code == 403
    assert viewer.post(f"/companies/{company_id}/delete").status_code in (400, 403)
