"""Forms of the pipeline settings pages (CSRF-protected).

They check shape (lengths, numbers, choices); the board's rules (one won stage, a lost
and an open one, won = 100 %, stale orders) are :mod:`app.pipelines.services`', whose
refusals land on the same fields.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from app.pipelines.models import ROTTING_DAYS_MAX, STAGE_COLORS
from app.pipelines.services import NAME_MAX
from app.web.forms import PlainText, strip

KIND_LABELS = {"open": _l("Open"), "won": _l("Won"), "lost": _l("Lost")}
COLOR_LABELS = {
    "gray": _l("Gray"),
    "blue": _l("Blue"),
    "teal": _l("Teal"),
    "green": _l("Green"),
    "yellow": _l("Yellow"),
    "orange": _l("Orange"),
    "red": _l("Red"),
    "purple": _l("Purple"),
    "pink": _l("Pink"),
}


class PipelineForm(FlaskForm):
    """Create or rename a pipeline."""

    name = StringField(
        _l("Pipeline name"),
        filters=[strip],
        validators=[DataRequired(), PlainText(), Length(max=NAME_MAX)],
        render_kw={"autocomplete": "off"},
    )


class StageForm(FlaskForm):
    """Add or change a stage (one per row of the settings page, told apart by prefix)."""

    name = StringField(
        _l("Stage name"),
        filters=[strip],
        validators=[DataRequired(), PlainText(), Length(max=NAME_MAX)],
        render_kw={"autocomplete": "off"},
    )
    probability = IntegerField(
        _l("Probability (%)"),
        validators=[Optional(), NumberRange(min=0, max=100)],
        render_kw={"inputmode": "numeric", "min": 0, "max": 100},
    )
    kind = SelectField(_l("Kind"), choices=[SelectChoice(k, v) for k, v in KIND_LABELS.items()])
    color = SelectField(_l("Colour"), choices=[SelectChoice(k, v) for k, v in COLOR_LABELS.items()])
    rotting_days = IntegerField(
        _l("Rotting after (days)"),
        validators=[Optional(), NumberRange(min=1, max=ROTTING_DAYS_MAX)],
        render_kw={"inputmode": "numeric", "min": 1, "max": ROTTING_DAYS_MAX},
    )

    def values(self) -> dict[str, Any]:
        """The fields as the services take them (empty numbers: the kind's default /
        no rotting)."""
        return {
            "name": self.name.data,
            "probability": self.probability.data,
            "kind": self.kind.data,
            "color": self.color.data if self.color.data in STAGE_COLORS else None,
            "rotting_days": self.rotting_days.data,
        }


class MoveForm(FlaskForm):
    """Move a stage one place up or down, from the version the page showed."""

    direction = SelectField(
        choices=[SelectChoice("up", _l("Up")), SelectChoice("down", _l("Down"))]
    )
    version = IntegerField(validators=[InputRequired()])


class DeleteForm(FlaskForm):
    """Delete a stage or pipeline; ``move_to`` is where its deals go."""

    move_to = SelectField(_l("Move its deals to"), choices=[], validate_choice=False)
    confirm = HiddenField(default="1")
