"""Workspace pages of the lists: saving, renaming and deleting segments, and bulk
edits (with a confirmation page that states the count, and a progress page for large
ones).

The list pages themselves are the contact, company and deal views; what they show of
filters and segments comes from :mod:`app.web.list_view`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app.access.policy import may
from app.database import db
from app.errors import InvalidInput
from app.hosts import workspace_blueprint
from app.lists import bulk
from app.lists import services as segment_services
from app.lists.filters import RESOURCES
from app.lists.models import BulkEdit, Segment
from app.web import guards
from app.web.list_forms import BulkForm, SegmentDeleteForm, SegmentEditForm, SegmentSaveForm
from app.web.list_view import LIST_ENDPOINTS, owner_choices
from app.web.workspace import member, safe_next

bp = workspace_blueprint("lists", __name__)
guards.install(bp)


# --- segments -------------------------------------------------------------------------


def _list_url(entity: str, **args: Any) -> str:
    return url_for(LIST_ENDPOINTS[entity], **args)


def _query_args(query: str | None) -> dict[str, str]:
    """A posted query string as parameters (the first of a repeated one)."""
    args: dict[str, str] = {}
    for name, value in parse_qsl(query or "", keep_blank_values=False):
        args.setdefault(name, value)
    return args


def _flash_refusal(refusal: InvalidInput) -> None:
    """A service's refusal as messages on the page the member goes back to (a filter's
    message names the filter)."""
    for name, messages in refusal.details.items():
        for message in messages:
            if name.startswith(("filters.", "filter.")):
                message = _("%(name)s: %(message)s", name=name.split(".", 1)[1], message=message)
            flash(message, "error")


def _segment_or_404(segment_id: int, *, edit: bool = False) -> Segment:
    segment = segment_services.get_visible_segment(db.session, member().actor, segment_id)
    if segment is None:
        abort(404)
    if edit and not segment_services.may_edit_segment(member().actor, segment):
        abort(403)
    return segment


@bp.post("/lists/segments")
@login_required
def segment_save() -> Response:
    """Save the list's filters as a new segment, or into one of the member's own."""
    form = SegmentSaveForm()
    if not form.validate_on_submit():
        abort(400)
    entity = form.entity.data or ""
    if not may(member().actor, RESOURCES[entity], "view"):
        abort(403)
    filters = _query_args(form.filters.data)
    back = _list_url(entity, **filters)
    data: dict[str, Any] = {"filters": filters, "sort": form.sort.data or None}
    try:
        if form.replace.data:
            raw = form.replace.data
            if not (raw.isascii() and raw.isdigit() and len(raw) <= 19):
                abort(400)
            segment = _segment_or_404(int(raw), edit=True)
            if segment.entity != entity:
                abort(400)
            segment_services.update_segment(db.session, member().actor, segment, data)
            flash(_("Segment “%(name)s” now uses these filters.", name=segment.name), "success")
        else:
            data.update(entity=entity, name=form.name.data or "", shared=bool(form.shared.data))
            segment = segment_services.create_segment(db.session, member().actor, data)
            flash(_("Segment “%(name)s” saved.", name=segment.name), "success")
    except InvalidInput as refusal:
        db.session.rollback()
        _flash_refusal(refusal)
        return redirect(back)
    return redirect(_list_url(entity, segment=segment.id))


@bp.post("/lists/segments/<int:segment_id>")
@login_required
def segment_edit(segment_id: int) -> Response:
    """Rename a segment, or (un)share it."""
    segment = _segment_or_404(segment_id, edit=True)
    form = SegmentEditForm()
    if form.validate_on_submit():
        try:
            segment_services.update_segment(
                db.session,
                member().actor,
                segment,
                {"name": form.name.data or "", "shared": bool(form.shared.data)},
            )
        except InvalidInput as refusal:
            db.session.rollback()
            _flash_refusal(refusal)
        else:
            flash(_("Segment saved."), "success")
    else:
        for messages in form.errors.values():
            for message in messages:
                flash(str(message), "error")
    return redirect(_list_url(segment.entity, segment=segment.id))


@bp.post("/lists/segments/<int:segment_id>/delete")
@login_required
def segment_delete(segment_id: int) -> Response:
    """Delete a segment (its records stay)."""
    segment = _segment_or_404(segment_id, edit=True)
    form = SegmentDeleteForm()
    if not form.validate_on_submit():
        abort(400)
    entity, name = segment.entity, segment.name
    segment_services.delete_segment(db.session, member().actor, segment)
    flash(_("Segment “%(name)s” deleted.", name=name), "success")
    return redirect(_list_url(entity))


# --- bulk edits -----------------------------------------------------------------------


def _selection(form: BulkForm) -> dict[str, Any]:
    """The selection the bar posted: checked rows, or everything matching."""
    if form.all_matching.data:
        if form.segment_id.data:
            return {"segment_id": int(form.segment_id.data)}
        return {"filter": _query_args(form.filters.data)}
    ids = [raw for raw in request.form.getlist("ids") if raw.isascii() and raw.isdigit()]
    return {"ids": [int(raw) for raw in ids if len(raw) <= 19]}


def _params(form: BulkForm) -> dict[str, Any]:
    data: dict[str, Any] = {"action": form.action.data}
    if form.action.data == "assign_owner":
        raw = form.owner_id.data or ""
        if raw == "none":
            data["owner_id"] = None
        elif raw.isascii() and raw.isdigit() and len(raw) <= 19:
            data["owner_id"] = int(raw)
    elif form.action.data in ("add_tag", "remove_tag"):
        data["tag"] = form.tag.data or ""
    return data


def _done_message(job: BulkEdit) -> str:
    words = {
        "assign_owner": ngettext(
            "%(num)d record got its new owner.", "%(num)d records got their new owner.", job.changed
        ),
        "add_tag": ngettext("%(num)d record tagged.", "%(num)d records tagged.", job.changed),
        "remove_tag": ngettext(
            "%(num)d record untagged.", "%(num)d records untagged.", job.changed
        ),
        "delete": ngettext("%(num)d record deleted.", "%(num)d records deleted.", job.changed),
    }
    parts = [words[job.action]]
    if job.unchanged:
        parts.append(
            ngettext(
                "%(num)d was already as asked.", "%(num)d were already as asked.", job.unchanged
            )
        )
    if job.not_allowed:
        parts.append(
            ngettext(
                "%(num)d you may not change was left alone.",
                "%(num)d you may not change were left alone.",
                job.not_allowed,
            )
        )
    return " ".join(parts)


@bp.post("/lists/bulk")
@login_required
def bulk_edit() -> str | Response:
    """Apply the bar's action. Deleting, and anything over every matching record, first
    asks again on a page that states how many records it will touch."""
    form = BulkForm()
    form.owner_id.choices = [
        SelectChoice(value, label) for value, label in [("none", _("Nobody")), *owner_choices()]
    ]
    if not form.validate_on_submit():
        abort(400)
    entity = form.entity.data or ""
    resource = RESOURCES[entity]
    action = form.action.data or ""
    if not may(member().actor, resource, bulk.ACTION_RIGHT[action]):
        abort(403)
    back = safe_next(form.back.data) if form.back.data else _list_url(entity)
    data = {**_params(form), **_selection(form)}
    if not data.get("ids") and not form.all_matching.data:
        flash(_("Tick the records first (or choose every record matching the list)."), "error")
        return redirect(back)
    actor = member().actor
    try:
        if not form.confirmed.data and (form.all_matching.data or action == "delete"):
            bulk.read_params(db.session, actor, entity, action, data)
            selection = bulk.read_selection(db.session, actor, entity, data)
            count = bulk.count_selected(db.session, actor, entity, selection)
            return render_template(
                "workspace/lists/bulk_confirm.html",
                form=form,
                entity=entity,
                action=action,
                count=count,
                ids=data.get("ids") or [],
                owner_name=dict(owner_choices()).get(form.owner_id.data or ""),
                back=back,
            )
        job = bulk.start_bulk_edit(db.session, actor, entity, data)
    except InvalidInput as refusal:
        db.session.rollback()
        _flash_refusal(refusal)
        return redirect(back)
    if not bulk.in_background(job):
        flash(_done_message(job), "success")
        return redirect(back)
    return redirect(url_for("lists.bulk_progress", bulk_edit_id=job.id, back=back))


def _job_or_404(bulk_edit_id: int) -> BulkEdit:
    job = bulk.get_own_bulk_edit(db.session, member().actor, bulk_edit_id)
    if job is None:
        abort(404)
    return job


@bp.get("/lists/bulk/<int:bulk_edit_id>")
@login_required
def bulk_progress(bulk_edit_id: int) -> str:
    """How far a large bulk edit got (reloads itself, or lists.js polls, until done)."""
    job = _job_or_404(bulk_edit_id)
    back = request.args.get("back")
    target = safe_next(back) if back else _list_url(job.entity)
    return render_template(
        "workspace/lists/bulk_progress.html",
        job=job,
        progress=bulk.progress(job),
        summary=_done_message(job) if job.status == "done" else None,
        back=target,
    )


@bp.get("/lists/bulk/<int:bulk_edit_id>/status")
@login_required
def bulk_status(bulk_edit_id: int) -> Response:
    """The progress of a bulk edit as JSON (polled by the progress page)."""
    return jsonify(bulk.progress(_job_or_404(bulk_edit_id)))
