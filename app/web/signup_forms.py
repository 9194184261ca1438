"""The signup form: shape checks only (the service checks what needs the database)."""

from __future__ import annotations

import secrets
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, Field, HiddenField, PasswordField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, StopValidation

from app.signup.slugs import slug_problem
from app.web.forms import PlainText, strip

FORM_ID_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def new_form_id() -> str:
    """A random id for one filled-in form (double submits of it are recognised)."""
    return secrets.token_urlsafe(18)


def _form_id(value: Any) -> Any:
    """Keep a well-formed form id; replace anything else with a fresh one."""
    if isinstance(value, str) and 16 <= len(value) <= 64 and set(value) <= FORM_ID_ALPHABET:
        return value
    return new_form_id()


class WorkspaceAddress:
    """The workspace address rules of :mod:`tenants.naming`, explained."""

    def __call__(self, form: FlaskForm, field: Field) -> None:
        problem = slug_problem(field.data or "")
        if problem is not None:
            raise StopValidation(problem)


class SignupForm(FlaskForm):
    """Company, workspace address, owner and plan."""

    company_name = StringField(
        _l("Company name"),
        filters=[strip],
        validators=[DataRequired(), PlainText(), Length(max=200)],
        render_kw={"autocomplete": "organization", "autofocus": True},
    )
    slug = StringField(
        _l("Workspace address"),
        filters=[strip],
        validators=[DataRequired(), PlainText(), WorkspaceAddress()],
        render_kw={
            "autocomplete": "off",
            "autocapitalize": "none",
            "spellcheck": "false",
            "maxlength": 40,
            "placeholder": _l("your-team"),
        },
    )
    owner_name = StringField(
        _l("Your name"),
        filters=[strip],
        validators=[DataRequired(), PlainText(), Length(max=200)],
        render_kw={"autocomplete": "name"},
    )
    email = EmailField(
        _l("Work email"),
        filters=[strip],
        validators=[DataRequired(), PlainText(), Length(max=254), Email()],
        render_kw={"autocomplete": "email", "dir": "ltr"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "new-password", "minlength": 10},
    )
    plan = RadioField(
        _l("Plan"),
        choices=[
            SelectChoice(
                "free", _l("Free: up to 2 users and 500 contacts, for as long as you like")
            ),
            SelectChoice(
                "pro_trial", _l("Pro, free for 14 days: up to 25 users, then choose a plan")
            ),
        ],
        default="free",
        validators=[DataRequired()],
    )
    # Hidden from people (visually and from assistive technology); bots fill it in.
    website = StringField(
        _l("Leave this field empty"),
        render_kw={"tabindex": "-1", "autocomplete": "off"},
    )
    form_id = HiddenField(filters=[_form_id], default=new_form_id)
