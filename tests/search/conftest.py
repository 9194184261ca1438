"""Fixtures of the search tests: a workspace with a few people, companies and deals made
through the real API (so that the generated search columns are filled as in use), and
a sales rep with records of their own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.conftest import Api
from tests.conftest import Factory, TenantFixture

# The page and browser fixtures of tests/web, shared rather than copied.
from tests.web.conftest import chromium, live_server, owner, tenant

__all__ = ["chromium", "live_server", "owner", "tenant"]


@dataclass
class World:
    """A workspace: its owner's and a sales rep's API, and the records by nickname."""

    tf: TenantFixture
    api: Api
    rep_api: Api
    rep_id: int
    ids: dict[str, int] = field(default_factory=dict)

    def search(self, q: str | None, *, api: Api | None = None, **params: Any) -> Any:
        query = dict(params)
        if q is not None:
            query["q"] = q
        return (api or self.api).get("/search", query_string=query)

    def found(self, q: str, *, api: Api | None = None, **params: Any) -> list[tuple[str, int]]:
        """(type, id) of every hit, in order; asserts 200."""
        response = self.search(q, api=api, **params)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [(hit["type"], hit["id"]) for hit in response.get_json()["items"]]

    def names(self, q: str, *, api: Api | None = None, **params: Any) -> list[str]:
        """Nicknames of the hits, in order."""
        by_id = {(kind, i): name for name, (kind, i) in self.keyed().items()}
        return [by_id[hit] for hit in self.found(q, api=api, **params)]

    def keyed(self) -> dict[str, tuple[str, int]]:
        kinds = {"c": "contact", "o": "company", "d": "deal"}
        return {name: (kinds[name[0]], i) for name, i in self.ids.items()}


def _made(response: Any) -> int:
    assert response.status_code == 201, response.get_data(as_text=True)
    made: int = response.get_json()["id"]
    return made


@pytest.fixture
def world(client: FlaskClient, factory: Factory) -> World:
    """Contacts (nicknames start with "c"), companies ("o") and deals ("d"); the rep owns
    c_rep_* only."""
    tf = factory.tenant("search", name="Search Co")
    rep_id, _, rep_token = factory.member(tf, role="sales_rep")
    api = Api(client, tf)
    rep_api = Api(client, tf, token=rep_token)
    w = World(tf=tf, api=api, rep_api=rep_api, rep_id=rep_id)
    contacts: dict[str, dict[str, Any]] = {
        "c_john": {
            "first_name": "John",
            "last_name": "Smith",
            "email": "john.smith@initech.example",
            "phone": "+1 (555) 010-2000",
            "company_name": "Initech",
        },
        "c_johnson": {"first_name": "Mary", "last_name": "Johnson", "email": "mj@globex.example"},
        "c_ann": {
            "first_name": "Ann",
            "last_name": "Lee",
            "email": "ann@hooli.example",
            "phone": "030 1234567",
        },
        "c_annabel": {"first_name": "Annabel", "last_name": "Leeds", "company_name": "Hooli"},
        "c_joanne": {"first_name": "Joanne", "last_name": "Lee"},
        "c_zoe": {"first_name": "Zoë", "last_name": "Müller", "email": "zoe@beispiel.example"},
        "c_pct": {"first_name": "Cy", "last_name": "Pure", "company_name": "100% Pure_Goods"},
        "c_slash": {"first_name": "Back", "last_name": "Slash", "company_name": "ABC\\DEF Traders"},
        "c_email": {"email": "dee_x@umbrella.example", "phone": "5550102000"},
    }
    for name, fields in contacts.items():
        w.ids[name] = _made(api.post("/contacts", json=fields))
    w.ids["c_rep_ivan"] = _made(
        rep_api.post(
            "/contacts",
            json={"first_name": "Ivan", "last_name": "Petrov", "email": "ivan@rep.example"},
        )
    )
    companies = {
        "o_acme": {
            "name": "ACME Corporation",
            "domain": "acme.example",
            "phone": "+44 20 7946 0000",
        },
        "o_globex": {"name": "Globex", "domain": "globex.example"},
    }
    for name, fields in companies.items():
        w.ids[name] = _made(api.post("/companies", json=fields))
    w.ids["o_rep_petrov"] = _made(rep_api.post("/companies", json={"name": "Petrov Trading"}))
    deals = {"d_acme": "ACME renewal 2025", "d_hooli": "Hooli pilot"}
    for name, title in deals.items():
        w.ids[name] = _made(api.post("/deals", json={"title": title, "amount": "1200.00"}))
    w.ids["d_rep_petrov"] = _made(rep_api.post("/deals", json={"title": "Petrov expansion"}))
    return w
