"""Workspace pages: pipeline settings (pipelines, their stages, order, deletion).

For members whose role may edit pipelines (admins). Every change is a plain form post
that works without JavaScript (move up / move down buttons reorder); with
``pipelines.js`` the stage list is also drag-and-drop, posting the new order to the API
with the version the page showed. A refusal lands on the form's fields; a stale order
(someone else changed the stages) is said so and the page reloads the current board.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app.access.policy import may
from app.database import db
from app.errors import InvalidInput
from app.hosts import workspace_blueprint
from app.pipelines import services as pipeline_services
from app.pipelines.models import Pipeline, Stage
from app.web import guards
from app.web.forms import show_error, show_refusal
from app.web.pipeline_forms import (
    COLOR_LABELS,
    KIND_LABELS,
    DeleteForm,
    MoveForm,
    PipelineForm,
    StageForm,
)
from app.web.workspace import member, plan_limit_message
from billing.limits import PlanLimitExceeded

bp = workspace_blueprint("pipelines", __name__)
guards.install(bp)


@bp.app_context_processor
def _pipelines_nav() -> dict[str, Any]:
    # App-wide: the workspace layout's user menu links here for those who may edit.
    return {"may_edit_pipelines": _may_edit_pipelines}


def _may_edit_pipelines() -> bool:
    return bool(current_user.is_authenticated and may(current_user.actor, "pipelines", "edit"))


def _require(action: str) -> None:
    if not may(member().actor, "pipelines", action):
        abort(403)


def _pipeline_or_404(pipeline_id: int) -> Pipeline:
    pipeline = pipeline_services.get_pipeline(db.session, pipeline_id)
    if pipeline is None:
        abort(404)
    return pipeline


def _stage_or_404(pipeline: Pipeline, stage_id: int) -> Stage:
    stage = pipeline_services.get_stage(db.session, pipeline, stage_id)
    if stage is None:
        abort(404)
    return stage


def _row_ids(form: StageForm, stage: Stage) -> StageForm:
    """Give a row's fields ids of their own (the names are shared by every row, so that
    the handler reads one form; the ids must be unique on the page for the labels)."""
    for item in form:
        item.id = f"stage-{stage.id}-{item.short_name}"
        item.label.field_id = item.id
    return form


def _stage_form(stage: Stage) -> StageForm:
    return _row_ids(StageForm(prefix="stage", obj=stage, formdata=None), stage)


def _settings_page(
    pipeline: Pipeline,
    *,
    forms: dict[int, StageForm] | None = None,
    add_form: StageForm | None = None,
    rename_form: PipelineForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The settings page of one pipeline, with the given forms (carrying errors) in
    place of fresh ones."""
    stages = pipeline_services.stages_in_order(db.session, pipeline.id)
    given = forms or {}
    rows = [(stage, given.get(stage.id) or _stage_form(stage)) for stage in stages]
    html = render_template(
        "workspace/pipelines/settings.html",
        pipeline=pipeline,
        rows=rows,
        counts=pipeline_services.stage_deal_counts(db.session, pipeline.id),
        add_form=add_form or StageForm(prefix="new", formdata=None, kind="open", color="blue"),
        rename_form=rename_form or PipelineForm(obj=pipeline, formdata=None),
        move_form=MoveForm(formdata=None),
        kind_labels=KIND_LABELS,
        color_labels=COLOR_LABELS,
        can_delete=may(member().actor, "pipelines", "delete"),
    )
    return html, status


@bp.get("/settings/pipelines")
@login_required
def pipeline_list() -> str:
    """Every pipeline with its stages at a glance."""
    _require("edit")
    return render_template(
        "workspace/pipelines/list.html",
        pipelines=pipeline_services.list_pipelines(db.session),
        can_create=may(member().actor, "pipelines", "create"),
    )


@bp.route("/settings/pipelines/new", methods=["GET", "POST"])
@login_required
def pipeline_new() -> str | Response | tuple[str, int]:
    """Create a pipeline with the default stages (shows the plan's cap when reached)."""
    _require("create")
    form = PipelineForm()
    if form.validate_on_submit():
        try:
            pipeline = pipeline_services.create_pipeline(
                db.session, member().actor, {"name": form.name.data}
            )
        except InvalidInput as refusal:
            db.session.rollback()
            show_refusal(form, refusal)
        except PlanLimitExceeded as refusal:
            db.session.rollback()
            show_error(form, None, plan_limit_message(refusal))
            return render_template("workspace/pipelines/new.html", form=form), 402
        else:
            flash(_("Pipeline created."), "success")
            return redirect(url_for("pipelines.pipeline_settings", pipeline_id=pipeline.id))
    return render_template("workspace/pipelines/new.html", form=form)


@bp.get("/settings/pipelines/<int:pipeline_id>")
@login_required
def pipeline_settings(pipeline_id: int) -> tuple[str, int]:
    """One pipeline's stages: edit, reorder, add, delete."""
    _require("edit")
    return _settings_page(_pipeline_or_404(pipeline_id))


@bp.post("/settings/pipelines/<int:pipeline_id>/rename")
@login_required
def pipeline_rename(pipeline_id: int) -> Response | tuple[str, int]:
    """Rename a pipeline."""
    _require("edit")
    pipeline = _pipeline_or_404(pipeline_id)
    form = PipelineForm()
    if form.validate_on_submit():
        try:
            pipeline_services.update_pipeline(
                db.session, member().actor, pipeline, {"name": form.name.data}
            )
        except InvalidInput as refusal:
            db.session.rollback()
            show_refusal(form, refusal)
        else:
            flash(_("Pipeline renamed."), "success")
            return redirect(url_for("pipelines.pipeline_settings", pipeline_id=pipeline.id))
    return _settings_page(pipeline, rename_form=form, status=400)


@bp.post("/settings/pipelines/<int:pipeline_id>/default")
@login_required
def pipeline_make_default(pipeline_id: int) -> Response:
    """Make this the pipeline new deals start in."""
    _require("edit")
    pipeline = _pipeline_or_404(pipeline_id)
    if not FlaskForm().validate_on_submit():  # the CSRF token only
        abort(400)
    pipeline_services.update_pipeline(db.session, member().actor, pipeline, {"is_default": True})
    flash(_("%(name)s is now the default pipeline.", name=pipeline.name), "success")
    return redirect(url_for("pipelines.pipeline_settings", pipeline_id=pipeline.id))


def _move_choices(stages: list[Stage], leaving: Stage | None) -> list[SelectChoice]:
    return [
        SelectChoice(str(s.id), f"{s.name} ({KIND_LABELS[s.kind]})")
        for s in stages
        if leaving is None or s.id != leaving.id
    ]


@bp.route("/settings/pipelines/<int:pipeline_id>/delete", methods=["GET", "POST"])
@login_required
def pipeline_delete(pipeline_id: int) -> str | Response | tuple[str, int]:
    """Delete a pipeline, asking where its deals go when it has any."""
    _require("delete")
    pipeline = _pipeline_or_404(pipeline_id)
    deal_count = sum(pipeline_services.stage_deal_counts(db.session, pipeline.id).values())
    targets = [
        SelectChoice(str(s.id), f"{p.name}: {s.name} ({KIND_LABELS[s.kind]})")
        for p in pipeline_services.list_pipelines(db.session)
        if p.id != pipeline.id
        for s in p.stages
    ]
    form = DeleteForm()
    form.move_to.choices = targets
    status = 200
    if form.validate_on_submit():
        move_to = _parse_id(form.move_to.data) if deal_count else None
        try:
            moved = pipeline_services.delete_pipeline(db.session, member().actor, pipeline, move_to)
        except InvalidInput as refusal:
            db.session.rollback()
            show_refusal(form, refusal, {"move_to_stage_id": "move_to"})
            status = 400
        else:
            flash(
                _("The pipeline was deleted; %(n)s deals were moved.", n=moved)
                if moved
                else _("The pipeline was deleted."),
                "success",
            )
            return redirect(url_for("pipelines.pipeline_list"))
    html = render_template(
        "workspace/pipelines/delete.html",
        pipeline=pipeline,
        stage=None,
        form=form,
        deal_count=deal_count,
        has_targets=bool(targets),
    )
    return html, status


def _parse_id(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@bp.post("/settings/pipelines/<int:pipeline_id>/stages")
@login_required
def stage_add(pipeline_id: int) -> Response | tuple[str, int]:
    """Add a stage (after the last open one)."""
    _require("edit")
    pipeline = _pipeline_or_404(pipeline_id)
    form = StageForm(prefix="new")
    if form.validate_on_submit():
        try:
            pipeline_services.add_stage(db.session, member().actor, pipeline, form.values())
        except InvalidInput as refusal:
            db.session.rollback()
            show_refusal(form, refusal, {"stage": "name", "pipeline": "name"})
        else:
            flash(_("Stage added."), "success")
            return redirect(url_for("pipelines.pipeline_settings", pipeline_id=pipeline.id))
    return _settings_page(pipeline, add_form=form, status=400)


@bp.post("/settings/pipelines/<int:pipeline_id>/stages/<int:stage_id>")
@login_required
def stage_update(pipeline_id: int, stage_id: int) -> Response | tuple[str, int]:
    """Save one stage's row (name, probability, kind, colour, rotting time)."""
    _require("edit")
    pipeline = _pipeline_or_404(pipeline_id)
    stage = _stage_or_404(pipeline, stage_id)
    form = _row_ids(StageForm(prefix="stage"), stage)
    if form.validate_on_submit():
        try:
            pipeline_services.update_stage(
                db.session, member().actor, pipeline, stage, form.values()
            )
        except InvalidInput as refusal:
            db.session.rollback()
            show_refusal(form, refusal)
        else:
            flash(_("Stage saved."), "success")
            return redirect(url_for("pipelines.pipeline_settings", pipeline_id=pipeline.id))
    return _settings_page(pipeline, forms={stage.id: form}, status=400)


@bp.post("/settings/pipelines/<int:pipeline_id>/stages/<int:stage_id>/move")
@login_required
def stage_move(pipeline_id: int, stage_id: int) -> Response:
    """Move a stage one place up or down (the keyboard and no-script way to reorder)."""
    _require("edit")
    pipeline = _pipeline_or_404(pipeline_id)
    stage = _stage_or_404(pipeline, stage_id)
    form = MoveForm()
    back = redirect(url_for("pipelines.pipeline_settings", pipeline_id=pipeline.id))
    if not form.validate_on_submit():
        flash(_("That move could not be read; try again."), "error")
        return back
    order = [s.id for s in pipeline_services.stages_in_order(db.session, pipeline.id)]
    index = order.index(stage.id)
    other = index - 1 if form.direction.data == "up" else index + 1
    if not 0 <= other < len(order):
        return back
    order[index], order[other] = order[other], order[index]
    try:
        pipeline_services.reorder_stages(
            db.session, member().actor, pipeline, order, form.version.data
        )
    except pipeline_services.StaleBoard:
        db.session.rollback()
        flash(_("Someone else changed these stages meanwhile; here is the current order."), "error")
    return back


@bp.route(
    "/settings/pipelines/<int:pipeline_id>/stages/<int:stage_id>/delete",
    methods=["GET", "POST"],
)
@login_required
def stage_delete(pipeline_id: int, stage_id: int) -> str | Response | tuple[str, int]:
    """Delete a stage, asking where its deals go when it holds any."""
    _require("edit")
    pipeline = _pipeline_or_404(pipeline_id)
    stage = _stage_or_404(pipeline, stage_id)
    deal_count = pipeline_services.stage_deal_counts(db.session, pipeline.id).get(stage.id, 0)
    form = DeleteForm()
    form.move_to.choices = _move_choices(
        pipeline_services.stages_in_order(db.session, pipeline.id), stage
    )
    status = 200
    if form.validate_on_submit():
        move_to = _parse_id(form.move_to.data) if deal_count else None
        try:
            moved = pipeline_services.delete_stage(
                db.session, member().actor, pipeline, stage, move_to
            )
        except InvalidInput as refusal:
            db.session.rollback()
            show_refusal(form, refusal, {"move_to_stage_id": "move_to"})
            status = 400
        else:
            flash(
                _("The stage was deleted; %(n)s deals were moved.", n=moved)
                if moved
                else _("The stage was deleted."),
                "success",
            )
            return redirect(url_for("pipelines.pipeline_settings", pipeline_id=pipeline.id))
    html = render_template(
        "workspace/pipelines/delete.html",
        pipeline=pipeline,
        stage=stage,
        form=form,
        deal_count=deal_count,
        has_targets=True,
    )
    return html, status
