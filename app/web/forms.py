"""WTForms forms (CSRF-protected) for the pages.

Every text field is trimmed and refuses control characters (PostgreSQL can not store a
NUL, and the others are never wanted), so whatever a person types ends as a field
error or a saved value, never as a server error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    Field,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp, StopValidation

from app.errors import InvalidInput
from app.input_rules import CONTROL_ANY, CONTROL_EXCEPT_LINE_BREAKS


def strip(value: Any) -> Any:
    """Trim surrounding whitespace from submitted text."""
    return value.strip() if isinstance(value, str) else value


class PlainText:
    """Refuse control characters (line breaks only where ``multiline``)."""

    def __init__(self, multiline: bool = False) -> None:
        self.pattern = CONTROL_EXCEPT_LINE_BREAKS if multiline else CONTROL_ANY

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if isinstance(field.data, str) and self.pattern.search(field.data):
            # Stop here: the format checks after this one would only repeat the complaint.
            raise StopValidation(str(_l("Remove the invisible control characters.")))


def show_error(form: FlaskForm, field: str | None, message: str) -> None:
    """Put a service's refusal on the field it names, else on the whole form (also when
    the field is not on this form, or is the CSRF token). A nested name such as
    ``custom_fields.tier`` lands on the input ``custom_fields-tier`` (WTForms' way of
    naming nested inputs)."""
    if field:
        field = field.replace(".", "-")
    target = form._fields.get(field) if field and field != "csrf_token" else None
    if target is not None:
        target.errors = [*target.errors, message]
    else:
        form.form_errors = [*form.form_errors, message]


def show_refusal(
    form: FlaskForm, refusal: InvalidInput, rename: Mapping[str, str] | None = None
) -> None:
    """Every message of a service's refusal on its field (``rename`` maps a service
    field to the form field that shows it)."""
    for name, messages in refusal.details.items():
        for message in messages:
            show_error(form, (rename or {}).get(name, name), message)


def workspace_slug(value: Any) -> Any:
    """Accept what people paste: ``acme``, ``acme.<domain>`` or a full workspace URL."""
    if not isinstance(value, str):
        return value
    slug = value.strip().lower()
    slug = re.sub(r"^[a-z][a-z0-9+.-]*://", "", slug)
    slug = slug.split("/", 1)[0]
    server = str(current_app.config.get("SERVER_NAME") or "").lower()
    for suffix in (f".{server}", f".{server.split(':', 1)[0]}"):
        if server and slug.endswith(suffix):
            slug = slug[: -len(suffix)]
            break
    return slug


class LoginForm(FlaskForm):
    """Workspace sign-in."""

    email = EmailField(
        _l("Email"),
        filters=[strip],
        validators=[DataRequired(), PlainText(), Length(max=254), Email()],
        render_kw={"autocomplete": "username", "autofocus": True},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField(_l("Remember me"))


class FindWorkspaceForm(FlaskForm):
    """Apex sign-in: which workspace?"""

    slug = StringField(
        _l("Workspace address"),
        filters=[workspace_slug],
        validators=[
            DataRequired(),
            PlainText(),
            Length(min=3, max=40),
            Regexp(
                r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
                message=_l("Use lowercase letters, digits and hyphens."),
            ),
        ],
        render_kw={
            "autocomplete": "off",
            "autocapitalize": "none",
            "spellcheck": "false",
            "autofocus": True,
            "placeholder": _l("your-team"),
        },
    )


class FindByEmailForm(FlaskForm):
    """Apex sign-in: "which workspaces am I in?", answered by mail."""

    email = EmailField(
        _l("Email"),
        filters=[strip],
        validators=[DataRequired(), PlainText(), Length(max=254), Email()],
        render_kw={"autocomplete": "email", "dir": "ltr"},
    )


class ContactForm(FlaskForm):
    """Create or edit a contact."""

    first_name = StringField(
        _l("First name"),
        filters=[strip],
        validators=[Optional(), PlainText(), Length(max=100)],
        render_kw={"autocomplete": "off"},
    )
    last_name = StringField(
        _l("Last name"),
        filters=[strip],
        validators=[Optional(), PlainText(), Length(max=100)],
        render_kw={"autocomplete": "off"},
    )
    email = EmailField(
        _l("Email"),
        filters=[strip],
        validators=[Optional(), PlainText(), Length(max=254), Email()],
        render_kw={"autocomplete": "off"},
    )
    phone = StringField(
        _l("Phone"),
        filters=[strip],
        validators=[
            Optional(),
            PlainText(),
            Length(max=40),
            Regexp(r"^[0-9+()\-. /x]*$", message=_l("Use digits, spaces and + ( ) - . only.")),
        ],
        render_kw={"autocomplete": "off", "inputmode": "tel", "dir": "ltr"},
    )
    title = StringField(
        _l("Job title"), filters=[strip], validators=[Optional(), PlainText(), Length(max=150)]
    )
    # The company record, chosen from the visible companies (the page fills the choices
    # when there are few enough for a list; otherwise people type the name).
    company_id = SelectField(_l("Company"), choices=[], validate_choice=False)
    company_lookup = StringField(
        _l("Company"),
        filters=[strip],
        validators=[Optional(), PlainText(), Length(max=253)],
        render_kw={"autocomplete": "off", "list": "company-options"},
    )
    company_name = StringField(
        _l("Company name (not in the CRM)"),
        filters=[strip],
        validators=[Optional(), PlainText(), Length(max=200)],
    )
    source = StringField(
        _l("Source"), filters=[strip], validators=[Optional(), PlainText(), Length(max=100)]
    )
    birthday = DateField(_l("Birthday"), validators=[Optional()])
    tags = StringField(
        _l("Tags"),
        filters=[strip],
        validators=[Optional(), PlainText(), Length(max=2000)],
        render_kw={"autocomplete": "off"},
    )
    notes = TextAreaField(
        _l("Notes"),
        filters=[strip],
        validators=[Optional(), PlainText(multiline=True), Length(max=20000)],
        render_kw={"rows": 5},
    )

    def __init__(self, *args: Any, obj: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, obj=obj, **kwargs)
        if obj is not None and not self.is_submitted():
            self.tags.data = ", ".join(getattr(obj, "tags", None) or [])
            company_id = getattr(obj, "company_id", None)
            self.company_id.data = str(company_id) if company_id else ""

    def validate(self, extra_validators: Any = None) -> bool:
        """Field checks, plus: a contact needs a name or an email."""
        ok = super().validate(extra_validators=extra_validators)
        if ok and not (self.first_name.data or self.last_name.data or self.email.data):
            self.first_name.errors = [
                *self.first_name.errors,
                str(_l("Give at least a name or an email.")),
            ]
            return False
        return ok

    def values(self) -> dict[str, Any]:
        """Cleaned values for the contact service (blank -> None for optional fields).

        The company record is not among them: the page resolves ``company_id`` or
        ``company_lookup`` to an id first."""

        def clean(value: str | None) -> str | None:
            value = (value or "").strip()
            return value or None

        return {
            "first_name": (self.first_name.data or "").strip(),
            "last_name": (self.last_name.data or "").strip(),
            "email": (clean(self.email.data) or "").lower() or None,
            "phone": clean(self.phone.data),
            "title": clean(self.title.data),
            "company_name": clean(self.company_name.data),
            "source": clean(self.source.data),
            "birthday": self.birthday.data,
            "tags": self.tags.data or "",
            "notes": clean(self.notes.data),
        }
