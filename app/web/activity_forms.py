"""The activity form of the pages (one form for the five types; the services decide
which fields each type may have, and their refusals land on the fields).

Times are typed as local times (``datetime-local``) in the member's time zone and turned
into aware datetimes here, before any service sees them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from app.activities.services import ACTIVITY_TYPE_LABELS
from app.web.forms import PlainText, strip

TIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
PRIORITY_CHOICES = [
    SelectChoice("low", _l("Low")),
    SelectChoice("normal", _l("Normal")),
    SelectChoice("high", _l("High")),
]
DIRECTION_CHOICES = [
    SelectChoice("", "—"),
    SelectChoice("outbound", _l("Outbound")),
    SelectChoice("inbound", _l("Inbound")),
]


def _id_or_none(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip()[:19])
    return None


class ActivityForm(FlaskForm):
    """Log a call, meeting, email or note, or add a task."""

    type = SelectField(
        _l("Type"),
        choices=[SelectChoice(key, label) for key, label in ACTIVITY_TYPE_LABELS.items()],
        validators=[InputRequired()],
    )
    subject = StringField(
        _l("Subject"), filters=[strip], validators=[Optional(), PlainText(), Length(max=300)]
    )
    body = TextAreaField(
        _l("Details"),
        validators=[Optional(), PlainText(multiline=True), Length(max=20000)],
        render_kw={"rows": 5},
    )
    occurred_at = DateTimeLocalField(_l("When"), format=TIME_FORMATS, validators=[Optional()])
    ends_at = DateTimeLocalField(_l("Ends"), format=TIME_FORMATS, validators=[Optional()])
    location = StringField(
        _l("Location"), filters=[strip], validators=[Optional(), PlainText(), Length(max=300)]
    )
    attendees = TextAreaField(
        _l("Attendees (one per line)"),
        validators=[Optional(), PlainText(multiline=True), Length(max=12000)],
        render_kw={"rows": 3},
    )
    direction = SelectField(_l("Direction"), choices=DIRECTION_CHOICES, default="")
    duration_minutes = IntegerField(
        _l("Duration (minutes)"),
        validators=[Optional(), NumberRange(min=0, max=1440)],
        render_kw={"inputmode": "numeric", "min": 0, "max": 1440},
    )
    outcome = StringField(
        _l("Outcome"), filters=[strip], validators=[Optional(), PlainText(), Length(max=100)]
    )
    due_at = DateTimeLocalField(_l("Due"), format=TIME_FORMATS, validators=[Optional()])
    priority = SelectField(_l("Priority"), choices=PRIORITY_CHOICES, default="normal")
    remind_at = DateTimeLocalField(_l("Remind me"), format=TIME_FORMATS, validators=[Optional()])
    assignee_id = SelectField(_l("Assigned to"), choices=[], validate_choice=False)
    contact_id = HiddenField()
    company_id = HiddenField()
    deal_id = HiddenField()
    next = HiddenField()

    def validate_attendees(self, field: Any) -> None:
        """At most 50 names, each of at most 200 characters."""
        names = self.attendee_list()
        if len(names) > 50 or any(len(n) > 200 for n in names):
            raise ValueError(str(_l("Give at most 50 names of at most 200 characters.")))

    def attendee_list(self) -> list[str]:
        """The attendees typed, one a line, blanks dropped."""
        raw = self.attendees.data or ""
        return [line.strip() for line in raw.splitlines() if line.strip()]

    def values(self, zone: ZoneInfo) -> dict[str, Any]:
        """What the services take for the chosen type: only that type's fields, times made
        aware in ``zone``. Fields of other types are left out (the page shows all of them,
        scripts hide the irrelevant ones; a value typed there is not an error)."""
        from app.activities.services import COMMON_FIELDS, TYPE_FIELDS

        def aware(value: dt.datetime | None) -> dt.datetime | None:
            return value.replace(tzinfo=zone) if value is not None else None

        kind = self.type.data or "note"
        minutes = self.duration_minutes.data
        everything: dict[str, Any] = {
            "type": kind,
            "subject": self.subject.data or "",
            "body": self.body.data or None,
            "occurred_at": aware(self.occurred_at.data),
            "ends_at": aware(self.ends_at.data),
            "location": self.location.data or None,
            "attendees": self.attendee_list(),
            "direction": self.direction.data or None,
            "duration_seconds": minutes * 60 if minutes is not None else None,
            "outcome": self.outcome.data or None,
            "due_at": aware(self.due_at.data),
            "priority": self.priority.data or "normal",
            "remind_at": aware(self.remind_at.data),
            "assignee_id": _id_or_none(self.assignee_id.data),
            "contact_id": _id_or_none(self.contact_id.data),
            "company_id": _id_or_none(self.company_id.data),
            "deal_id": _id_or_none(self.deal_id.data),
        }
        keep = {"type", *COMMON_FIELDS, *TYPE_FIELDS.get(kind, ())} - {"done", "result_note"}
        return {k: v for k, v in everything.items() if k in keep}


class CompleteTaskForm(FlaskForm):
    """Mark a task done, with an optional note about how it went."""

    result_note = TextAreaField(
        _l("Result"),
        validators=[Optional(), PlainText(multiline=True), Length(max=20000)],
        render_kw={"rows": 2},
    )
    next = HiddenField()


class ConfirmForm(FlaskForm):
    """A bare CSRF-protected form (reopen, delete)."""

    next = HiddenField()
