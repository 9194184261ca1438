"""What an export holds: per kind of record, its columns in a stable order.

Every standard field gets a column with a readable header; the owner appears as a name
and an email (ids mean nothing in a spreadsheet), linked records by their names, tags
joined with ", " (a tag never holds a comma, so the cell reads back into the same tags),
then one column per custom field definition, in the definitions' order. Timestamps are
in UTC and say so in their header.

The rows come from the lists' ``filtered_query`` (the records the actor may export that
match the filter), narrowed to the needed columns and ordered by id: creation order, a
stable order that a primary-key scan streams without sorting a million rows first.
Linked companies and contacts are joined only when the actor may view them, so an export
never names a record its reader could not open.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import Executable

from app.access.policy import Actor, owner_condition, scope_for
from app.companies.models import Company
from app.contacts.models import Contact
from app.custom_fields.models import CustomFieldDefinition
from app.custom_fields.services import definitions, display_value
from app.database import DbSession
from app.deals.models import Deal
from app.deals.money import from_minor
from app.exports.writers import Cell
from app.identity.models import Membership, User
from app.pipelines.models import Pipeline, Stage

Row = Any  # a SQLAlchemy Row of the layout's statement (attribute access by label)


@dataclass(frozen=True)
class Column:
    """One column: its header and how a row becomes its cell."""

    header: str
    cell: Callable[[Row], Cell]
    width: int = 18


@dataclass(frozen=True)
class Layout:
    """The columns of an export and the statement that reads its rows, in order."""

    title: str
    columns: Sequence[Column]
    # The filtered records with the columns above and their joins, in id order.
    statement: Executable
    # The filtered records alone: what is counted (the joins above never add rows).
    base: Select[Any]

    @property
    def header(self) -> list[str]:
        return [column.header for column in self.columns]

    @property
    def widths(self) -> list[int]:
        return [column.width for column in self.columns]

    def cells(self, row: Row) -> list[Cell]:
        """One record as its list of cells."""
        return [column.cell(row) for column in self.columns]


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """A stored timestamp in UTC without its zone (what spreadsheets hold)."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _visible(actor: Actor, resource: str, owner_column: Any) -> ColumnElement[bool]:
    return owner_condition(actor, scope_for(actor, resource, "view"), owner_column)


def member_names(session: DbSession, tenant_id: int) -> dict[int, tuple[str, str]]:
    """Every member of the workspace, past or present: user id -> (name, email).
    Read once per export (a workspace has at most thousands of members)."""
    rows = session.execute(
        select(User.id, User.name, User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant_id)
    )
    return {int(uid): (name or email, email) for uid, name, email in rows}


def _owner_columns(owners: dict[int, tuple[str, str]]) -> list[Column]:
    def name(row: Row) -> Cell:
        found = owners.get(row.owner_id)
        return found[0] if found else None

    def email(row: Row) -> Cell:
        found = owners.get(row.owner_id)
        return found[1] if found else None

    return [Column(_("Owner"), name, 20), Column(_("Owner email"), email, 26)]


def _tags(row: Row) -> Cell:
    return ", ".join(row.tags or ()) or None


def _stamps() -> list[Column]:
    return [
        Column(_("Created (UTC)"), lambda row: utc(row.created_at), 20),
        Column(_("Updated (UTC)"), lambda row: utc(row.updated_at), 20),
    ]


def _custom_cell(definition: CustomFieldDefinition) -> Callable[[Row], Cell]:
    """Numbers and dates stay typed (a spreadsheet can sum and sort them); every other
    type is shown as a person reads it on the card."""
    key = definition.key

    def cell(row: Row) -> Cell:
        value = (row.custom_fields or {}).get(key)
        if value is None:
            return None
        if (
            definition.type == "number"
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        ):
            return value
        if definition.type == "date" and isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                return value
        return display_value(definition, value)

    return cell


def _custom_columns(session: DbSession, entity: str) -> list[Column]:
    return [
        Column(definition.label, _custom_cell(definition), 18)
        for definition in definitions(session, entity)
    ]


def _contact_layout(
    session: DbSession, actor: Actor, base: Select[Any], owners: dict[int, tuple[str, str]]
) -> Layout:
    company = aliased(Company, name="export_company")
    statement = (
        base.with_only_columns(
            Contact.id,
            Contact.first_name,
            Contact.last_name,
            Contact.email,
            Contact.phone,
            Contact.title,
            Contact.company_name,
            company.name.label("linked_company"),
            Contact.source,
            Contact.birthday,
            Contact.tags,
            Contact.custom_fields,
            Contact.notes,
            Contact.owner_id,
            Contact.created_at,
            Contact.updated_at,
            maintain_column_froms=False,
        )
        .outerjoin_from(
            Contact,
            company,
            and_(company.id == Contact.company_id, _visible(actor, "companies", company.owner_id)),
        )
        .order_by(Contact.id)
    )
    columns = [
        Column(_("ID"), lambda row: row.id, 10),
        Column(_("First name"), lambda row: row.first_name or None),
        Column(_("Last name"), lambda row: row.last_name or None),
        Column(_("Email"), lambda row: row.email, 28),
        Column(_("Phone"), lambda row: row.phone),
        Column(_("Title"), lambda row: row.title, 22),
        # The linked company when the reader may see it, else the name as typed.
        Column(_("Company"), lambda row: row.linked_company or row.company_name, 24),
        Column(_("Source"), lambda row: row.source),
        Column(_("Birthday"), lambda row: row.birthday, 12),
        Column(_("Tags"), _tags, 22),
        *_owner_columns(owners),
        Column(_("Notes"), lambda row: row.notes, 40),
        *_stamps(),
        *_custom_columns(session, "contact"),
    ]
    return Layout(_("Contacts"), columns, statement, base)


def _company_layout(
    session: DbSession, base: Select[Any], owners: dict[int, tuple[str, str]]
) -> Layout:
    statement = base.with_only_columns(
        Company.id,
        Company.name,
        Company.domain,
        Company.industry,
        Company.size,
        Company.phone,
        Company.address,
        Company.tags,
        Company.custom_fields,
        Company.notes,
        Company.owner_id,
        Company.created_at,
        Company.updated_at,
        maintain_column_froms=False,
    ).order_by(Company.id)
    columns = [
        Column(_("ID"), lambda row: row.id, 10),
        Column(_("Name"), lambda row: row.name, 28),
        Column(_("Domain"), lambda row: row.domain, 22),
        Column(_("Industry"), lambda row: row.industry),
        Column(_("Size"), lambda row: row.size, 12),
        Column(_("Phone"), lambda row: row.phone),
        Column(_("Address"), lambda row: row.address, 32),
        Column(_("Tags"), _tags, 22),
        *_owner_columns(owners),
        Column(_("Notes"), lambda row: row.notes, 40),
        *_stamps(),
        *_custom_columns(session, "company"),
    ]
    return Layout(_("Companies"), columns, statement, base)


def _money(minor: int | None, currency: str) -> Cell:
    return from_minor(minor, currency) if minor is not None else None


def _deal_layout(
    session: DbSession, actor: Actor, base: Select[Any], owners: dict[int, tuple[str, str]]
) -> Layout:
    contact = aliased(Contact, name="export_contact")
    company = aliased(Company, name="export_company")
    stages = {
        int(sid): (name, probability, pipeline)
        for sid, name, probability, pipeline in session.execute(
            select(Stage.id, Stage.name, Stage.probability, Pipeline.name).join(
                Pipeline, Pipeline.id == Stage.pipeline_id
            )
        )
    }
    statement = (
        base.with_only_columns(
            Deal.id,
            Deal.title,
            Deal.amount_minor,
            Deal.currency,
            Deal.stage_id,
            Deal.status,
            Deal.probability,
            Deal.expected_close_date,
            Deal.closed_at,
            Deal.won_amount_minor,
            Deal.lost_reason,
            Deal.lost_to_competitor,
            Deal.source,
            contact.first_name.label("contact_first_name"),
            contact.last_name.label("contact_last_name"),
            contact.email.label("contact_email"),
            company.name.label("company_name"),
            Deal.tags,
            Deal.custom_fields,
            Deal.notes,
            Deal.owner_id,
            Deal.created_at,
            Deal.updated_at,
            maintain_column_froms=False,
        )
        .outerjoin_from(
            Deal,
            contact,
            and_(contact.id == Deal.contact_id, _visible(actor, "contacts", contact.owner_id)),
        )
        .outerjoin_from(
            Deal,
            company,
            and_(company.id == Deal.company_id, _visible(actor, "companies", company.owner_id)),
        )
        .order_by(Deal.id)
    )
    status_labels = {"open": _("Open"), "won": _("Won"), "lost": _("Lost")}

    def stage(row: Row, part: int) -> Any:
        found = stages.get(row.stage_id)
        return found[part] if found else None

    def contact_name(row: Row) -> Cell:
        name = f"{row.contact_first_name or ''} {row.contact_last_name or ''}".strip()
        return name or row.contact_email

    columns = [
        Column(_("ID"), lambda row: row.id, 10),
        Column(_("Title"), lambda row: row.title, 28),
        Column(_("Amount"), lambda row: _money(row.amount_minor, row.currency), 14),
        Column(_("Currency"), lambda row: row.currency, 10),
        Column(_("Pipeline"), lambda row: stage(row, 2)),
        Column(_("Stage"), lambda row: stage(row, 0)),
        Column(_("Status"), lambda row: status_labels.get(row.status, row.status), 10),
        # The deal's own probability, else its stage's (what the deal card shows).
        Column(
            _("Probability (%)"),
            lambda row: row.probability if row.probability is not None else stage(row, 1),
            14,
        ),
        Column(_("Expected close"), lambda row: row.expected_close_date, 14),
        Column(_("Closed (UTC)"), lambda row: utc(row.closed_at), 20),
        Column(_("Won amount"), lambda row: _money(row.won_amount_minor, row.currency), 14),
        Column(_("Loss reason"), lambda row: row.lost_reason, 22),
        Column(_("Lost to"), lambda row: row.lost_to_competitor),
        Column(_("Source"), lambda row: row.source),
        Column(_("Contact"), contact_name, 24),
        Column(_("Company"), lambda row: row.company_name, 24),
        Column(_("Tags"), _tags, 22),
        *_owner_columns(owners),
        Column(_("Notes"), lambda row: row.notes, 40),
        *_stamps(),
        *_custom_columns(session, "deal"),
    ]
    return Layout(_("Deals"), columns, statement, base)


def build_layout(
    session: DbSession, actor: Actor, entity: str, base: Select[Any], tenant_id: int
) -> Layout:
    """The layout of an export of ``entity`` over ``base`` (the filtered records)."""
    owners = member_names(session, tenant_id)
    if entity == "contact":
        return _contact_layout(session, actor, base, owners)
    if entity == "company":
        return _company_layout(session, base, owners)
    if entity == "deal":
        return _deal_layout(session, actor, base, owners)
    raise ValueError(f"unknown export entity {entity!r}")
