"""The company form (CSRF-protected).

Fields are trimmed and refuse control characters like every other form; the rules that
hold for every caller (domain shape, sizes, tags) are checked again by
:mod:`app.companies.services`, whose refusals land on the same fields.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from app.companies.models import COMPANY_SIZES
from app.web.forms import PlainText, strip


def _tags_text(tags: list[str] | None) -> str:
    return ", ".join(tags or [])


class CompanyForm(FlaskForm):
    """Create or edit a company."""

    name = StringField(
        _l("Name"),
        filters=[strip],
        validators=[DataRequired(), PlainText(), Length(max=200)],
        render_kw={"autocomplete": "off"},
    )
    domain = StringField(
        _l("Website domain"),
        filters=[strip],
        validators=[Optional(), PlainText(), Length(max=253)],
        render_kw={
            "autocomplete": "off",
            "inputmode": "url",
            "dir": "ltr",
            "spellcheck": "false",
            "placeholder": "example.com",
        },
    )
    industry = StringField(
        _l("Industry"), filters=[strip], validators=[Optional(), PlainText(), Length(max=100)]
    )
    size = SelectField(
        _l("Size (employees)"),
        choices=[SelectChoice("", _l("Unknown")), *(SelectChoice(size) for size in COMPANY_SIZES)],
        validators=[Optional()],
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
    tags = StringField(
        _l("Tags"),
        filters=[strip],
        validators=[Optional(), PlainText(), Length(max=2000)],
        render_kw={"autocomplete": "off"},
    )
    address = TextAreaField(
        _l("Address"),
        filters=[strip],
        validators=[Optional(), PlainText(multiline=True), Length(max=20000)],
        render_kw={"rows": 3},
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
            # Shown as typed: "VIP, Key account".
            self.tags.data = _tags_text(getattr(obj, "tags", None))
            self.size.data = getattr(obj, "size", None) or ""

    def values(self) -> dict[str, Any]:
        """Cleaned values for the company service (blank -> None for optional fields;
        tags as typed, split by the service's rule)."""

        def clean(value: str | None) -> str | None:
            value = (value or "").strip()
            return value or None

        return {
            "name": (self.name.data or "").strip(),
            "domain": clean(self.domain.data),
            "industry": clean(self.industry.data),
            "size": clean(self.size.data),
            "phone": clean(self.phone.data),
            "tags": self.tags.data or "",
            "address": clean(self.address.data),
            "notes": clean(self.notes.data),
        }
