"""Pages of the apex host: landing, "go to my workspace", "which are my workspaces?"
and, in development, the outbox of mail kept instead of sent."""

from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from app.database import db
from app.mail.models import OutboxMessage
from app.signup import services as signup_services
from app.web.forms import FindByEmailForm, FindWorkspaceForm

bp = Blueprint("apex", __name__)

OUTBOX_PAGE_SIZE = 25
_LINK = re.compile(r"https?://[^\s<>\"']+")


@bp.get("/")
def landing() -> str:
    """What the product is, and the way in."""
    return render_template("apex/landing.html")


def _login_page(
    form: FindWorkspaceForm, find_form: FindByEmailForm, status: int = 200, **context: object
) -> tuple[str, int]:
    return render_template("apex/login.html", form=form, find_form=find_form, **context), status


@bp.route("/login", methods=["GET", "POST"])
def login() -> tuple[str, int] | Response:
    """Ask for the workspace address and send the visitor to its sign-in page.

    Any well-formed address redirects, whether or not it exists, so this page can not be
    used to enumerate customers.
    """
    form = FindWorkspaceForm()
    if form.validate_on_submit():
        scheme = current_app.config.get("PREFERRED_URL_SCHEME", "http")
        server = current_app.config["SERVER_NAME"]
        return redirect(f"{scheme}://{form.slug.data}.{server}/login")
    return _login_page(
        form, FindByEmailForm(prefix="find", formdata=None), sent=bool(request.args.get("sent"))
    )


@bp.post("/login/find-workspace")
def find_workspace() -> tuple[str, int] | Response:
    """Mail the visitor links to their workspaces.

    The answer is the same whether the address has workspaces or not (and the same
    queries run), so the page does not tell who is a customer.
    """
    find_form = FindByEmailForm(prefix="find")
    form = FindWorkspaceForm(formdata=None)
    if not find_form.validate_on_submit():
        return _login_page(form, find_form)
    allowed = signup_services.mail_workspace_list(
        db.session, email=find_form.email.data or "", ip_address=request.remote_addr
    )
    if not allowed:
        return _login_page(form, find_form, status=429, find_limited=True)
    return redirect(url_for("apex.login", sent=1), code=303)


# ------------------------------------------------------------------ development outbox


def _outbox_enabled() -> bool:
    """Only where mail is kept instead of sent, and never in production."""
    config = current_app.config
    return not config.get("MAIL_SMTP_HOST") and config.get("ENV_NAME") != "production"


def _outbox_message(message_id: int) -> OutboxMessage:
    if not _outbox_enabled():
        abort(404)
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        abort(404)
    return message


def linkify(text: str) -> Markup:
    """Plain text, escaped, with its http(s) addresses made clickable."""
    parts: list[str] = []
    last = 0
    for match in _LINK.finditer(text):
        parts.append(str(escape(text[last : match.start()])))
        url = escape(match.group(0))
        parts.append(f'<a href="{url}" dir="ltr">{url}</a>')
        last = match.end()
    parts.append(str(escape(text[last:])))
    return Markup("".join(parts))  # noqa: S704 - every piece above is escaped


@bp.get("/outbox")
def outbox() -> str:
    """The mail kept by the development outbox, newest first."""
    if not _outbox_enabled():
        abort(404)
    page = request.args.get("page", "1")
    number = int(page) if page.isdigit() and 0 < len(page) < 7 else 1
    number = max(number, 1)
    total = db.session.scalar(select(func.count(OutboxMessage.id))) or 0
    messages = db.session.scalars(
        select(OutboxMessage)
        .order_by(OutboxMessage.id.desc())
        .limit(OUTBOX_PAGE_SIZE)
        .offset((number - 1) * OUTBOX_PAGE_SIZE)
    ).all()
    return render_template(
        "apex/outbox.html",
        messages=messages,
        page=number,
        has_next=number * OUTBOX_PAGE_SIZE < total,
        total=total,
    )


@bp.get("/outbox/<int:message_id>")
def outbox_message(message_id: int) -> str:
    """One kept message: the text part with working links, the HTML part framed."""
    message = _outbox_message(message_id)
    return render_template(
        "apex/outbox_message.html", message=message, text=linkify(message.text_body)
    )


@bp.get("/outbox/<int:message_id>/html")
def outbox_html(message_id: int) -> Response:
    """The HTML part alone, sandboxed: no scripts, no same-origin access."""
    message = _outbox_message(message_id)
    response = Response(message.html_body, mimetype="text/html")
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
