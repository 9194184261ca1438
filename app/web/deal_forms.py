"""WTForms forms (CSRF-protected) for the deal pages.

The forms check what a browser can get wrong (lengths, characters, numbers, dates) and
keep what was typed; the rules that depend on stored data or the currency (decimals per
currency, a lost stage needs a reason, visible contacts) are the deal services', whose
refusals the views put back on these fields.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from app.web.forms import PlainText, strip

_AMOUNT_RULES = [
    Optional(),
    PlainText(),
    Length(max=40),
    Regexp(r"^[0-9]+(\.[0-9]+)?$", message=_l("Use digits and a decimal point, e.g. 1234.50.")),
]


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _optional_id(value: Any) -> int | None:
    """A select's value as an id ("" -> None); anything else becomes an invalid choice."""
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _blank(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


class StageMoveForm(FlaskForm):
    """Move a deal to another stage (the card's small form)."""

    stage_id = SelectField(_l("Stage"), coerce=_optional_id, validators=[DataRequired()])
    lost_reason = StringField(
        _l("Why was it lost?"),
        filters=[strip],
        validators=[Optional(), PlainText(), Length(max=200)],
    )
    lost_to_competitor = StringField(
        _l("Lost to competitor"),
        filters=[strip],
        validators=[Optional(), PlainText(), Length(max=200)],
    )
    won_amount = StringField(
        _l("Won amount"),
        filters=[strip],
        validators=_AMOUNT_RULES,
        render_kw={"inputmode": "decimal", "dir": "ltr"},
    )

    def values(self, stage_kinds: dict[int, str]) -> dict[str, Any]:
        """The service input: closing fields only for a stage of their kind."""
        data: dict[str, Any] = {"stage_id": self.stage_id.data}
        kind = stage_kinds.get(self.stage_id.data or 0)
        if kind == "lost":
            data["lost_reason"] = _blank(self.lost_reason.data)
            data["lost_to_competitor"] = _blank(self.lost_to_competitor.data)
        if kind == "won" and _blank(self.won_amount.data):
            data["won_amount"] = _blank(self.won_amount.data)
        return data


class DealForm(StageMoveForm):
    """Create or edit a deal."""

    title = StringField(
        _l("Title"),
        filters=[strip],
        validators=[DataRequired(), PlainText(), Length(max=200)],
        render_kw={"autocomplete": "off"},
    )
    amount = StringField(
        _l("Amount"),
        filters=[strip],
        validators=_AMOUNT_RULES,
        render_kw={"inputmode": "decimal", "dir": "ltr", "autocomplete": "off"},
    )
    currency = StringField(
        _l("Currency"),
        filters=[_upper],
        default="EUR",
        validators=[
            DataRequired(),
            Regexp(r"^[A-Z]{3}$", message=_l("Use a three-letter code such as EUR.")),
        ],
        render_kw={"maxlength": 3, "autocapitalize": "characters", "dir": "ltr"},
    )
    probability = IntegerField(
        _l("Probability (%)"),
        validators=[Optional(), NumberRange(min=0, max=100)],
        render_kw={"inputmode": "numeric", "min": 0, "max": 100},
    )
    expected_close_date = DateField(_l("Expected close date"), validators=[Optional()])
    contact_id = SelectField(_l("Contact"), coerce=_optional_id, validators=[Optional()])
    company_id = SelectField(_l("Company"), coerce=_optional_id, validators=[Optional()])
    source = StringField(
        _l("Source"), filters=[strip], validators=[Optional(), PlainText(), Length(max=100)]
    )
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
        render_kw={"rows": 4},
    )

    # Optional here: a new deal without one starts in the default pipeline's first open
    # stage; an unknown id is refused by the service on this field.
    stage_id = SelectField(
        _l("Stage"), coerce=_optional_id, validate_choice=False, validators=[Optional()]
    )

    def values(self, stage_kinds: dict[int, str]) -> dict[str, Any]:
        """Cleaned values for the deal service (blank optional fields -> None; no stage
        named: the default one for a new deal, the current one for an edit)."""
        data = super().values(stage_kinds)
        if data["stage_id"] is None:
            del data["stage_id"]
        data.update(
            title=(self.title.data or "").strip(),
            amount=_blank(self.amount.data),
            currency=self.currency.data,
            probability=self.probability.data,
            expected_close_date=self.expected_close_date.data,
            contact_id=self.contact_id.data,
            company_id=self.company_id.data,
            source=_blank(self.source.data),
            tags=self.tags.data or "",
            notes=_blank(self.notes.data),
        )
        return data
