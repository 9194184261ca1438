"""REST API v1 handlers: parse -> authorize -> fetch -> service -> serialize."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select

from app.access.policy import may, record_in_scope
from app.api.auth import authenticate_request
from app.api.pagination import page, paginate, parse_limit, parse_sort
from app.contacts import services as contacts
from app.contacts.models import Contact
from app.contacts.schemas import ContactListArgs, ContactSchema, ContactUpdateSchema
from app.database import db
from app.errors import ApiError, not_found, validation_error
from app.hosts import workspace_blueprint
from app.identity.models import Membership
from app.identity.sessions import Member

bp = workspace_blueprint("api", __name__, url_prefix="/api/v1")

CONTACT_SORTS = {
    "created_at": (Contact.created_at, "datetime"),
    "updated_at": (Contact.updated_at, "datetime"),
    "last_name": (Contact.last_name, "str"),
    "first_name": (Contact.first_name, "str"),
    "email": (Contact.email, "str"),
}
_contact = ContactSchema()
_contacts = ContactSchema(many=True)
_contact_update = ContactUpdateSchema(partial=True)
_list_args = ContactListArgs()

# Endpoints that answer without authentication (the API's own description).
PUBLIC_ENDPOINTS = frozenset({"openapi_json", "docs"})


@bp.before_request
def _authenticate() -> None:
    endpoint = (request.endpoint or "").rsplit(".", 1)[-1]
    if endpoint in PUBLIC_ENDPOINTS:
        return
    authenticate_request()


def member() -> Member:
    """The authenticated caller of this request."""
    current: Member = g.member
    return current


def _require(resource: str, action: str) -> None:
    if not may(member().actor, resource, action):
        raise ApiError(403, "forbidden", f"Your role may not {action} {resource}.")


def _json_body() -> dict[str, Any]:
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "Send a JSON body (Content-Type: application/json).")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise validation_error({"_body": ["The body must be a JSON object."]})
    return body


def _load(schema: Any, body: dict[str, Any]) -> dict[str, Any]:
    try:
        data: dict[str, Any] = schema.load(body)
    except ValidationError as exc:
        raise validation_error(_as_dict(exc.messages)) from exc
    return data


def _as_dict(messages: Any) -> dict[str, Any]:
    return messages if isinstance(messages, dict) else {"_body": messages}


def _check_owner(data: dict[str, Any]) -> None:
    owner_id = data.get("owner_id")
    if owner_id is None:
        return
    if owner_id != member().id and not may(member().actor, "contacts", "edit"):
        raise validation_error({"owner_id": ["You may only assign records to yourself."]})
    is_member = db.session.scalar(
        select(Membership.id).where(
            Membership.tenant_id == g.tenant.id,
            Membership.user_id == owner_id,
            Membership.is_active.is_(True),
        )
    )
    if is_member is None:
        raise validation_error({"owner_id": ["Not a member of this workspace."]})


def _fetch_contact(contact_id: int, action: str = "view") -> Contact:
    contact = contacts.get_visible_contact(db.session, member().actor, contact_id, action="view")
    if contact is None:
        raise not_found()
    if action != "view" and not record_in_scope(member().actor, "contacts", action, contact.owner_id):
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
    """Contacts the caller may see; ``q`` searches, cursor-paginated."""
    _require("contacts", "view")
    try:
        args = _list_args.load(request.args.to_dict())
    except ValidationError as exc:
        raise validation_error(_as_dict(exc.messages)) from exc
    limit = parse_limit(args["limit"])
    sort = parse_sort(args["sort"], CONTACT_SORTS, "-created_at")
    stmt = contacts.visible_contacts_query(member().actor, args["q"])
    if args["owner_id"] is not None:
        stmt = stmt.where(Contact.owner_id == args["owner_id"])
    if args["email"]:
        stmt = stmt.where(Contact.email == args["email"].strip().lower())
    rows = list(db.session.scalars(paginate(stmt, sort, Contact.id, args["cursor"], limit)))
    items, next_cursor = page(rows, sort, limit)
    return jsonify({"items": _contacts.dump(items), "next_cursor": next_cursor})


@bp.post("/contacts")
def create_contact() -> tuple[Response, int, dict[str, str]]:
    """Create a contact."""
    _require("contacts", "create")
    data = _load(_contact, _json_body())
    _check_owner(data)
    contact = contacts.create_contact(db.session, member().actor, data)
    location = url_for(request.endpoint.rsplit(".", 1)[0] + ".get_contact", contact_id=contact.id)  # type: ignore[union-attr]
    return jsonify(_contact.dump(contact)), 201, {"Location": location}


@bp.get("/contacts/<int:contact_id>")
def get_contact(contact_id: int) -> Response:
    """One contact (404 when missing, another tenant's, or out of scope)."""
    return jsonify(_contact.dump(_fetch_contact(contact_id)))


@bp.patch("/contacts/<int:contact_id>")
def update_contact(contact_id: int) -> Response:
    """Change some fields of a contact."""
    contact = _fetch_contact(contact_id, "edit")
    data = _load(_contact_update, _json_body())
    _check_owner(data)
    merged = {
        "first_name": data.get("first_name", contact.first_name),
        "last_name": data.get("last_name", contact.last_name),
        "email": data.get("email", contact.email),
    }
    if not any(merged.values()):
        raise validation_error({"first_name": ["Give at least a first name, a last name or an email."]})
    contacts.update_contact(db.session, member().actor, contact, data)
    return jsonify(_contact.dump(contact))


@bp.delete("/contacts/<int:contact_id>")
def delete_contact(contact_id: int) -> tuple[str, int]:
    """Delete a contact."""
    contact = _fetch_contact(contact_id, "delete")
    contacts.delete_contact(db.session, member().actor, contact)
    return "", 204
