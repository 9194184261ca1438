"""Pages of the apex host: landing and "go to my workspace"."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template
from werkzeug.wrappers import Response

from app.web.forms import FindWorkspaceForm

bp = Blueprint("apex", __name__)


@bp.get("/")
def landing() -> str:
    """What the product is, and the way in."""
    return render_template("apex/landing.html")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    """Ask for the workspace address and send the visitor to its sign-in page.

    Any well-formed address redirects, whether or not it exists, so this page can not be
    used to enumerate customers.
    """
    form = FindWorkspaceForm()
    if form.validate_on_submit():
        scheme = current_app.config.get("PREFERRED_URL_SCHEME", "http")
        server = current_app.config["SERVER_NAME"]
        return redirect(f"{scheme}://{form.slug.data}.{server}/login")
    return render_template("apex/login.html", form=form)
