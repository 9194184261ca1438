"""WTForms forms (CSRF-protected) for the board and the loss reasons settings.

The forms check what a browser can get wrong (ids, lengths, characters); the rules that
depend on stored data (a stage of this pipeline, a lost stage needs a reason, unique
reason names) are the services', whose refusals the views put back on these fields.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.board.models import LOSS_REASON_NAME_MAX
from app.web.deal_forms import _blank, _optional_id
from app.web.forms import PlainText, strip


class BoardMoveForm(FlaskForm):
    """Move one card: the stage it goes to, the stage it was seen in, and why it was
    lost (for a lost stage). Posted by the board's script (drag and drop, and the
    board's one "Move to" dialog) and, without scripts, by the page that asks why a
    deal was lost (``move.html``)."""

    stage_id = SelectField(_l("Move to"), coerce=_optional_id, validators=[DataRequired()])
    from_stage_id = HiddenField(filters=[_optional_id])
    lost_reason = StringField(
        _l("Why was it lost?"),
        filters=[strip],
        validators=[Optional(), PlainText(), Length(max=200)],
        render_kw={"list": "loss-reasons", "autocomplete": "off"},
    )
    lost_to_competitor = StringField(
        _l("Lost to competitor (optional)"),
        filters=[strip],
        validators=[Optional(), PlainText(), Length(max=200)],
    )
    # Where to go back to (the board with its filters); only paths of this site.
    back = HiddenField()

    def values(self, stage_kinds: dict[int, str]) -> dict[str, Any]:
        """The service input: the loss fields only for a lost stage."""
        data: dict[str, Any] = {"stage_id": self.stage_id.data}
        seen = self.from_stage_id.data
        if isinstance(seen, int) and seen > 0:
            data["from_stage_id"] = seen
        if stage_kinds.get(self.stage_id.data or 0) == "lost":
            data["lost_reason"] = _blank(self.lost_reason.data)
            data["lost_to_competitor"] = _blank(self.lost_to_competitor.data)
        return data


class LossReasonForm(FlaskForm):
    """Add or rename a loss reason, or retire it."""

    name = StringField(
        _l("Reason"),
        filters=[strip],
        validators=[DataRequired(), PlainText(), Length(max=LOSS_REASON_NAME_MAX)],
        render_kw={"autocomplete": "off"},
    )
    active = BooleanField(_l("Offered"), default=True)


class LossReasonDeleteForm(FlaskForm):
    """A bare form: the CSRF token of a delete or move button."""

    direction = HiddenField()
