"""Forms of the account pages (CSRF-protected like every FlaskForm).

Field names differ between forms that share a page (profile, email, password), so that
their ids stay unique and an error lands on the right form.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length

from app.identity.account import LANGUAGES, MAX_NAME_LENGTH, time_zones
from app.identity.passwords import MAX_PASSWORD_LENGTH, MIN_CHOSEN_PASSWORD_LENGTH
from app.web.forms import PlainText, strip

NEW_PASSWORD_HINT = _l(
    "At least %(min)s characters. A few unrelated words are easy to remember and hard to guess.",
    min=MIN_CHOSEN_PASSWORD_LENGTH,
)


def _new_password(label: Any) -> PasswordField:
    return PasswordField(
        label,
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "new-password"},
    )


def _repeat(other: str) -> PasswordField:
    return PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo(other, message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


def _code_field() -> StringField:
    return StringField(
        _l("Code"),
        filters=[strip],
        validators=[DataRequired(), PlainText(), Length(max=64)],
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "text",
            "autocapitalize": "none",
            "spellcheck": "false",
            "dir": "ltr",
        },
    )


class ForgotPasswordForm(FlaskForm):
    """Ask for a reset link."""

    email = EmailField(
        _l("Email"),
        filters=[strip],
        validators=[DataRequired(), PlainText(), Length(max=254), Email()],
        render_kw={"autocomplete": "username", "autofocus": True},
    )


class ResetPasswordForm(FlaskForm):
    """Choose a new password through a reset link."""

    password = _new_password(_l("New password"))
    password_confirm = _repeat("password")


class TwoFactorLoginForm(FlaskForm):
    """The second step of a two-factor sign-in."""

    code = _code_field()


class ProfileForm(FlaskForm):
    """Name, language and time zone."""

    name = StringField(
        _l("Name"),
        filters=[strip],
        validators=[PlainText(), Length(max=MAX_NAME_LENGTH)],
        render_kw={"autocomplete": "name"},
    )
    # Each language named in itself, marked as such for screen readers.
    locale = SelectField(
        _l("Language"),
        choices=[
            SelectChoice(code, name, render_kw={"lang": code}) for code, name in LANGUAGES.items()
        ],
    )
    timezone = SelectField(_l("Time zone"), render_kw={"dir": "ltr"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = [SelectChoice(zone) for zone in sorted(time_zones())]


class EmailChangeForm(FlaskForm):
    """A new address, confirmed by the current password."""

    new_email = EmailField(
        _l("New email"),
        filters=[strip],
        validators=[DataRequired(), PlainText(), Length(max=254), Email()],
        render_kw={"autocomplete": "email"},
    )
    email_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


class PasswordChangeForm(FlaskForm):
    """The current password, and the new one twice."""

    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = _new_password(_l("New password"))
    new_password_confirm = _repeat("new_password")


class ConfirmTotpForm(FlaskForm):
    """The first code from the authenticator app."""

    code = _code_field()


class DisableTotpForm(FlaskForm):
    """Turning two-factor off needs the password and a code."""

    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    code = _code_field()


class RecoveryCodesForm(FlaskForm):
    """New recovery codes need a current code."""

    renew_code = _code_field()


class WorkspaceSecurityForm(FlaskForm):
    """Workspace-wide sign-in rules."""

    require_two_factor = BooleanField(_l("Require two-factor sign-in from every member"))


class EmptyForm(FlaskForm):
    """A form with only its CSRF token (buttons that change something)."""
