"""REST API v1 handlers: parse -> authorize -> fetch -> service -> serialize."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, g, jsonify, request, url_for
from marshmallow import ValidationError

from app.access.policy import may, record_in_scope
from app.api import record_lists
from app.api.auth import authenticate_request
from app.companies.services import company_names
from app.contacts import services as contacts
from app.contacts.models import Contact
from app.contacts.schemas import ContactSchema, ContactUpdateSchema
from app.database import db
from app.errors import ApiError, not_found, validation_error
from app.hosts import workspace_blueprint
from app.identity.sessions import Member
from app.lists.filters import SORTS
from billing import access as billing_access
from billing import limits

bp = workspace_blueprint("api", __name__, url_prefix="/api/v1")

# Request bodies larger than this are refused (413) before they are read.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

CONTACT_SORTS = SORTS["contact"]
_contact = ContactSchema()
_contacts = ContactSchema(many=True)
_contact_update = ContactUpdateSchema(partial=True)

# Endpoints that answer without authentication (the API's own description).
PUBLIC_ENDPOINTS = frozenset({"openapi_json", "docs"})


@bp.before_request
def _authenticate() -> None:
    request.max_content_length = current_app.config.get(
        "API_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES
    )
    endpoint = (request.endpoint or "").rsplit(".", 1)[-1]
    if endpoint in PUBLIC_ENDPOINTS:
        return
    authenticate_request()
    if billing_access.refuses(db.session, g.tenant.id, request.method, request.endpoint):
        raise ApiError(403, billing_access.READ_ONLY_CODE, str(billing_access.READ_ONLY_MESSAGE))


def member() -> Member:
    """The authenticated caller of this request."""
    current: Member = g.member
    return current


def _require(resource: str, action: str) -> None:
    if not may(member().actor, resource, action):
        raise ApiError(403, "forbidden", f"Your role may not {action} {resource}.")


def _json_body() -> dict[str, Any]:
    """The request body as a JSON object: 415 unless JSON, 400 unless a valid object."""
    if not request.is_json:
        raise ApiError(
            415, "unsupported_media_type", "Send a JSON body (Content-Type: application/json)."
        )
    raw = request.get_data(cache=True)  # 413 past the size limit
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise validation_error(
            {"_body": ["The body is not valid UTF-8."]}, "Malformed JSON."
        ) from exc
    except RecursionError as exc:
        raise validation_error(
            {"_body": ["The JSON is nested too deeply."]}, "Malformed JSON."
        ) from exc
    except ValueError as exc:
        raise validation_error({"_body": [f"Not valid JSON: {exc}"]}, "Malformed JSON.") from exc
    if not isinstance(body, dict):
        raise validation_error({"_body": ["The body must be a JSON object."]})
    return body


def _load(schema: Any, data: Any) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_body": exc.messages}
        raise validation_error(messages) from exc
    return loaded


def _query_args() -> dict[str, str]:
    """Query parameters, each given at most once."""
    repeated = {
        name: ["Give this parameter once."]
        for name, values in request.args.lists()
        if len(values) > 1
    }
    if repeated:
        raise validation_error(repeated)
    return request.args.to_dict()


def contact_payloads(items: list[Contact]) -> list[dict[str, Any]]:
    """Contacts as the API answers them, each with its company (id and name) when the
    caller may see that company, else null (one query for the whole page)."""
    names = company_names(db.session, member().actor, (c.company_id for c in items if c.company_id))
    payloads: list[dict[str, Any]] = _contacts.dump(items)
    for payload in payloads:
        company_id = payload.get("company_id")
        payload["company"] = (
            {"id": company_id, "name": names[company_id]} if company_id in names else None
        )
    return payloads


def contact_payload(contact: Contact) -> dict[str, Any]:
    """One contact as the API answers it (see :func:`contact_payloads`)."""
    return contact_payloads([contact])[0]


def _fetch_contact(contact_id: int, action: str = "view") -> Contact:
    """The contact if the caller may see it (else 404) and may ``action`` it (else 403)."""
    contact = contacts.get_visible_contact(db.session, member().actor, contact_id, action="view")
    if contact is None:
        raise not_found()
    if action != "view" and not record_in_scope(
        member().actor, "contacts", action, contact.owner_id
    ):
        raise ApiError(403, "forbidden", f"Your role may not {action} this contact.")
    return contact


@bp.get("/me")
def me() -> Response:
    """The caller, their workspace and role."""
    m = member()
    return jsonify(
        {
            "id": m.id,
            "email": m.email,
            "name": m.user.name,
            "role": m.membership.role,
            "tenant": {"id": g.tenant.id, "slug": g.tenant.slug, "name": g.tenant.name},
            "auth": g.get("auth_method"),
        }
    )


@bp.get("/contacts")
def list_contacts() -> Response:
    """Contacts the caller may see; ``q`` searches, filters narrow (app.lists.filters),
    cursor-paginated."""
    _require("contacts", "view")
    args = _query_args()
    items, next_cursor = record_lists.list_page(db.session, member().actor, "contact", args)
    return jsonify({"items": contact_payloads(items), "next_cursor": next_cursor})


@bp.post("/contacts")
def create_contact() -> tuple[Response, int, dict[str, str]]:
    """Create a contact (owned by the caller unless ``owner_id`` says otherwise)."""
    _require("contacts", "create")
    data = _load(_contact, _json_body())
    contact = contacts.create_contact(db.session, member().actor, data)
    blueprint = (request.blueprint or "api").split(".")[0]
    location = url_for(f"{blueprint}.get_contact", contact_id=contact.id)
    return jsonify(contact_payload(contact)), 201, {"Location": location}


@bp.get("/contacts/<int:contact_id>")
def get_contact(contact_id: int) -> Response:
    """One contact (404 when missing, another tenant's, or out of scope)."""
    _require("contacts", "view")
    return jsonify(contact_payload(_fetch_contact(contact_id)))


@bp.patch("/contacts/<int:contact_id>")
def update_contact(contact_id: int) -> Response:
    """Change some fields of a contact."""
    _require("contacts", "edit")
    contact = _fetch_contact(contact_id, "edit")
    data = _load(_contact_update, _json_body())
    contacts.update_contact(db.session, member().actor, contact, data)
    return jsonify(contact_payload(contact))


@bp.delete("/contacts/<int:contact_id>")
def delete_contact(contact_id: int) -> tuple[str, int]:
    """Delete a contact."""
    _require("contacts", "delete")
    contact = _fetch_contact(contact_id, "delete")
    contacts.delete_contact(db.session, member().actor, contact)
    return "", 204


@bp.get("/usage")
def usage() -> Response:
    """The workspace's plan and, per limit, what it uses and its cap."""
    _require("billing", "view")
    return jsonify(limits.usage_report(db.session))
