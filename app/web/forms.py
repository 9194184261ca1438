"""WTForms forms (CSRF-protected) for the pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp


class LoginForm(FlaskForm):
    """Workspace sign-in."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(_l("Remember me"))


class FindWorkspaceForm(FlaskForm):
    """Apex sign-in: which workspace?"""

    slug = StringField(
        _l("Workspace address"),
        validators=[DataRequired(), Length(min=3, max=40), Regexp(r"^[a-z0-9-]+$", message=_l("Use lowercase letters, digits and hyphens."))],
    )


class ContactForm(FlaskForm):
    """Create or edit a contact."""

    first_name = StringField(_l("First name"), validators=[Optional(), Length(max=100)])
    last_name = StringField(_l("Last name"), validators=[Optional(), Length(max=100)])
    email = EmailField(_l("Email"), validators=[Optional(), Email(), Length(max=254)])
    phone = StringField(
        _l("Phone"),
        validators=[Optional(), Length(max=40), Regexp(r"^[0-9+()\-. /x]*$", message=_l("Use digits, spaces and + ( ) - . only."))],
    )
    title = StringField(_l("Job title"), validators=[Optional(), Length(max=150)])
    company_name = StringField(_l("Company"), validators=[Optional(), Length(max=200)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=20000)])

    def validate(self, extra_validators: object = None) -> bool:
        """Field checks, plus: a contact needs a name or an email."""
        ok = super().validate(extra_validators=extra_validators)
        if ok and not (self.first_name.data or self.last_name.data or self.email.data):
            self.first_name.errors = [*self.first_name.errors, str(_l("Give at least a name or an email."))]
            return False
        return ok

    def values(self) -> dict[str, str | None]:
        """Cleaned values for the contact service (blank -> None for optional fields)."""
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
            "notes": clean(self.notes.data),
        }
