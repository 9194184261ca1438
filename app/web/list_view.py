"""What a contact, company or deal list page shows of its filters: the filter panel,
the active filters as removable chips, the segments menu and what the bulk action bar
offers.

:func:`filter_view` reads the list's query string (or the saved segment it names).
Filters use the grammar of :mod:`app.lists.filters`, in the URL (``GET``), so that the
panel works without scripts and a filtered list can be bookmarked or shared. A bad
value is shown next to its filter and left out: a list page never answers an error for
its own links.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import Select

from app.access.policy import Actor, may
from app.custom_fields import services as custom_fields
from app.custom_fields.models import CustomFieldDefinition
from app.database import db
from app.deals import services as deal_services
from app.errors import InvalidInput
from app.identity.members import team_members
from app.lists import services as segment_services
from app.lists.filters import (
    CONTROL_PARAMS,
    RESOURCES,
    FilterSpec,
    fields_of,
    filtered_query,
    parse_filters,
    sort_options,
    spec_to_args,
)
from app.lists.models import Segment
from app.web.listing import search_text
from tenants.context import require_tenant

LIST_ENDPOINTS = {
    "contact": "workspace.contacts",
    "company": "companies.companies",
    "deal": "deals.deal_list",
}
# Parameters of a list page that are not filters.
PAGE_PARAMS = CONTROL_PARAMS | {"segment"}
OWNER_LABELS = {"me": _l("Me"), "none": _l("Nobody")}
STATUS_LABELS = {"open": _l("Open"), "won": _l("Won"), "lost": _l("Lost")}
YES_NO = {"true": _l("Yes"), "false": _l("No")}


def _actor() -> Actor:
    """The signed-in member as the policy sees them."""
    actor: Actor = current_user.actor
    return actor


@dataclass(frozen=True)
class PanelField:
    """One input of the filter panel."""

    param: str
    label: Any
    kind: str  # text, number, date, days, select
    value: str
    options: tuple[tuple[str, Any], ...] = ()
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Chip:
    """One active filter, and the link that drops it."""

    label: Any
    value: str
    remove_href: str


@dataclass
class FilterView:
    """Everything a list page shows about its filters, segments and bulk actions."""

    entity: str
    spec: FilterSpec
    segment: Segment | None
    errors: dict[str, list[str]]
    segments: list[Segment]
    panel: list[PanelField]
    chips: list[Chip]
    sorts: Any
    owners: list[tuple[str, str]]
    can_bulk: dict[str, bool]
    loose_errors: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        """The list page's endpoint."""
        return LIST_ENDPOINTS[self.entity]

    @property
    def q(self) -> str:
        """The search box's text (part of the filters)."""
        return self.spec.get("q", "")

    @property
    def filtered(self) -> bool:
        """Whether anything narrows the list."""
        return bool(self.spec)

    @property
    def segment_id(self) -> int | None:
        return self.segment.id if self.segment is not None else None

    @property
    def link_args(self) -> dict[str, str]:
        """What a link to this list (another page, another order) must keep."""
        if self.segment is not None:
            return {"segment": str(self.segment.id)}
        return spec_to_args(self.spec)

    @property
    def filter_query(self) -> str:
        """The filters as a query string (posted by the save and bulk forms)."""
        return urlencode(spec_to_args(self.spec))

    @property
    def editable_segment(self) -> bool:
        return self.segment is not None and segment_services.may_edit_segment(
            _actor(), self.segment
        )

    @property
    def replaceable(self) -> list[Segment]:
        """Segments the current filters may be saved into (the member's own, and shared
        ones they may edit)."""
        actor = _actor()
        return [s for s in self.segments if segment_services.may_edit_segment(actor, s)]

    def default_sort(self, fallback: str) -> str:
        """The list's order when the URL names none: the segment's (unless it sorts by a
        custom field deleted since), else ``fallback``."""
        wanted = self.segment.sort if self.segment is not None else None
        return wanted if wanted and wanted.lstrip("-") in self.sorts else fallback

    def query(self) -> Select[Any]:
        """The records shown: the filters within the member's view scope."""
        return filtered_query(db.session, _actor(), self.entity, self.spec)

    def sort_choices(self, base: Any) -> list[tuple[str, Any]]:
        """The page's sort picker, plus last contact time and custom fields."""
        choices = list(base)
        if "last_contacted_at" in self.sorts:
            choices += [
                ("-last_contacted_at", _l("Recently contacted")),
                ("last_contacted_at", _l("Longest not contacted")),
            ]
        for definition in custom_fields.definitions(db.session, self.entity):
            name = f"cf.{definition.key}"
            if name in self.sorts:
                choices += [
                    (name, _("%(field)s ascending", field=definition.label)),
                    (f"-{name}", _("%(field)s descending", field=definition.label)),
                ]
        return choices


# --- reading the query string ----------------------------------------------------------


def _page_args() -> dict[str, str]:
    """The filters typed into the page's URL (blank inputs of the panel dropped, the
    search box cleaned as the list page always did)."""
    args = {
        name: value
        for name, value in request.args.items()
        if name not in PAGE_PARAMS and value.strip()
    }
    if "q" in args:
        q = search_text()
        if q:
            args["q"] = q
        else:
            del args["q"]
    return args


def _checked(entity: str, args: Mapping[str, Any]) -> tuple[FilterSpec, dict[str, list[str]]]:
    """The valid filters of ``args`` and the messages of the bad ones (left out)."""
    try:
        return parse_filters(db.session, entity, args), {}
    except InvalidInput as refusal:
        good = {k: v for k, v in args.items() if k not in refusal.details}
        try:
            return parse_filters(db.session, entity, good), refusal.details
        except InvalidInput:
            return {}, refusal.details


def _segment_of(entity: str) -> Segment | None:
    raw = request.args.get("segment", "")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19):
        return None
    found = segment_services.get_visible_segment(db.session, _actor(), int(raw))
    return found if found is not None and found.entity == entity else None


def filter_view(entity: str) -> FilterView:
    """The filters, segment and bulk options of the ``entity`` list this request shows."""
    actor = _actor()
    segment = _segment_of(entity)
    if segment is not None:
        spec, errors = _checked(entity, segment.filters)
    else:
        spec, errors = _checked(entity, _page_args())
        if request.args.get("segment"):
            errors = {**errors, "segment": [_("That segment is not there (any more).")]}
    definitions = custom_fields.definitions(db.session, entity)
    owners = owner_choices()
    panel = _panel(entity, spec, errors, definitions, owners)
    shown = {f.param for f in panel} | {"q"}
    resource = RESOURCES[entity]
    return FilterView(
        entity=entity,
        spec=spec,
        segment=segment,
        errors=errors,
        segments=segment_services.segments_for(db.session, actor, entity),
        panel=panel,
        chips=_chips(entity, spec, definitions, owners),
        sorts=sort_options(db.session, entity),
        owners=owners,
        can_bulk={
            "edit": may(actor, resource, "edit"),
            "delete": may(actor, resource, "delete"),
        },
        loose_errors=[m for name, ms in errors.items() if name not in shown for m in ms],
    )


# --- the panel and the chips -----------------------------------------------------------


def owner_choices() -> list[tuple[str, str]]:
    """Active members as (user id, name) for the owner pickers."""
    return [
        (str(user.id), user.name or user.email)
        for membership, user in team_members(db.session, require_tenant().id)
        if membership.is_active
    ]


def _builtin_panel(entity: str, owners: list[tuple[str, str]]) -> list[tuple[str, Any, str, Any]]:
    """(parameter, label, kind, options) of the built-in filters the panel offers."""
    owner_options = [("me", _l("Me")), ("none", _l("Nobody")), *owners]
    rows: list[tuple[str, Any, str, Any]] = [
        ("owner_id", _l("Owner"), "select", owner_options),
        ("tag_any", _l("Has any of these tags"), "text", ()),
        ("tag_all", _l("Has all of these tags"), "text", ()),
        ("tag_none", _l("Has none of these tags"), "text", ()),
        ("created_from", _l("Created from"), "date", ()),
        ("created_to", _l("Created until"), "date", ()),
        ("updated_days", _l("Changed in the last … days"), "days", ()),
    ]
    if entity in ("contact", "company"):
        rows.append(("not_contacted_days", _l("Not contacted for … days"), "days", ()))
    if entity == "contact":
        rows += [
            ("email_contains", _l("Email contains"), "text", ()),
            ("title_contains", _l("Job title contains"), "text", ()),
            ("company_name_contains", _l("Company contains"), "text", ()),
            ("source", _l("Source"), "text", ()),
            ("birthday_from", _l("Birthday from"), "date", ()),
            ("birthday_to", _l("Birthday until"), "date", ()),
        ]
    elif entity == "company":
        sizes = [
            (size, size)
            for size in next(f for f in fields_of("company") if f.name == "size").choices
        ]
        rows += [
            ("industry", _l("Industry"), "text", ()),
            ("domain_contains", _l("Domain contains"), "text", ()),
            ("size", _l("Size"), "select", sizes),
        ]
    else:
        stages = [
            (str(stage.id), f"{pipeline.name} · {stage.name}")
            for pipeline in deal_services.pipelines(db.session)
            for stage in deal_services.stages_of(db.session, pipeline.id)
        ]
        rows += [
            ("stage_id", _l("Stage"), "select", stages),
            ("amount_min", _l("Amount at least"), "number", ()),
            ("amount_max", _l("Amount at most"), "number", ()),
            ("probability_min", _l("Probability at least (%)"), "number", ()),
            ("expected_close_from", _l("Expected close from"), "date", ()),
            ("expected_close_to", _l("Expected close until"), "date", ()),
            ("source", _l("Source"), "text", ()),
        ]
    return rows


def _custom_panel(definition: CustomFieldDefinition) -> list[tuple[str, Any, str, Any]]:
    """The panel inputs of one custom field."""
    key, label = f"cf.{definition.key}", definition.label
    if definition.type in ("single_select", "multi_select"):
        return [(key, label, "select", [(o, o) for o in definition.options])]
    if definition.type == "checkbox":
        return [(key, label, "select", [("yes", _l("Yes")), ("no", _l("No"))])]
    if definition.type in ("number", "money"):
        return [
            (f"{key}_min", _("%(field)s at least", field=label), "number", ()),
            (f"{key}_max", _("%(field)s at most", field=label), "number", ()),
        ]
    if definition.type == "date":
        return [
            (f"{key}_from", _("%(field)s from", field=label), "date", ()),
            (f"{key}_to", _("%(field)s until", field=label), "date", ()),
        ]
    return [(f"{key}_contains", _("%(field)s contains", field=label), "text", ())]


def _panel(
    entity: str,
    spec: FilterSpec,
    errors: Mapping[str, list[str]],
    definitions: list[CustomFieldDefinition],
    owners: list[tuple[str, str]],
) -> list[PanelField]:
    rows = _builtin_panel(entity, owners)
    for definition in definitions:
        rows += _custom_panel(definition)
    typed = request.args
    return [
        PanelField(
            param=param,
            label=label,
            kind=kind,
            # What was typed stays in a refused input, so that it can be corrected.
            value=spec.get(param, typed.get(param, "") if param in errors else ""),
            options=tuple(options),
            errors=tuple(errors.get(param, ())),
        )
        for param, label, kind, options in rows
    ]


def _chip_value(
    entity: str,
    name: str,
    value: str,
    owners: Mapping[str, str],
    stages: Mapping[str, str],
) -> str:
    if name == "owner_id":
        return str(OWNER_LABELS.get(value) or owners.get(value) or value)
    if name == "status":
        return ", ".join(str(STATUS_LABELS.get(v, v)) for v in value.split(","))
    if name == "stage_id":
        return stages.get(value, value)
    if name.endswith("_empty"):
        return str(YES_NO.get(value, value))
    if name.endswith("_days"):
        return ngettext("%(num)d day", "%(num)d days", int(value))
    return value.replace(",", ", ")


def _chip_label(entity: str, name: str, definitions: Mapping[str, CustomFieldDefinition]) -> Any:
    """A filter's name as people read it ("Email contains", "Region")."""
    suffixes = {
        "_contains": _l("contains"),
        "_empty": _l("is empty"),
        "_from": _l("from"),
        "_to": _l("until"),
        "_days": _l("in the last"),
        "_min": _l("at least"),
        "_max": _l("at most"),
        "_any": _l("any of"),
        "_all": _l("all of"),
        "_none": _l("none of"),
    }
    if name == "not_contacted_days":
        return _l("Not contacted for")
    if name.startswith("cf."):
        rest = name[3:]
        if rest in definitions:
            return definitions[rest].label
        for suffix, word in suffixes.items():
            base = rest.removesuffix(suffix)
            if base != rest and base in definitions:
                return f"{definitions[base].label} {word}"
        return name
    by_name = {f.name: f.label for f in fields_of(entity)}
    if name in by_name:
        return by_name[name]
    for suffix, word in suffixes.items():
        base = name.removesuffix(suffix)
        if base != name and base in by_name:
            return f"{by_name[base]} {word}"
    return name


def _chips(
    entity: str,
    spec: FilterSpec,
    definitions: list[CustomFieldDefinition],
    owners: list[tuple[str, str]],
) -> list[Chip]:
    by_key = {d.key: d for d in definitions}
    owner_names = dict(owners)
    stages = (
        {
            str(stage.id): stage.name
            for pipeline in deal_services.pipelines(db.session)
            for stage in deal_services.stages_of(db.session, pipeline.id)
        }
        if entity == "deal" and "stage_id" in spec
        else {}
    )
    endpoint = LIST_ENDPOINTS[entity]
    sort = request.args.get("sort")
    chips = []
    for name, value in spec.items():
        if name == "q":
            continue  # the search box shows it
        rest: dict[str, Any] = {k: v for k, v in spec_to_args(spec).items() if k != name}
        if sort:
            rest["sort"] = sort
        chips.append(
            Chip(
                label=_chip_label(entity, name, by_key),
                value=_chip_value(entity, name, value, owner_names, stages),
                remove_href=url_for(endpoint, **rest),
            )
        )
    return chips
