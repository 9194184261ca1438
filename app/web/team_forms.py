"""Forms of the team pages: inviting, roles, deactivation and accepting an invitation.

The same rules as the services (which decide in the end): these only catch what can be
said before any database work, and keep what was typed.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from app.identity.passwords import MAX_PASSWORD_LENGTH
from app.web.forms import PlainText, strip

NO_REASSIGNMENT = ""


class InviteForm(FlaskForm):
    """Invite someone by email, with a role."""

    email = EmailField(
        _l("Email"),
        filters=[strip],
        validators=[DataRequired(), PlainText(), Length(max=254), Email()],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )
    # Choices are the workspace's roles, set by the view; anything else is refused.
    role = SelectField(_l("Role"), validators=[DataRequired()])


class RoleForm(FlaskForm):
    """Give a member another role."""

    role = SelectField(_l("Role"), validators=[DataRequired()])


class DeactivateForm(FlaskForm):
    """Deactivate a member, optionally handing their records to someone."""

    reassign_to = SelectField(_l("Reassign their records to"), validators=[Optional()])

    def reassign_to_id(self) -> int | None:
        """The chosen member's id, or None for "keep them where they are"."""
        value = self.reassign_to.data or NO_REASSIGNMENT
        return int(value) if value.isdigit() else None


class AcceptNewForm(FlaskForm):
    """Accept an invitation with a new account."""

    name = StringField(
        _l("Your name"),
        filters=[strip],
        validators=[DataRequired(), PlainText(), Length(max=200)],
        render_kw={"autocomplete": "name"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[
            DataRequired(),
            EqualTo("password", message=_l("The two passwords differ.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class AcceptExistingForm(FlaskForm):
    """Accept an invitation with the account the invited address already has."""

    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


def choices(pairs: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    """Select choices with their labels as plain strings."""
    return [(value, str(label)) for value, label in pairs]
