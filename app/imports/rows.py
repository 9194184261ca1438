"""Turning one row of cells into the values of a contact or a company, with the rules
every other door applies, at a cost an import of a million rows can pay.

The rules are not copied here. Each text column is checked by a :class:`FieldCheck`
made from the field of the API schema (:class:`app.contacts.schemas.ContactSchema`,
:class:`app.companies.schemas.CompanySchema`): its own length, pattern and email
validators and its character rule run directly, and only a value that fails them goes
through the marshmallow field itself, whose message is reported. A full ``Schema.load``
costs about 170 µs a row, which alone would take 17 s for 100,000 rows; the checks
here take a tenth of that. The service rules that hold for every writer (a contact has
a name or an email; birthdays, sources and tags; a company's name, domain and size)
are the services' own functions, called per row.
"""

from __future__ import annotations

import datetime as dt
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate
from sqlalchemy import select

from app.access.policy import Actor, record_in_scope
from app.companies import services as company_services
from app.companies.schemas import CompanySchema
from app.contacts import services as contact_services
from app.contacts.schemas import ContactSchema
from app.custom_fields.models import CustomFieldDefinition
from app.database import DbSession
from app.errors import InvalidInput
from app.identity.models import Membership, User
from app.imports.readers import Cell, display_cell
from app.input_rules import CONTROL_ANY, CONTROL_EXCEPT_LINE_BREAKS, UNSTORABLE
from tenants.context import require_tenant

CUSTOM_PREFIX = "cf:"
ROW_FIELD = "row"
_SINGLE_LINE_BAD = re.compile(f"{CONTROL_ANY.pattern}|{UNSTORABLE.pattern}")
_MULTI_LINE_BAD = re.compile(f"{CONTROL_EXCEPT_LINE_BREAKS.pattern}|{UNSTORABLE.pattern}")
_DOTTED_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_NOT_A_WORD = re.compile(r"[^0-9a-z]+")


class RowInvalid(Exception):
    """A row that can not be imported; ``errors`` maps fields to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors

    @property
    def reason(self) -> str:
        """One line for the report: ``field: message; field: message``."""
        return "; ".join(
            f"{name}: {' '.join(str(m) for m in messages)}"
            if name != ROW_FIELD
            else " ".join(str(m) for m in messages)
            for name, messages in self.errors.items()
        )


class FieldCheck:
    """The rules of one marshmallow text field, applied fast (see the module docstring).

    A value passes when it has no forbidden character, fits the field's ``Length`` and
    matches its ``Regexp`` and ``Email`` validators; otherwise the field's own
    ``deserialize`` decides (and its message is the one reported).
    """

    def __init__(self, field: fields.Field) -> None:
        self.field = field
        multiline = bool(getattr(field, "multiline", False))
        self.bad = _MULTI_LINE_BAD if multiline else _SINGLE_LINE_BAD
        self.max_length: int | None = None
        self.validators: list[Callable[[Any], Any]] = []
        for validator in field.validators:
            if isinstance(validator, validate.Length) and validator.min is None:
                self.max_length = validator.max
            else:
                self.validators.append(validator)

    def __call__(self, value: str) -> Any:
        if (self.max_length is None or len(value) <= self.max_length) and not self.bad.search(
            value
        ):
            try:
                for validator in self.validators:
                    validator(value)
            except ValidationError:
                pass
            else:
                return value
        return self.field.deserialize(value)


@dataclass(frozen=True)
class Target:
    """Something a column can fill: a field of the record, or a custom field."""

    key: str
    label: str
    # Header spellings (normalised: lower-case letters and digits only) that map here.
    synonyms: tuple[str, ...] = ()


def header_key(text: str) -> str:
    """A header as compared for guessing: lower-case letters and digits only."""
    return _NOT_A_WORD.sub("", text.casefold())


# Each target: its key, its label, and the header spellings (as :func:`header_key`
# leaves them) that map to it.
CONTACT_TARGETS: tuple[tuple[str, Any, str], ...] = (
    ("first_name", _l("First name"), "firstname first givenname forename vorname prenom"),
    ("last_name", _l("Last name"), "lastname last surname familyname nachname nom"),
    ("full_name", _l("Full name (split into first and last)"), "name fullname contactname contact"),
    ("email", _l("Email"), "email emailaddress mail email1 workemail emailadresse"),
    ("phone", _l("Phone"), "phone phonenumber telephone tel mobile mobilephone cell telefon"),
    ("title", _l("Job title"), "title jobtitle position role jobrole"),
    ("company", _l("Company"), "company companyname organization organisation account employer"),
    ("source", _l("Source"), "source leadsource origin"),
    ("birthday", _l("Birthday"), "birthday birthdate dateofbirth dob geburtstag"),
    ("tags", _l("Tags"), "tags tag labels label"),
    ("notes", _l("Notes"), "notes note comments comment description"),
    ("owner", _l("Owner (member's email)"), "owner owneremail assignedto salesrep accountowner"),
)
COMPANY_TARGETS: tuple[tuple[str, Any, str], ...] = (
    ("name", _l("Name"), "name company companyname organization organisation account"),
    ("domain", _l("Website domain"), "domain website web url homepage site"),
    ("industry", _l("Industry"), "industry sector branche"),
    ("size", _l("Size"), "size employees headcount companysize"),
    ("address", _l("Address"), "address streetaddress location"),
    ("phone", _l("Phone"), "phone phonenumber telephone tel telefon"),
    ("tags", _l("Tags"), "tags tag labels label"),
    ("notes", _l("Notes"), "notes note comments comment description"),
    ("owner", _l("Owner (member's email)"), "owner owneremail assignedto salesrep accountowner"),
)
TARGETS = {"contact": CONTACT_TARGETS, "company": COMPANY_TARGETS}
# The targets that give a contact its identity (one of them must be mapped).
CONTACT_IDENTITY_TARGETS = ("first_name", "last_name", "full_name", "email")


def custom_definitions(session: DbSession, entity: str) -> list[CustomFieldDefinition]:
    """The workspace's custom fields of ``entity``, in display order."""
    return list(
        session.scalars(
            select(CustomFieldDefinition)
            .where(CustomFieldDefinition.entity == entity)
            .order_by(CustomFieldDefinition.position, CustomFieldDefinition.id)
        )
    )


def targets_for(entity: str, definitions: Sequence[CustomFieldDefinition]) -> list[Target]:
    """Every target a column of an ``entity`` file may map to."""
    targets = [
        Target(key, str(label), tuple(words.split())) for key, label, words in TARGETS[entity]
    ]
    for definition in definitions:
        targets.append(
            Target(
                CUSTOM_PREFIX + definition.key,
                definition.label,
                (header_key(definition.label), header_key(definition.key)),
            )
        )
    return targets


def guess_mapping(headers: Sequence[str], targets: Sequence[Target]) -> list[str | None]:
    """A target per column from its name (each target at most once, first column wins);
    custom fields first, because a workspace's own labels are the most specific."""
    ordered = sorted(targets, key=lambda t: not t.key.startswith(CUSTOM_PREFIX))
    mapping: list[str | None] = []
    used: set[str] = set()
    for header in headers:
        key = header_key(header)
        found = next((t.key for t in ordered if t.key not in used and key in t.synonyms), None)
        if found:
            used.add(found)
        mapping.append(found)
    return mapping


def check_mapping(entity: str, mapping: Sequence[str | None], targets: Sequence[Target]) -> None:
    """Refuse a mapping that names unknown targets, uses one twice, or maps nothing that
    identifies a record (InvalidInput on ``mapping``)."""
    known = {t.key for t in targets}
    chosen = [m for m in mapping if m]
    errors: list[str] = []
    unknown = sorted({m for m in chosen if m not in known})
    if unknown:
        errors.append(_("Unknown fields: %(fields)s.", fields=", ".join(unknown)))
    twice = sorted({m for m in chosen if chosen.count(m) > 1})
    if twice:
        errors.append(_("Map each field to one column only: %(fields)s.", fields=", ".join(twice)))
    if entity == "contact" and not set(chosen) & set(CONTACT_IDENTITY_TARGETS):
        errors.append(_("Map a column to a name or to the email, so that each contact has one."))
    if entity == "company" and "name" not in chosen:
        errors.append(_("Map a column to the company name."))
    if errors:
        raise InvalidInput({"mapping": errors})


def split_full_name(full: str) -> tuple[str, str]:
    """ "Ann Lee" -> ("Ann", "Lee"); "Lee, Ann" -> ("Ann", "Lee"); "Jan van der Berg" ->
    ("Jan", "van der Berg"): the first word is the first name, as most exports write it."""
    full = " ".join(full.split())
    if "," in full:
        last, _sep, first = full.partition(",")
        return first.strip(), last.strip()
    first, _sep, last = full.partition(" ")
    return first, last


def parse_date(cell: Cell) -> dt.date:
    """A date cell, ``YYYY-MM-DD`` (ISO, with or without a time) or ``DD.MM.YYYY``;
    ValueError otherwise (slashes are refused: 03/04 is March or April by country)."""
    if isinstance(cell, dt.datetime):
        return cell.date()
    if isinstance(cell, dt.date):
        return cell
    text = cell.strip()
    dotted = _DOTTED_DATE.match(text)
    if dotted:
        day, month, year = (int(g) for g in dotted.groups())
        return dt.date(year, month, day)
    if "T" in text or " " in text:
        return dt.datetime.fromisoformat(text).date()
    return dt.date.fromisoformat(text)


def member_emails(session: DbSession) -> dict[str, int]:
    """Active members of the bound workspace by lower-case email (owner columns)."""
    rows = session.execute(
        select(User.email, User.id)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == require_tenant().id, Membership.is_active.is_(True))
    )
    return {str(email).lower(): int(user_id) for email, user_id in rows}


@dataclass
class ParsedRow:
    """A row's record values (``values``), its custom field values as parsed from text
    (checked against their definitions when written), and its cells for the report."""

    number: int
    values: dict[str, Any]
    custom: dict[str, Any]
    cells: list[Cell]
    # Why the row can not make a record of its own (a contact with neither a name nor
    # an email); it may still update the record it matches.
    identity_error: str | None = None


class RowValidator(ABC):
    """Validates the rows of one file for one actor, with one mapping."""

    entity = ""
    resource = ""
    schema_fields: ClassVar[Mapping[str, fields.Field]] = {}

    def __init__(
        self,
        session: DbSession,
        actor: Actor,
        headers: Sequence[str],
        mapping: Sequence[str | None],
        definitions: Sequence[CustomFieldDefinition],
    ) -> None:
        self.session = session
        self.actor = actor
        self.width = len(headers)
        self.columns = [(i, t) for i, t in enumerate(mapping) if t]
        self.by_key = {d.key: d for d in definitions}
        self.checks = {name: FieldCheck(f) for name, f in self.schema_fields.items()}
        self.members = member_emails(session) if any(t == "owner" for _, t in self.columns) else {}
        self._parse_text: Callable[[Any, str], Any] | None = None
        if any(t.startswith(CUSTOM_PREFIX) for _, t in self.columns):
            from app.custom_fields.services import parse_text

            self._parse_text = parse_text

    def _raw(self, cells: Sequence[Cell], errors: dict[str, list[str]]) -> dict[str, Cell]:
        if len(cells) > self.width and any(
            isinstance(c, dt.date) or c.strip() for c in cells[self.width :]
        ):
            errors[ROW_FIELD] = [_("The row has values beyond the last named column.")]
        return {
            target: (cells[index] if index < len(cells) else "") for index, target in self.columns
        }

    def _owner(self, raw: Cell, errors: dict[str, list[str]]) -> int | None:
        text = display_cell(raw).strip().lower()
        if not text:
            return self.actor.user_id
        owner_id = self.members.get(text)
        if owner_id is None:
            errors["owner"] = [_("No active member has the email %(email)s.", email=text)]
            return None
        if not record_in_scope(self.actor, self.resource, "create", owner_id):
            errors["owner"] = [_("You may only import records owned by yourself.")]
            return None
        return owner_id

    def _custom(self, raw: Mapping[str, Cell], errors: dict[str, list[str]]) -> dict[str, Any]:
        custom: dict[str, Any] = {}
        if self._parse_text is None:
            return custom
        for target, cell in raw.items():
            if not target.startswith(CUSTOM_PREFIX):
                continue
            key = target[len(CUSTOM_PREFIX) :]
            text = display_cell(cell).strip()
            if not text:
                continue
            try:
                custom[key] = self._parse_text(self.by_key[key], text)
            except ValueError as exc:
                errors[f"custom_fields.{key}"] = [str(exc)]
        return custom

    def _text(self, values: dict[str, Any], errors: dict[str, list[str]]) -> None:
        for name, value in values.items():
            check = self.checks.get(name)
            if check is None or not isinstance(value, str):
                continue
            try:
                values[name] = check(value)
            except ValidationError as exc:
                messages = exc.messages
                errors[name] = [
                    str(m) for m in (messages if isinstance(messages, list) else [messages])
                ]

    @abstractmethod
    def parse(self, number: int, cells: list[Cell]) -> ParsedRow:
        """The row's values, or RowInvalid with every problem found."""


# Columns holding a contact's text fields: target -> field.
_CONTACT_TEXT = (
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("email", "email"),
    ("phone", "phone"),
    ("title", "title"),
    ("source", "source"),
    ("notes", "notes"),
    ("company", "company_name"),
)


class ContactRowValidator(RowValidator):
    """Rows of a contact file."""

    entity = "contact"
    resource = "contacts"
    _schema = ContactSchema()
    schema_fields: ClassVar[Mapping[str, fields.Field]] = {
        name: f
        for name, f in _schema.fields.items()
        if name in ("first_name", "last_name", "email", "phone", "title", "company_name",
                    "source", "notes")
    }  # fmt: skip

    def parse(self, number: int, cells: list[Cell]) -> ParsedRow:
        errors: dict[str, list[str]] = {}
        raw = self._raw(cells, errors)
        data: dict[str, Any] = {}
        for target, field in _CONTACT_TEXT:
            if target in raw:
                cell = raw[target]
                data[field] = cell if cell.__class__ is str else display_cell(cell)
        full = display_cell(raw.get("full_name", "")).strip()
        if full and not (data.get("first_name", "").strip() or data.get("last_name", "").strip()):
            data["first_name"], data["last_name"] = split_full_name(full)
        data = self._schema._normalise(data)  # the API's trimming and blank-to-null rules
        self._text(data, errors)
        birthday = raw.get("birthday", "")
        if isinstance(birthday, dt.date) or birthday.strip():
            try:
                data["birthday"] = parse_date(birthday)
            except ValueError:
                errors["birthday"] = [_("Not a valid date; use YYYY-MM-DD.")]
        if "tags" in raw:
            data["tags"] = display_cell(raw["tags"]).replace(";", ",")
        owner_id = self._owner(raw["owner"], errors) if "owner" in raw else self.actor.user_id
        custom = self._custom(raw, errors)
        checked = {k: v for k, v in data.items() if k not in errors}
        try:
            contact_services._check_details(self.session, self.actor, checked)
        except InvalidInput as refusal:
            for name, messages in refusal.details.items():
                errors.setdefault(name, []).extend(messages)
        if errors:
            raise RowInvalid(errors)
        identity_error = None
        try:
            contact_services._check_identity(checked)
        except InvalidInput as refusal:
            identity_error = RowInvalid(refusal.details).reason
        values = {
            "first_name": checked.get("first_name") or "",
            "last_name": checked.get("last_name") or "",
            "email": checked.get("email"),
            "phone": checked.get("phone"),
            "title": checked.get("title"),
            "company_name": checked.get("company_name"),
            "source": checked.get("source"),
            "birthday": checked.get("birthday"),
            "tags": checked.get("tags", []),
            "notes": checked.get("notes"),
            "owner_id": owner_id,
        }
        return ParsedRow(number, values, custom, cells, identity_error)


class CompanyRowValidator(RowValidator):
    """Rows of a company file (the company services' own cleaning, per row)."""

    entity = "company"
    resource = "companies"
    _schema = CompanySchema()

    def parse(self, number: int, cells: list[Cell]) -> ParsedRow:
        errors: dict[str, list[str]] = {}
        raw = self._raw(cells, errors)
        data: dict[str, Any] = {}
        for target in ("name", "domain", "industry", "size", "address", "phone", "notes"):
            if target in raw:
                data[target] = display_cell(raw[target])
        if "tags" in raw:
            data["tags"] = display_cell(raw["tags"]).replace(";", ",")
        owner_id = self._owner(raw["owner"], errors) if "owner" in raw else self.actor.user_id
        custom = self._custom(raw, errors)
        cleaned: dict[str, Any] = {}
        try:
            cleaned = company_services._clean(data)
        except InvalidInput as refusal:
            for name, messages in refusal.details.items():
                errors.setdefault(name, []).extend(messages)
        if not errors and not cleaned.get("name"):
            errors["name"] = [_("Give the company a name.")]
        if errors:
            raise RowInvalid(errors)
        values = {
            "name": cleaned["name"],
            "domain": cleaned.get("domain"),
            "industry": cleaned.get("industry"),
            "size": cleaned.get("size"),
            "address": cleaned.get("address"),
            "phone": cleaned.get("phone"),
            "notes": cleaned.get("notes"),
            "tags": cleaned.get("tags", []),
            "owner_id": owner_id,
        }
        return ParsedRow(number, values, custom, cells)


VALIDATORS: dict[str, type[RowValidator]] = {
    "contact": ContactRowValidator,
    "company": CompanyRowValidator,
}
