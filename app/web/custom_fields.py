"""Workspace settings: custom fields (list per record type, add, edit, reorder, delete),
and the values on record cards.

Views stay thin: ask the policy (the role's ``custom_fields`` right: admins manage,
the roles that may view see the list), fetch, call a service, render. A service's
refusal lands on the form field it names; the plan's cap is shown on the form.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.access.policy import may
from app.custom_fields import services as custom_fields
from app.custom_fields.models import CUSTOM_FIELD_ENTITIES, CustomFieldDefinition
from app.database import db
from app.errors import InvalidInput
from app.hosts import workspace_blueprint
from app.web import guards
from app.web.custom_field_forms import (
    ENTITY_LABELS,
    TYPE_LABELS,
    DefinitionEditForm,
    DefinitionForm,
)
from app.web.forms import show_refusal
from app.web.workspace import member, plan_limit_message
from billing.limits import PlanLimitExceeded, usage_report

bp = workspace_blueprint("custom_fields", __name__)
guards.install(bp)


@bp.app_context_processor
def _menu() -> dict[str, Any]:
    # App-wide: the workspace layout links the settings for those who may change them.
    return {
        "may_edit_custom_fields": _may_edit,
        "custom_field_rows": custom_field_rows,
    }


def _may_edit() -> bool:
    return bool(current_user.is_authenticated and may(current_user.actor, "custom_fields", "edit"))


def custom_field_rows(entity: str, values: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A record card's custom fields, in order: label, the value as people read it, and
    a link for web addresses, emails and phones (only an http(s) address is a link)."""
    if not current_user.is_authenticated:
        return []
    values = dict(values or {})
    rows = []
    for definition in custom_fields.definitions(db.session, entity):
        value = values.get(definition.key)
        text = custom_fields.display_value(definition, value)
        href = None
        if isinstance(value, str) and value:
            if definition.type == "url" and urlsplit(value).scheme.lower() in ("http", "https"):
                href = value
            elif definition.type == "email":
                href = f"mailto:{value}"
            elif definition.type == "phone":
                href = "tel:" + value.replace(" ", "")
        rows.append(
            {"label": definition.label, "type": definition.type, "text": text, "href": href}
        )
    return rows


def _require(action: str) -> None:
    if not may(member().actor, "custom_fields", action):
        abort(403)


def _entity_arg(default: str = "contact") -> str:
    entity = request.args.get("entity", default)
    return entity if entity in CUSTOM_FIELD_ENTITIES else default


def _definition_or_404(field_id: int) -> CustomFieldDefinition:
    definition = custom_fields.get_definition(db.session, field_id)
    if definition is None:
        abort(404)
    return definition


def _list_url(entity: str) -> str:
    return url_for("custom_fields.field_list", entity=entity)


@bp.get("/settings/custom-fields")
@login_required
def field_list() -> str:
    """The fields of one record type (tabs switch the type), with the plan's cap."""
    _require("view")
    entity = _entity_arg()
    actor = member().actor
    usage = usage_report(db.session)
    return render_template(
        "workspace/custom_fields/list.html",
        entity=entity,
        fields=custom_fields.definitions(db.session, entity),
        entity_labels=ENTITY_LABELS,
        type_labels=TYPE_LABELS,
        usage=usage["limits"]["custom_fields"],
        can_create=may(actor, "custom_fields", "create"),
        can_edit=may(actor, "custom_fields", "edit"),
        can_delete=may(actor, "custom_fields", "delete"),
    )


@bp.route("/settings/custom-fields/new", methods=["GET", "POST"])
@login_required
def field_new() -> str | Response:
    """Add a field (``?entity=`` picks the record type)."""
    _require("create")
    form = DefinitionForm()
    if request.method == "GET":
        form.entity.data = _entity_arg()
    if form.validate_on_submit():
        try:
            definition = custom_fields.create_definition(db.session, member().actor, form.values())
        except InvalidInput as refusal:
            db.session.rollback()
            show_refusal(form, refusal)
        except PlanLimitExceeded as refusal:
            db.session.rollback()
            form.form_errors = [*form.form_errors, plan_limit_message(refusal)]
        else:
            flash(_("%(label)s was added.", label=definition.label), "success")
            return redirect(_list_url(definition.entity))
    return render_template(
        "workspace/custom_fields/form.html", form=form, field=None, type_labels=TYPE_LABELS
    )


@bp.route("/settings/custom-fields/<int:field_id>/edit", methods=["GET", "POST"])
@login_required
def field_edit(field_id: int) -> str | Response:
    """Change a field's label, required flag, options or position."""
    _require("edit")
    definition = _definition_or_404(field_id)
    form = DefinitionEditForm(obj=definition)
    if form.validate_on_submit():
        try:
            custom_fields.update_definition(
                db.session, member().actor, definition, form.values(definition)
            )
        except InvalidInput as refusal:
            db.session.rollback()
            show_refusal(form, refusal)
        else:
            flash(_("Changes saved."), "success")
            return redirect(_list_url(definition.entity))
    return render_template(
        "workspace/custom_fields/form.html",
        form=form,
        field=definition,
        type_labels=TYPE_LABELS,
        entity_labels=ENTITY_LABELS,
        option_counts=custom_fields.option_counts(db.session, definition),
    )


@bp.post("/settings/custom-fields/<int:field_id>/move")
@login_required
def field_move(field_id: int) -> Response:
    """Move a field one place up or down (``direction``) among its record type's."""
    _require("edit")
    definition = _definition_or_404(field_id)
    direction = request.form.get("direction")
    if direction not in ("up", "down"):
        abort(400)
    ids = [f.id for f in custom_fields.definitions(db.session, definition.entity)]
    at = ids.index(definition.id)
    to = at - 1 if direction == "up" else at + 1
    if 0 <= to < len(ids):
        ids[at], ids[to] = ids[to], ids[at]
        try:
            custom_fields.reorder_definitions(db.session, member().actor, definition.entity, ids)
        except InvalidInput:  # someone added or deleted a field at the same moment
            db.session.rollback()
            flash(_("The fields changed meanwhile; here they are now."), "info")
    return redirect(_list_url(definition.entity))


@bp.get("/settings/custom-fields/<int:field_id>/delete")
@login_required
def field_delete_confirm(field_id: int) -> str:
    """Ask before deleting, saying how many records would lose their value."""
    _require("delete")
    definition = _definition_or_404(field_id)
    return render_template(
        "workspace/custom_fields/delete.html",
        field=definition,
        entity_labels=ENTITY_LABELS,
        count=custom_fields.count_values(db.session, definition),
    )


@bp.post("/settings/custom-fields/<int:field_id>/delete")
@login_required
def field_delete(field_id: int) -> Response:
    """Delete a field and its values."""
    _require("delete")
    definition = _definition_or_404(field_id)
    label, entity = definition.label, definition.entity
    cleared = custom_fields.delete_definition(db.session, member().actor, definition)
    flash(
        ngettext(
            "%(label)s was deleted, with its value on %(num)s record.",
            "%(label)s was deleted, with its values on %(num)s records.",
            cleared,
            label=label,
        ),
        "success",
    )
    return redirect(_list_url(entity))
