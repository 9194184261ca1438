"""Forms (CSRF-protected) of the list pages: saving a segment, renaming or deleting one,
and the bulk action bar.

The filters travel as the list's query string (``filters``), exactly as the list page
reads them; the services check them again (app.lists.filters), so a hand-edited form
ends as a message, never a server error.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from app.lists.models import BULK_ACTIONS, LIST_ENTITIES
from app.web.forms import PlainText, strip

MAX_FILTER_QUERY = 4000
_ENTITY = Regexp(f"^({'|'.join(LIST_ENTITIES)})$")
_ID = Regexp(r"^[0-9]{1,19}$")


class SegmentSaveForm(FlaskForm):
    """ "Save as segment": a new one, or the current filters into one of yours."""

    entity = HiddenField(validators=[DataRequired(), _ENTITY])
    filters = HiddenField(validators=[Optional(), Length(max=MAX_FILTER_QUERY)])
    sort = HiddenField(validators=[Optional(), Length(max=64)])
    name = StringField(
        _l("Segment name"),
        filters=[strip],
        validators=[Optional(), PlainText(), Length(max=100)],
        render_kw={"autocomplete": "off", "maxlength": 100},
    )
    shared = BooleanField(_l("Share with the team"))
    # "" saves a new segment; a segment id puts these filters into that segment.
    replace = SelectField(_l("Save as"), choices=[], validate_choice=False)


class SegmentEditForm(FlaskForm):
    """Rename a segment, or share it (or stop sharing it)."""

    name = StringField(
        _l("Name"),
        filters=[strip],
        validators=[DataRequired(), PlainText(), Length(max=100)],
        render_kw={"autocomplete": "off", "maxlength": 100},
    )
    shared = BooleanField(_l("Shared with the team"))


class SegmentDeleteForm(FlaskForm):
    """Delete a segment (the form only carries the CSRF token)."""


class BulkForm(FlaskForm):
    """The bulk action bar: what to do, to which records (the checked rows, or every
    record matching the list's filters or segment)."""

    entity = HiddenField(validators=[DataRequired(), _ENTITY])
    action = SelectField(
        _l("Action"),
        choices=[
            SelectChoice("assign_owner", _l("Assign owner")),
            SelectChoice("add_tag", _l("Add tag")),
            SelectChoice("remove_tag", _l("Remove tag")),
            SelectChoice("delete", _l("Delete")),
        ],
        validators=[DataRequired()],
    )
    owner_id = SelectField(_l("New owner"), choices=[], validate_choice=False)
    tag = StringField(
        _l("Tag"),
        filters=[strip],
        validators=[Optional(), PlainText(), Length(max=50)],
        render_kw={"autocomplete": "off", "maxlength": 50},
    )
    all_matching = BooleanField(_l("Every record matching this list"))
    filters = HiddenField(validators=[Optional(), Length(max=MAX_FILTER_QUERY)])
    segment_id = HiddenField(validators=[Optional(), _ID])
    back = HiddenField(validators=[Optional(), Length(max=MAX_FILTER_QUERY)])
    confirmed = HiddenField(validators=[Optional(), Regexp(r"^1$")])


assert {choice.value for choice in BulkForm.action.kwargs["choices"]} == set(BULK_ACTIONS)
