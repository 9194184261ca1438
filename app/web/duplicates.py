"""Workspace pages: likely duplicate contacts and companies, and the merge page.

The list shows pairs with the reason they look alike; the merge page puts both records
side by side, one choice per differing field, says what will move over, and merges on
confirmation. Views stay thin: authorize with the policy, fetch through the access
helpers, call the finder or the merge service, render.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.access.policy import may, record_in_scope
from app.companies import services as company_services
from app.contacts import services as contact_services
from app.custom_fields.services import definitions, display_value
from app.database import db
from app.duplicates import finder
from app.duplicates.history import moved_phrases
from app.duplicates.services import (
    COMPANY_MERGE,
    CONTACT_MERGE,
    CUSTOM_PREFIX,
    MergeConflict,
    MergeKind,
    field_choices,
    is_empty,
    merge_companies,
    merge_contacts,
    merge_values,
    relation_counts,
)
from app.errors import InvalidInput
from app.hosts import workspace_blueprint
from app.tags import normalize_tags
from app.timeline.queries import actor_names
from app.web import guards
from app.web.listing import record_or_404
from app.web.workspace import member

bp = workspace_blueprint("duplicates", __name__)
guards.install(bp)

PAGE_SIZE = 25
# A page keeps looking (each round at most finder.SCAN_LIMITS records) until it has a
# page of suggestions, for at most this many rounds: rare duplicates in a big workspace
# still fill a page without one request ever reading the whole table.
ROUNDS = 3
REASON_LABELS = {
    "same_email": _l("Same email"),
    "same_phone": _l("Same phone number"),
    "similar_name_same_company": _l("Similar name at the same company"),
    "same_domain": _l("Same website domain"),
    "similar_name": _l("Similar name"),
}
FIELD_LABELS = {
    "first_name": _l("First name"),
    "last_name": _l("Last name"),
    "email": _l("Email"),
    "phone": _l("Phone"),
    "title": _l("Title"),
    "company_name": _l("Company (as typed)"),
    "company_id": _l("Company"),
    "source": _l("Source"),
    "birthday": _l("Birthday"),
    "notes": _l("Notes"),
    "owner_id": _l("Owner"),
    "name": _l("Name"),
    "domain": _l("Website domain"),
    "industry": _l("Industry"),
    "size": _l("Size (employees)"),
    "address": _l("Address"),
}
CHOICE_LABELS = {"keep": _l("Keep this"), "other": _l("Take this"), "both": _l("Keep both")}


@dataclass(frozen=True)
class _Pages:
    """What differs between the contact and the company pages."""

    kind: MergeKind
    list_endpoint: str
    merge_endpoint: str
    card_endpoint: str
    card_arg: str
    find: Callable[..., finder.SuggestionPage]
    fetch: Callable[..., Any]
    merge: Callable[..., Any]


CONTACT_PAGES = _Pages(
    CONTACT_MERGE,
    "duplicates.contact_duplicates",
    "duplicates.contact_merge",
    "workspace.contact_detail",
    "contact_id",
    finder.find_contact_duplicates,
    contact_services.get_visible_contact,
    merge_contacts,
)
COMPANY_PAGES = _Pages(
    COMPANY_MERGE,
    "duplicates.company_duplicates",
    "duplicates.company_merge",
    "companies.company_detail",
    "company_id",
    finder.find_company_duplicates,
    company_services.get_visible_company,
    merge_companies,
)


@bp.app_context_processor
def _links() -> dict[str, Any]:
    # The contact and company lists link here for members who may merge.
    return {"may_merge": _may_merge}


def _may_merge(resource: str) -> bool:
    actor = member().actor
    return may(actor, resource, "edit") and may(actor, resource, "delete")


def _require_merge_rights(resource: str) -> None:
    if not _may_merge(resource):
        abort(403)


def _card_url(pages: _Pages, record_id: int) -> str:
    values: dict[str, Any] = {pages.card_arg: record_id}
    return url_for(pages.card_endpoint, **values)


def _merge_url(pages: _Pages, record_id: int, other_id: int) -> str:
    values: dict[str, Any] = {pages.card_arg: record_id, "other_id": other_id}
    return url_for(pages.merge_endpoint, **values)


def _title(kind: MergeKind, record: Any) -> str:
    if kind.entity == "contact":
        return str(record.full_name) or _("Unnamed contact")
    return str(record.name)


def _details(kind: MergeKind, record: Any, companies: dict[int, str]) -> list[str]:
    """The few facts that tell two records apart at a glance."""
    if kind.entity == "contact":
        company = companies.get(record.company_id) if record.company_id else None
        facts = [record.email, record.phone, company or record.company_name, record.title]
    else:
        facts = [record.domain, record.phone, record.industry]
    return [str(fact) for fact in facts if fact]


def _find(pages: _Pages, cursor: str | None) -> tuple[list[finder.Suggestion], str | None]:
    """A page of suggestions from ``cursor`` on (several finder rounds if needed)."""
    found: list[finder.Suggestion] = []
    next_cursor = cursor
    for _round in range(ROUNDS):
        page = pages.find(db.session, member().actor, next_cursor, PAGE_SIZE - len(found))
        found += page.items
        next_cursor = page.next_cursor
        if next_cursor is None or len(found) >= PAGE_SIZE:
            break
    return found, next_cursor


def _suggestion_page(pages: _Pages) -> dict[str, Any]:
    """The page the query string asks for, with the two records of each pair."""
    cursor = request.args.get("cursor") or None
    try:
        found, next_cursor = _find(pages, cursor)
    except InvalidInput:
        # Only a hand-edited link has a cursor that is not ours: show the first page.
        cursor = None
        found, next_cursor = _find(pages, None)
    kind = pages.kind
    ids = {i for s in found for i in s.ids}
    records = {
        r.id: r for r in db.session.scalars(select(kind.model).where(kind.model.id.in_(ids)))
    }
    companies = (
        company_services.company_names(
            db.session, member().actor, (r.company_id for r in records.values() if r.company_id)
        )
        if kind.entity == "contact"
        else {}
    )

    def shown(record_id: int) -> dict[str, Any]:
        record = records[record_id]
        return {
            "id": record_id,
            "title": _title(kind, record),
            "details": _details(kind, record, companies),
            "href": _card_url(pages, record_id),
        }

    pairs = [
        {
            "records": [shown(i) for i in s.ids],
            "reasons": [str(REASON_LABELS[r]) for r in s.reasons],
            "merge": _merge_url(pages, s.ids[0], s.ids[1]),
        }
        for s in found
    ]
    return {"pairs": pairs, "next_cursor": next_cursor, "is_first_page": cursor is None}


def _list(pages: _Pages) -> str:
    _require_merge_rights(pages.kind.resource)
    return render_template(
        "workspace/duplicates/list.html",
        entity=pages.kind.entity,
        list_endpoint=pages.list_endpoint,
        back=url_for(
            "workspace.contacts" if pages.kind.entity == "contact" else "companies.companies"
        ),
        **_suggestion_page(pages),
    )


@bp.get("/contacts/duplicates")
@login_required
def contact_duplicates() -> str:
    """Likely duplicate contacts, with the reasons."""
    return _list(CONTACT_PAGES)


@bp.get("/companies/duplicates")
@login_required
def company_duplicates() -> str:
    """Likely duplicate companies, with the reasons."""
    return _list(COMPANY_PAGES)


# --- The merge page -------------------------------------------------------------------


@dataclass
class _Row:
    """One line of the side-by-side comparison."""

    name: str
    label: str
    keep: str
    other: str
    options: tuple[str, ...] = ()
    chosen: str = ""
    errors: list[str] = field(default_factory=list)


def _shown(name: str, value: Any, context: dict[str, Any]) -> str:
    """A value as people read it ("" for none)."""
    if is_empty(value):
        return ""
    if name == "company_id":
        return str(context["companies"].get(value) or _("A company you can not see"))
    if name == "owner_id":
        if value == member().actor.user_id:
            return _("You")
        return str(context["owners"].get(value) or _("Another member"))
    if name == "birthday":
        return str(format_date(value, "medium"))
    if name.startswith(CUSTOM_PREFIX):
        definition = context["custom"].get(name.removeprefix(CUSTOM_PREFIX))
        return display_value(definition, value) if definition is not None else str(value)
    return str(value)


def _label(name: str, context: dict[str, Any]) -> str:
    if name.startswith(CUSTOM_PREFIX):
        definition = context["custom"].get(name.removeprefix(CUSTOM_PREFIX))
        return str(definition.label) if definition is not None else name.removeprefix(CUSTOM_PREFIX)
    return str(FIELD_LABELS.get(name, name))


def _rows(
    pages: _Pages, keep: Any, other: Any, chosen: dict[str, str], errors: dict[str, list[str]]
) -> list[_Row]:
    """Every field of the two records: the differing ones with their choices, the
    others once; tags last (they are united)."""
    kind = pages.kind
    actor = member().actor
    company_ids = [r.company_id for r in (keep, other) if getattr(r, "company_id", None)]
    context = {
        "companies": company_services.company_names(db.session, actor, company_ids),
        "owners": actor_names(db.session, {r.owner_id for r in (keep, other) if r.owner_id}),
        "custom": {d.key: d for d in definitions(db.session, kind.entity)},
    }
    offered = {choice.name: choice for choice in field_choices(kind, keep, other)}
    mine, theirs = merge_values(kind, keep), merge_values(kind, other)
    rows = []
    for name in [*mine, *(name for name in theirs if name not in mine)]:
        choice = offered.get(name)
        keep_value, other_value = mine.get(name), theirs.get(name)
        if choice is None and is_empty(keep_value) and is_empty(other_value):
            continue
        rows.append(
            _Row(
                name=name,
                label=_label(name, context),
                keep=_shown(name, keep_value, context),
                other=_shown(name, other_value, context),
                options=choice.options if choice else (),
                chosen=chosen.get(name, choice.default) if choice else "",
                errors=errors.get(f"fields.{name}", []),
            )
        )
    return rows


def _merge_page(pages: _Pages, record_id: int, other_id: int) -> str | Response:
    kind = pages.kind
    actor = member().actor
    _require_merge_rights(kind.resource)
    keep = record_or_404(pages.fetch, actor, kind.resource, record_id, "edit")
    other = record_or_404(pages.fetch, actor, kind.resource, other_id, "edit")
    if not record_in_scope(actor, kind.resource, "delete", other.owner_id):
        abort(403)
    if keep.id == other.id:
        abort(400)
    form = FlaskForm()
    chosen: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    if form.validate_on_submit():
        chosen = {
            name.removeprefix("field-"): value
            for name, value in request.form.items()
            if name.startswith("field-")
        }
        other_title = _title(kind, other)
        try:
            pages.merge(db.session, actor, keep, other, chosen)
        except InvalidInput as refusal:
            db.session.rollback()
            errors = refusal.details
        except MergeConflict:
            db.session.rollback()
            flash(_("One of the two was merged or deleted meanwhile; nothing changed."), "error")
            return redirect(url_for(pages.list_endpoint))
        else:
            flash(
                _(
                    "%(name)s was merged into this record; everything of it is here now.",
                    name=other_title,
                ),
                "success",
            )
            return redirect(_card_url(pages, keep.id))
    rows = _rows(pages, keep, other, chosen, errors)
    field_errors = {
        key
        for key in errors
        if key.startswith("fields.") and key.removeprefix("fields.") in {r.name for r in rows}
    }
    return render_template(
        "workspace/duplicates/merge.html",
        entity=kind.entity,
        form=form,
        keep={
            "id": keep.id,
            "title": _title(kind, keep),
            "href": _card_url(pages, keep.id),
        },
        other={
            "id": other.id,
            "title": _title(kind, other),
            "href": _card_url(pages, other.id),
        },
        rows=rows,
        tags=_united_tags(keep, other),
        moving=moved_phrases(relation_counts(db.session, kind, other.id)),
        errors=[m for key, messages in errors.items() if key not in field_errors for m in messages],
        has_errors=bool(errors),
        swap=_merge_url(pages, other.id, keep.id),
        list_url=url_for(pages.list_endpoint),
    )


def _united_tags(keep: Any, other: Any) -> list[str]:
    """The tags the merged record will have (all of both, when they fit)."""
    try:
        return normalize_tags([*keep.tags, *other.tags])
    except InvalidInput:
        return [*keep.tags, *other.tags]  # merging says why it can not be done


@bp.route("/contacts/<int:contact_id>/merge/<int:other_id>", methods=["GET", "POST"])
@login_required
def contact_merge(contact_id: int, other_id: int) -> str | Response:
    """Both contacts side by side; merging keeps ``contact_id``."""
    return _merge_page(CONTACT_PAGES, contact_id, other_id)


@bp.route("/companies/<int:company_id>/merge/<int:other_id>", methods=["GET", "POST"])
@login_required
def company_merge(company_id: int, other_id: int) -> str | Response:
    """Both companies side by side; merging keeps ``company_id``."""
    return _merge_page(COMPANY_PAGES, company_id, other_id)
