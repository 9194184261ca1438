"""Custom field pages: the settings (list, add, edit, reorder, delete) and the inputs
and values on contact, company and deal forms and cards."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from app.contacts.models import Contact
from tests.api.conftest import Api, tenant_session
from tests.conftest import Factory, TenantFixture
from tests.custom_fields.conftest import define
from tests.web.conftest import Browser, sign_in_as, text_of, visible_text

SETTINGS = "/settings/custom-fields"


def _labels_in_order(html: str) -> list[str]:
    return re.findall(r'<td class="cell-name">\s*<bdi>([^<]+)</bdi>', html)


def _field_id(api: Api, key: str) -> int:
    items = api.get("/custom-fields").get_json()["items"]
    return int(next(item["id"] for item in items if item["key"] == key))


def test_settings_add_edit_move_delete(
    owner: Browser, client: FlaskClient, tenant: TenantFixture, app: Flask
) -> None:
    page = text_of(owner.get(SETTINGS))
    assert "No custom fields here yet." in page
    assert f'href="{SETTINGS}"' in page  # the user menu links the settings
    assert 'aria-current="page">Contacts<' in page
    assert "0 of 5 custom fields used" in visible_text(page)
    assert "style=" not in page and "<script>" not in page

    response = owner.submit(
        f"{SETTINGS}/new?entity=contact",
        {
            "entity": "contact",
            "label": "Tier",
            "type": "single_select",
            "options": "Gold\n\nSilver\n",
        },
    )
    assert response.status_code == 302, text_of(response)[:3000]
    assert response.headers["Location"] == f"{SETTINGS}?entity=contact"
    response = owner.submit(
        f"{SETTINGS}/new", {"entity": "contact", "label": "Score", "type": "number", "options": "x"}
    )
    assert response.status_code == 302
    api = Api(client, tenant)
    fields = api.get("/custom-fields").get_json()["items"]
    assert [(f["key"], f["options"]) for f in fields] == [
        ("tier", ["Gold", "Silver"]),
        ("score", []),
    ]
    listed = text_of(owner.get(SETTINGS))
    assert "Score was added." in listed
    assert _labels_in_order(listed) == ["Tier", "Score"]
    assert "2 of 5 custom fields used" in visible_text(listed)

    score_id = _field_id(api, "score")
    moved = owner.submit(SETTINGS, {"direction": "up"}, action=f"{SETTINGS}/{score_id}/move")
    assert moved.status_code == 302
    assert _labels_in_order(text_of(owner.get(SETTINGS))) == ["Score", "Tier"]
    first = owner.submit(SETTINGS, {"direction": "up"}, action=f"{SETTINGS}/{score_id}/move")
    assert first.status_code == 302  # already first: nothing moves
    sideways = owner.submit(SETTINGS, {"direction": "left"}, action=f"{SETTINGS}/{score_id}/move")
    assert sideways.status_code == 400
    assert _labels_in_order(text_of(owner.get(SETTINGS))) == ["Score", "Tier"]

    tier_id = _field_id(api, "tier")
    api.create(first_name="Ann", custom_fields={"tier": "Silver"})
    api.create(first_name="Bob", custom_fields={"tier": "Gold"})
    edit_page = text_of(owner.get(f"{SETTINGS}/{tier_id}/edit"))
    assert "Gold\nSilver</textarea>" in edit_page
    assert "Single select" in edit_page and ">tier</code>" in edit_page
    assert "1 record" in visible_text(edit_page)  # usage per option
    response = owner.submit(
        f"{SETTINGS}/{tier_id}/edit",
        {"label": "Customer tier", "options": "silver\nPlatinum", "position": "1", "required": "y"},
    )
    assert response.status_code == 302, text_of(response)[:3000]
    tier = api.get(f"/custom-fields/{tier_id}").get_json()
    assert (tier["label"], tier["options"], tier["required"]) == (
        "Customer tier",
        ["silver", "Platinum"],
        True,
    )
    assert _labels_in_order(text_of(owner.get(SETTINGS))) == ["Customer tier", "Score"]
    # A post without a position (a script, an older page) keeps the place: the first
    # field's stored 0 is not read as a 1-based answer.
    relabelled = owner.submit(
        f"{SETTINGS}/{tier_id}/edit", {"label": "Tier", "options": "silver\nPlatinum"}
    )
    assert relabelled.status_code == 302, text_of(relabelled)[:3000]
    assert _labels_in_order(text_of(owner.get(SETTINGS))) == ["Tier", "Score"]
    with tenant_session(app, tenant) as session:
        values = dict(session.query(Contact.first_name, Contact.custom_fields).all())
    assert values == {"Ann": {"tier": "silver"}, "Bob": {}}

    confirm = text_of(owner.get(f"{SETTINGS}/{tier_id}/delete"))
    assert "1 contact has a value in this field." in visible_text(confirm)
    response = owner.submit(f"{SETTINGS}/{tier_id}/delete", {})
    assert response.status_code == 302
    assert "with its value on 1 record" in text_of(owner.get(response.headers["Location"]))
    assert _labels_in_order(text_of(owner.get(SETTINGS))) == ["Score"]
    assert owner.get(f"{SETTINGS}/{tier_id}/edit").status_code == 404


def test_settings_form_errors(owner: Browser, client: FlaskClient, tenant: TenantFixture) -> None:
    base = {"entity": "contact", "label": "Kept label", "type": "text"}
    for data, field in [
        ({"label": ""}, "label"),
        ({"label": "x" * 101}, "label"),
        ({"key": "Bad Key"}, "key"),
        ({"type": "colour"}, "type"),
        ({"entity": "lead"}, "entity"),
        ({"type": "single_select", "options": ""}, "options"),
        ({"type": "multi_select", "options": "a\nA"}, "options"),
    ]:
        response = owner.submit(f"{SETTINGS}/new", {**base, **data})
        assert response.status_code == 200, (field, response.status_code)
        html = text_of(response)
        assert f'id="{field}-error"' in html, field
    define(Api(client, tenant), "contact", "tier", "text")
    taken = owner.submit(f"{SETTINGS}/new", {**base, "key": "tier"})
    assert 'id="key-error"' in text_of(taken)


def test_plan_cap_on_the_settings_page(
    owner: Browser, client: FlaskClient, tenant: TenantFixture
) -> None:
    api = Api(client, tenant)
    for n in range(5):
        define(api, "deal", f"f{n}", "text")
    assert "5 of 5 custom fields used" in visible_text(text_of(owner.get(SETTINGS)))
    response = owner.submit(
        f"{SETTINGS}/new", {"entity": "contact", "label": "Sixth", "type": "text"}
    )
    assert response.status_code == 200
    assert "Your Free plan allows 5 custom fields" in visible_text(text_of(response))
    assert len(api.get("/custom-fields").get_json()["items"]) == 5


def test_who_may_see_and_manage(app: Flask, factory: Factory, client: FlaskClient) -> None:
    tenant = factory.tenant("cfroles", plan="pro")  # seats for every role
    owner = sign_in_as(app, tenant, tenant.owner_email)
    field_id = define(Api(client, tenant), "contact", "tier", "text")["id"]
    _, rep_email, _ = factory.member(tenant, role="sales_rep")
    rep = sign_in_as(app, tenant, rep_email)
    listed = text_of(rep.get(SETTINGS))
    assert "Tier" in listed and "Add a field" not in listed
    assert f'href="{SETTINGS}/{field_id}/edit"' not in listed
    assert f'href="{SETTINGS}"' not in text_of(rep.get("/contacts"))  # no menu link
    for path in (f"{SETTINGS}/new", f"{SETTINGS}/{field_id}/edit", f"{SETTINGS}/{field_id}/delete"):
        assert rep.get(path).status_code == 403, path
    _, viewer_email, _ = factory.member(tenant, role="viewer")
    assert sign_in_as(app, tenant, viewer_email).get(SETTINGS).status_code == 403
    _, admin_email, _ = factory.member(tenant, role="admin")
    admin = sign_in_as(app, tenant, admin_email)
    assert f'href="{SETTINGS}"' in text_of(admin.get("/contacts"))
    assert admin.get(f"{SETTINGS}/{field_id}/edit").status_code == 200
    assert owner.get(f"{SETTINGS}/999999/edit").status_code == 404


def _contact_id(response: Any) -> int:
    assert response.status_code == 302, text_of(response)[:3000]
    match = re.search(r"/contacts/(\d+)$", response.headers["Location"])
    assert match
    return int(match.group(1))


def test_contact_form_inputs_errors_and_card(
    owner: Browser, client: FlaskClient, tenant: TenantFixture, factory: Factory, app: Flask
) -> None:
    # Five fields on the Free plan: one of each kind of input.
    api = Api(client, tenant)
    define(api, "contact", "nickname", "text", required=True)
    define(api, "contact", "score", "number")
    define(api, "contact", "budget", "money")
    define(api, "contact", "vip", "checkbox")
    define(api, "contact", "topics", "multi_select", options=["Sales", "Support", "Billing"])
    form = text_of(owner.get("/contacts/new"))
    for name in ("nickname", "score", "budget", "budget-currency", "vip"):
        assert f'name="custom_fields-{name}"' in form, name
    assert form.count('name="custom_fields-topics"') == 3
    assert 'type="checkbox"' in form and 'aria-required="true"' in form

    base = {"first_name": "Kept", "custom_fields-nickname": "Ann"}
    for data, field in [
        ({"custom_fields-nickname": ""}, "custom_fields-nickname"),
        ({"custom_fields-score": "abc"}, "custom_fields-score"),
        ({"custom_fields-budget": "12.505"}, "custom_fields-budget"),
        (
            {"custom_fields-budget": "12", "custom_fields-budget-currency": "XYZ"},
            "custom_fields-budget",
        ),
        (
            {"custom_fields-budget": "12", "custom_fields-budget-currency": ""},
            "custom_fields-budget",
        ),
        ({"custom_fields-topics": ["Sales", "Hacking"]}, "custom_fields-topics"),
    ]:
        response = owner.submit("/contacts/new", {**base, **data})
        assert response.status_code == 200, (field, response.status_code)
        html = text_of(response)
        assert f'id="{field}-error"' in html, field
        assert 'value="Kept"' in html, field
    with tenant_session(app, tenant) as session:
        assert session.query(Contact).count() == 0

    contact_id = _contact_id(
        owner.submit(
            "/contacts/new",
            {
                **base,
                "custom_fields-score": "1,234.5",
                "custom_fields-budget": "12,5",
                "custom_fields-budget-currency": "eur",
                "custom_fields-vip": "y",
                "custom_fields-topics": ["Support", "Sales"],
            },
        )
    )
    stored = api.get(f"/contacts/{contact_id}").get_json()["custom_fields"]
    assert stored == {
        "nickname": "Ann",
        "score": 1234.5,
        "budget": {"amount": "12.50", "currency": "EUR"},
        "vip": True,
        "topics": ["Sales", "Support"],
    }
    card = visible_text(text_of(owner.get(f"/contacts/{contact_id}")))
    for shown in (
        "Nickname Ann",
        "Score 1,234.5",
        "Budget €12.50",
        "Vip Yes",
        "Topics Sales, Support",
    ):
        assert shown in card, shown

    edit = text_of(owner.get(f"/contacts/{contact_id}/edit"))
    assert 'value="1234.5"' in edit and 'value="12.50"' in edit and 'value="EUR"' in edit
    assert re.search(r'<input checked[^>]*name="custom_fields-vip"', edit) or re.search(
        r'name="custom_fields-vip"[^>]*checked', edit
    )
    response = owner.submit(
        f"/contacts/{contact_id}/edit",
        {"first_name": "Kept", "custom_fields-nickname": "Annie", "custom_fields-score": ""},
    )
    assert response.status_code == 302, text_of(response)[:3000]
    stored = api.get(f"/contacts/{contact_id}").get_json()["custom_fields"]
    assert stored == {"nickname": "Annie", "vip": False}  # an unchecked box is "no"
    refused = owner.submit(
        f"/contacts/{contact_id}/edit", {"first_name": "Kept", "custom_fields-nickname": ""}
    )
    assert refused.status_code == 200 and 'id="custom_fields-nickname-error"' in text_of(refused)


def test_company_and_deal_forms(owner: Browser, client: FlaskClient, tenant: TenantFixture) -> None:
    api = Api(client, tenant)
    define(api, "company", "site", "url")
    define(api, "company", "founded", "date")
    define(api, "deal", "region", "single_select", options=["EMEA", "APAC"], required=True)
    define(api, "deal", "brief", "long_text")
    response = owner.submit(
        "/companies/new",
        {
            "name": "Acme",
            "custom_fields-site": "acme.example/about",
            "custom_fields-founded": "1999-12-31",
        },
    )
    assert response.status_code == 302, text_of(response)[:3000]
    company_path = response.headers["Location"]
    card = text_of(owner.get(company_path))
    assert 'href="https://acme.example/about"' in card
    assert "Dec 31, 1999" in visible_text(card)
    bad = owner.submit("/companies/new", {"name": "Kept", "custom_fields-site": "ftp://x.example"})
    assert bad.status_code == 200 and 'id="custom_fields-site-error"' in text_of(bad)

    missing = owner.submit(
        "/deals/new", {"title": "Kept", "currency": "EUR", "custom_fields-region": ""}
    )
    assert missing.status_code == 200, missing.status_code
    assert 'id="custom_fields-region-error"' in text_of(missing)
    assert "This field is required." in text_of(missing)
    created = owner.submit(
        "/deals/new",
        {"title": "Big", "currency": "EUR", "custom_fields-region": "APAC",
         "custom_fields-brief": "Line one\nline two"},
    )  # fmt: skip
    assert created.status_code == 302, text_of(created)[:3000]
    deal_path = created.headers["Location"]
    card = text_of(owner.get(deal_path))
    assert "APAC" in visible_text(card) and "Line one\nline two" in card
    edit = text_of(owner.get(f"{deal_path}/edit"))
    assert re.search(r'<option selected value="APAC">|<option value="APAC" selected>', edit)
