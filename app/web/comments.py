"""Workspace pages: writing, editing and deleting comments on client cards, and what
the card's history panel needs to show them.

The comment box sits in every card's history panel (``timeline/_comment_form.html``)
and posts here; a refusal (an empty text, a mention of someone who may not see the
card) answers this blueprint's own comment page with the text kept and the message on
the field. Thin views: parse, check the policy, fetch through the access helpers, call
the service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.wrappers import Response
from wtforms import HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.comments import mentions
from app.comments import services as comments
from app.comments.models import Comment
from app.database import db
from app.errors import InvalidInput
from app.hosts import workspace_blueprint
from app.web import guards
from app.web.forms import PlainText, show_refusal
from app.web.workspace import member, safe_next

bp = workspace_blueprint("comments", __name__)
guards.install(bp)


class CommentForm(FlaskForm):
    """A comment's text (mention tokens written by ``mentions.js``, or typed)."""

    body = TextAreaField(
        _l("Comment"),
        validators=[
            DataRequired(message=_l("Write a comment.")),
            PlainText(multiline=True),
            Length(max=comments.MAX_BODY),
        ],
        render_kw={"rows": 3, "maxlength": comments.MAX_BODY, "data-mentions": ""},
    )
    next = HiddenField()


class DeleteCommentForm(FlaskForm):
    """A bare CSRF-protected form (deleting a comment)."""

    next = HiddenField()


# --- What the card's history panel shows ------------------------------------------------


@dataclass(slots=True)
class CommentView:
    """One comment as the panel shows it, with what the viewer may do to it."""

    id: int
    html: Markup
    edited: bool
    edit_url: str | None
    delete_url: str | None
    # The card it was written on, when that is another record the viewer may open.
    elsewhere: dict[str, str] | None = None


@dataclass(slots=True)
class CommentPanel:
    """The comment box of a card (None when the viewer may not write) and the comments
    among the panel's events, by event id."""

    form: dict[str, Any] | None
    comments: dict[int, CommentView] = field(default_factory=dict)


_ON_CARD = {
    "contact": _l("On the contact %(name)s"),
    "company": _l("On the company %(name)s"),
    "deal": _l("On the deal %(name)s"),
}


@bp.app_context_processor
def _panel_helpers() -> dict[str, Any]:
    # App-wide: the panel is drawn by the contact, company and deal pages.
    return {"comment_panel": comment_panel}


def comment_panel(timeline: dict[str, Any]) -> CommentPanel:
    """What ``timeline/_panel.html`` needs for comments on the card it shows: the box
    to write one, and each comment event's current text and controls (one query for the
    comments of the page, at most three for the names of the other cards they are on)."""
    if not current_user.is_authenticated:
        return CommentPanel(form=None)
    actor = member().actor
    entity, entity_id = timeline["entity"], timeline["entity_id"]
    form = None
    if comments.may_comment(actor):
        form = {
            "action": url_for(f"comments.{entity}_comment", **{f"{entity}_id": entity_id}),
            "members_url": url_for("api.list_members", **{f"{entity}_id": entity_id}),
            # Only for drawing the textarea (its limits and marker); the hidden fields are
            # written out, so that no id repeats on a card with other forms.
            "form": CommentForm(formdata=None),
            "next": request.full_path.rstrip("?"),
            "id": f"comment-body-{entity}",
        }
    events = [ev.id for ev in timeline["events"] if ev.kind == "comment"]
    found = comments.comments_of_events(db.session, events)
    here = (entity, entity_id)
    others = {comments.card_ref(c) for c in found.values()} - {here}
    labels = comments.visible_card_labels(db.session, actor, others)
    panel = CommentPanel(form=form)
    for event_id, comment in found.items():
        ref = comments.card_ref(comment)
        on_card = ref == here or ref in labels
        view = CommentView(
            id=comment.id,
            html=mentions.render_html(comment.body),
            edited=comment.edited_at is not None,
            edit_url=(
                url_for("comments.comment_edit", comment_id=comment.id)
                if on_card and comments.may_edit(actor, comment)
                else None
            ),
            delete_url=(
                url_for("comments.comment_delete_confirm", comment_id=comment.id)
                if on_card and comments.may_delete(actor, comment)
                else None
            ),
        )
        if ref != here and ref in labels:
            view.elsewhere = {
                "text": str(_ON_CARD[ref[0]] % {"name": labels[ref] or "?"}),
                "href": url_for(
                    comments.DETAIL_ENDPOINTS[ref[0]],
                    **comments.link_values(comment),
                ),
            }
        panel.comments[event_id] = view
    return panel


# --- Pages ------------------------------------------------------------------------------


def _card_or_404(entity: str, record_id: int) -> comments.Card:
    card = comments.get_visible_card(db.session, member().actor, entity, record_id)
    if card is None:
        abort(404)
    return card


def _comment_or_404(comment_id: int) -> Comment:
    found = comments.get_visible_comment(db.session, member().actor, comment_id)
    if found is None:
        abort(404)
    return found


def _card_url(card: comments.Card, comment: Comment | None = None) -> str:
    """The card's page, opened at ``comment`` when given."""
    values = comments.link_values(comment) if comment else card.column()
    return url_for(comments.DETAIL_ENDPOINTS[card.entity], **values)


def _members_url(card: comments.Card) -> str:
    return url_for("api.list_members", **card.column())


def _write(entity: str, record_id: int) -> str | Response | tuple[str, int]:
    """The comment page of a card: GET shows the box alone, POST writes the comment and
    goes back to the card (or shows the box again with the refusal)."""
    card = _card_or_404(entity, record_id)
    actor = member().actor
    if not comments.may_comment(actor):
        abort(403)
    form = CommentForm()
    if form.validate_on_submit():
        try:
            created = comments.create_comment(db.session, actor, card, form.body.data)
        except InvalidInput as refusal:
            db.session.rollback()
            show_refusal(form, refusal)
        else:
            flash(_("Comment posted."), "success")
            return redirect(_card_url(card, created))
    back = safe_next(form.next.data) if form.next.data else _card_url(card)
    status = 400 if request.method == "POST" else 200
    return render_template(
        "workspace/comments/form.html",
        form=form,
        card=card,
        comment=None,
        back=back,
        members_url=_members_url(card),
    ), status


@bp.route("/contacts/<int:contact_id>/comments", methods=["GET", "POST"])
@login_required
def contact_comment(contact_id: int) -> str | Response | tuple[str, int]:
    """Write a comment on a contact's card."""
    return _write("contact", contact_id)


@bp.route("/companies/<int:company_id>/comments", methods=["GET", "POST"])
@login_required
def company_comment(company_id: int) -> str | Response | tuple[str, int]:
    """Write a comment on a company's card."""
    return _write("company", company_id)


@bp.route("/deals/<int:deal_id>/comments", methods=["GET", "POST"])
@login_required
def deal_comment(deal_id: int) -> str | Response | tuple[str, int]:
    """Write a comment on a deal's card."""
    return _write("deal", deal_id)


@bp.route("/comments/<int:comment_id>/edit", methods=["GET", "POST"])
@login_required
def comment_edit(comment_id: int) -> str | Response | tuple[str, int]:
    """Edit a comment (its author only)."""
    comment = _comment_or_404(comment_id)
    actor = member().actor
    if not comments.may_edit(actor, comment):
        abort(403)
    card = comments.card_of(db.session, comment)
    form = CommentForm(body=comment.body)
    if form.validate_on_submit():
        try:
            comments.update_comment(db.session, actor, comment, form.body.data)
        except InvalidInput as refusal:
            db.session.rollback()
            show_refusal(form, refusal)
        else:
            flash(_("Comment saved."), "success")
            return redirect(_card_url(card, comment))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "workspace/comments/form.html",
        form=form,
        card=card,
        comment=comment,
        back=_card_url(card, comment),
        members_url=_members_url(card),
    ), status


@bp.get("/comments/<int:comment_id>/delete")
@login_required
def comment_delete_confirm(comment_id: int) -> str:
    """Ask before deleting a comment."""
    comment = _comment_or_404(comment_id)
    if not comments.may_delete(member().actor, comment):
        abort(403)
    card = comments.card_of(db.session, comment)
    return render_template(
        "workspace/comments/delete.html",
        comment=comment,
        body_html=mentions.render_html(comment.body),
        form=DeleteCommentForm(),
        back=_card_url(card, comment),
    )


@bp.post("/comments/<int:comment_id>/delete")
@login_required
def comment_delete(comment_id: int) -> Response:
    """Delete a comment (its author, or an Owner or Admin)."""
    comment = _comment_or_404(comment_id)
    actor = member().actor
    if not comments.may_delete(actor, comment):
        abort(403)
    if not DeleteCommentForm().validate_on_submit():
        abort(400)
    card = comments.card_of(db.session, comment)
    comments.delete_comment(db.session, actor, comment)
    flash(_("Comment deleted."), "success")
    return redirect(_card_url(card))
