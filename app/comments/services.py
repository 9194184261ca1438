"""Comment services: the only writers of comments.

Every write is one transaction: the comment, its timeline event (kind ``comment``, on
the histories of every client record the card concerns, as activities are: a comment
on a deal shows on the deal's card and on its contact's and company's cards), an audit
entry, and the notifications and mails of the members it newly mentions (mail leaves
only once the transaction has committed).

Who may do what (the views ask; see docs/comments.md):

* read a card's comments: whoever may view the card (record scope, action "view");
* write one: whoever may view the card and may create activities (a comment is
  something done about a client; a Viewer, who changes nothing, does not write);
* edit one: its author, under the same rights;
* delete one: its author, or a member whose role may delete every activity (Owner and
  Admin), so that a workspace can remove what should not be there.

Mentions name active members of this workspace who may view the card; anything else
is refused with a message naming the mention, so that nobody is told about a record
they can not open and the writer knows the mention did not go out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, delete, func, or_, select

from app.access.policy import Actor, actor_for, may, owner_condition, record_in_scope, scope_for
from app.audit.services import record
from app.comments import mentions
from app.comments.models import COMMENT_CARDS, Comment
from app.companies.models import Company
from app.companies.services import get_visible_company
from app.contacts.models import Contact
from app.contacts.services import get_visible_contact
from app.database import DbSession, utcnow
from app.deals.models import Deal
from app.deals.services import get_visible_deal
from app.errors import InvalidInput
from app.hosts import workspace_url
from app.identity.models import Membership, User
from app.input_rules import CONTROL_EXCEPT_LINE_BREAKS, MAX_BIGINT, UNSTORABLE, substring_pattern
from app.mail.services import compose, send_after_commit
from app.notifications.services import notify, revise, withdraw, workspace_path
from app.timeline.models import TimelineEvent
from app.timeline.queries import encode_cursor
from app.timeline.services import json_value, record_event
from tenants.context import require_tenant
from tenants.models import Tenant

MAX_BODY = 10_000
# More than this many people in one comment is a broadcast, not a mention.
MAX_MENTIONS = 20
# How much of a comment a notification and its mail quote.
EXCERPT = 200
MENTION_KIND = "mention"
RESOURCES = {"contact": "contacts", "company": "companies", "deal": "deals"}
DETAIL_ENDPOINTS = {
    "contact": "workspace.contact_detail",
    "company": "companies.company_detail",
    "deal": "deals.deal_detail",
}
_MODELS: dict[str, Any] = {"contact": Contact, "company": Company, "deal": Deal}
_GETTERS: dict[str, Any] = {
    "contact": get_visible_contact,
    "company": get_visible_company,
    "deal": get_visible_deal,
}


@dataclass(frozen=True, slots=True)
class Card:
    """The contact, company or deal a comment is written on."""

    entity: str
    record: Contact | Company | Deal

    @property
    def id(self) -> int:
        return int(self.record.id)

    @property
    def owner_id(self) -> int | None:
        return self.record.owner_id

    @property
    def resource(self) -> str:
        return RESOURCES[self.entity]

    @property
    def label(self) -> str:
        """The record's name as people know it (may be empty for a nameless contact)."""
        if isinstance(self.record, Contact):
            return self.record.full_name
        if isinstance(self.record, Company):
            return self.record.name
        return self.record.title

    def column(self) -> dict[str, Any]:
        """The comment column naming this card."""
        return {f"{self.entity}_id": self.id}

    def histories(self) -> dict[str, int | None]:
        """Every client record whose history shows a comment written here: the card,
        and the contact's company, or the deal's contact and company."""
        if isinstance(self.record, Contact):
            return {"contact_id": self.id, "company_id": self.record.company_id}
        if isinstance(self.record, Deal):
            return {
                "deal_id": self.id,
                "contact_id": self.record.contact_id,
                "company_id": self.record.company_id,
            }
        return {"company_id": self.id}


@dataclass(frozen=True, slots=True)
class MemberChoice:
    """A member offered by the mention autocomplete; ``can_view`` says whether they may
    see the card being written on (None when no card was named)."""

    id: int
    name: str
    can_view: bool | None


def display_name(user: User) -> str:
    """How the app names a member: their name, else their email."""
    return user.name or user.email


def _valid_id(value: Any) -> bool:
    return type(value) is int and 1 <= value <= MAX_BIGINT


# --- Access ---------------------------------------------------------------------------


def get_visible_card(session: DbSession, actor: Actor, entity: str, record_id: int) -> Card | None:
    """The card ``entity`` ``record_id`` if ``actor`` may view it, else None (the caller
    answers 404 either way)."""
    if entity not in COMMENT_CARDS or not _valid_id(record_id):
        return None
    found = _GETTERS[entity](session, actor, record_id)
    return Card(entity, found) if found is not None else None


def card_ref(comment: Comment) -> tuple[str, int]:
    """``(entity, id)`` of the card ``comment`` is written on."""
    for entity in COMMENT_CARDS:
        value = getattr(comment, f"{entity}_id")
        if value is not None:
            return entity, int(value)
    raise ValueError(f"comment {comment.id} is on no card")


def card_of(session: DbSession, comment: Comment) -> Card:
    """The card ``comment`` is written on (the caller has checked it may be seen)."""
    entity, record_id = card_ref(comment)
    found = session.get(_MODELS[entity], record_id)
    if found is None:  # the card's deletion deletes its comments in the same statement
        raise ValueError(f"comment {comment.id} outlived its card")
    return Card(entity, found)


def may_comment(actor: Actor) -> bool:
    """Whether ``actor``'s role lets them write comments (on cards they may view)."""
    return may(actor, "activities", "create")


def may_edit(actor: Actor, comment: Comment) -> bool:
    """Only the author edits a comment, and only while their role may still write."""
    return comment.author_id == actor.user_id and may_comment(actor)


def may_delete(actor: Actor, comment: Comment) -> bool:
    """The author deletes their comment; so does a role that may delete every
    activity (Owner, Admin)."""
    return may_edit(actor, comment) or scope_for(actor, "activities", "delete") == "all"


def get_visible_comment(session: DbSession, actor: Actor, comment_id: int) -> Comment | None:
    """The comment if ``actor`` may view the card it is written on, else None (the
    caller answers 404 either way)."""
    if not _valid_id(comment_id):
        return None
    found = session.get(Comment, comment_id)
    if found is None:
        return None
    entity, record_id = card_ref(found)
    if get_visible_card(session, actor, entity, record_id) is None:
        return None
    return found


def comments_on(card: Card) -> Select[Any]:
    """The comments written on ``card`` (unordered; callers paginate)."""
    column = getattr(Comment, f"{card.entity}_id")
    return select(Comment).where(column == card.id)


def comments_of_events(session: DbSession, event_ids: Iterable[int]) -> dict[int, Comment]:
    """The comments behind timeline events, by event id (one query for a page)."""
    ids = [i for i in set(event_ids) if _valid_id(i)]
    if not ids:
        return {}
    rows = session.scalars(select(Comment).where(Comment.timeline_event_id.in_(ids)))
    return {int(c.timeline_event_id): c for c in rows if c.timeline_event_id is not None}


def visible_card_labels(
    session: DbSession, actor: Actor, refs: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], str]:
    """Names of the cards among ``refs`` that ``actor`` may view (one query per kind at
    most); cards out of scope are left out rather than named."""
    wanted: dict[str, set[int]] = {entity: set() for entity in COMMENT_CARDS}
    for entity, record_id in refs:
        wanted[entity].add(record_id)
    labels: dict[tuple[str, int], str] = {}
    if wanted["contact"]:
        for contact in session.scalars(
            select(Contact).where(
                Contact.id.in_(wanted["contact"]), _in_scope(actor, "contacts", Contact)
            )
        ):
            labels[("contact", contact.id)] = contact.full_name
    for entity, model, column in (
        ("company", Company, Company.name),
        ("deal", Deal, Deal.title),
    ):
        if wanted[entity]:
            rows = session.execute(
                select(model.id, column).where(
                    model.id.in_(wanted[entity]), _in_scope(actor, RESOURCES[entity], model)
                )
            )
            labels.update({(entity, int(row[0])): str(row[1]) for row in rows})
    return labels


def _in_scope(actor: Actor, resource: str, model: Any) -> ColumnElement[bool]:
    return owner_condition(actor, scope_for(actor, resource, "view"), model.owner_id)


# --- Mentions ---------------------------------------------------------------------------


def mentionable(
    session: DbSession, actor: Actor, q: str | None, card: Card | None, limit: int
) -> list[MemberChoice]:
    """Active members other than the actor whose name or email contains ``q``, by name
    (at most ``limit``), each saying whether they may see ``card``."""
    tenant = require_tenant()
    stmt = (
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.tenant_id == tenant.id,
            Membership.is_active.is_(True),
            User.id != actor.user_id,
        )
    )
    if q and q.strip():
        term = substring_pattern(q)
        stmt = stmt.where(
            or_(User.name.ilike(term, escape="\\"), User.email.ilike(term, escape="\\"))
        )
    shown = func.lower(func.coalesce(func.nullif(User.name, ""), User.email))
    rows = session.execute(stmt.order_by(shown, User.id).limit(limit))
    return [
        MemberChoice(
            id=user.id,
            name=display_name(user),
            can_view=None if card is None else _may_view(user.id, role, card),
        )
        for user, role in rows
    ]


def _may_view(user_id: int, role: str, card: Card) -> bool:
    return record_in_scope(actor_for(user_id, role), card.resource, "view", card.owner_id)


def _clean_body(value: Any) -> str:
    """The comment text as stored: line breaks normalised, trimmed, checked."""
    if not isinstance(value, str):
        raise InvalidInput({"body": ["Not a valid string."]})
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if UNSTORABLE.search(text) or CONTROL_EXCEPT_LINE_BREAKS.search(text):
        raise InvalidInput({"body": ["Contains characters that are not allowed."]})
    if not text:
        raise InvalidInput({"body": ["Write a comment."]})
    if len(text) > MAX_BODY:
        raise InvalidInput({"body": [f"Longer than maximum length {MAX_BODY}."]})
    return text


def _resolve_mentions(session: DbSession, card: Card, text: str) -> tuple[str, list[User]]:
    """``text`` with its mention tokens showing each member's current name, and the
    mentioned members in order; refuses mentions of anyone who is not an active member
    of this workspace or may not view the card."""
    first: dict[int, mentions.Mention] = {}
    for found in mentions.find(text):
        first.setdefault(found.user_id, found)
    if len(first) > MAX_MENTIONS:
        raise InvalidInput({"body": [f"Mention at most {MAX_MENTIONS} people in one comment."]})
    members: dict[int, tuple[User, str]] = {}
    valid = [user_id for user_id in first if user_id <= MAX_BIGINT]
    if valid:
        rows = session.execute(
            select(User, Membership.role)
            .join(Membership, Membership.user_id == User.id)
            .where(
                User.id.in_(valid),
                Membership.tenant_id == require_tenant().id,
                Membership.is_active.is_(True),
            )
        )
        members = {user.id: (user, role) for user, role in rows}
    problems: list[str] = []
    for user_id, found in first.items():
        if user_id not in members:
            problems.append(f"@{found.name} is not an active member of this workspace.")
        elif not _may_view(user_id, members[user_id][1], card):
            problems.append(
                f"{display_name(members[user_id][0])} can not see this {card.entity}; "
                "mention only people who can."
            )
    if problems:
        raise InvalidInput({"body": problems})
    text = mentions.canonical(
        text, {uid: display_name(user) for uid, (user, _role) in members.items()}
    )
    if len(text) > MAX_BODY:
        raise InvalidInput({"body": [f"Longer than maximum length {MAX_BODY}."]})
    return text, [members[user_id][0] for user_id in first]


# --- Writing ----------------------------------------------------------------------------


def _event_data(card: Card, comment: Comment) -> dict[str, Any]:
    """What the timeline event carries: the comment's current text, so that the API's
    timeline reads like the card does (kept in step by every edit)."""
    data: dict[str, Any] = {
        "comment_id": comment.id,
        "on": card.entity,
        "body": comment.body,
        "mentions": list(comment.mentions),
    }
    if comment.edited_at is not None:
        data["edited_at"] = comment.edited_at
    return dict(json_value(data))


def link_values(comment: Comment) -> dict[str, Any]:
    """``url_for`` values of the page of the card ``comment`` is written on (see
    :data:`DETAIL_ENDPOINTS`) that open it at the comment: the timeline page that starts
    with it (however much history was written since), scrolled to it. The comment's
    event happened at the comment's ``created_at`` (they are written together)."""
    entity, record_id = card_ref(comment)
    values: dict[str, Any] = {f"{entity}_id": record_id, "_anchor": f"comment-{comment.id}"}
    if comment.timeline_event_id is not None:
        # The page of events older than (created_at, event id + 1): this one comes first.
        values["timeline_cursor"] = encode_cursor(comment.created_at, comment.timeline_event_id + 1)
    return values


def _notify_mentioned(
    session: DbSession,
    actor: Actor,
    card: Card,
    comment: Comment,
    people: list[User],
) -> None:
    """An in-app notification and a mail (in their language) for each of ``people``."""
    if not people:
        return
    tenant = session.get(Tenant, require_tenant().id)
    author = session.get(User, actor.user_id)
    if tenant is None or author is None:
        raise ValueError("no workspace or author to notify from")
    values = link_values(comment)
    endpoint = DETAIL_ENDPOINTS[card.entity]
    path = workspace_path(endpoint, **values)
    href = workspace_url(tenant, endpoint, **values)
    quote = mentions.excerpt(comment.body, EXCERPT)
    for person in people:
        with force_locale(person.locale or "en"):
            record_name = card.label or _("a contact")
            subject = _(
                "%(who)s mentioned you on %(record)s",
                who=display_name(author),
                record=record_name,
            )
            notify(
                session,
                user_id=person.id,
                kind=MENTION_KIND,
                title=subject,
                url=path,
                data={
                    "comment_id": comment.id,
                    "entity": card.entity,
                    "entity_id": card.id,
                    "author_id": actor.user_id,
                    "excerpt": quote,
                },
            )
            send_after_commit(
                session,
                compose(
                    "mention",
                    to=person.email,
                    subject=subject,
                    name=display_name(person),
                    author=display_name(author),
                    record=record_name,
                    entity=card.entity,
                    comment_text=mentions.plain_text(comment.body),
                    workspace=tenant.name,
                    href=href,
                ),
            )


def create_comment(session: DbSession, actor: Actor, card: Card, body: Any) -> Comment:
    """Write a comment by the actor on ``card`` (the caller has checked that the actor
    may view the card and write comments); notifies and mails each mentioned member
    other than the author. Commits."""
    text, mentioned = _resolve_mentions(session, card, _clean_body(body))
    now = utcnow()
    comment = Comment(
        body=text,
        author_id=actor.user_id,
        mentions=[user.id for user in mentioned],
        created_at=now,
        **card.column(),
    )
    session.add(comment)
    session.flush()
    event = record_event(
        session,
        kind="comment",
        entity="comment",
        entity_id=comment.id,
        actor_id=actor.user_id,
        data=_event_data(card, comment),
        occurred_at=now,
        **card.histories(),
    )
    session.flush()
    comment.timeline_event_id = event.id
    record(
        session,
        actor_id=actor.user_id,
        action="created",
        entity="comment",
        entity_id=comment.id,
        changes={"body": [None, text], f"{card.entity}_id": [None, card.id]},
    )
    others = [user for user in mentioned if user.id != actor.user_id]
    _notify_mentioned(session, actor, card, comment, others)
    session.commit()
    return comment


def update_comment(session: DbSession, actor: Actor, comment: Comment, body: Any) -> Comment:
    """Change a comment's text (the caller has checked :func:`may_edit`). The timeline
    shows the new text in the comment's place; members mentioned for the first time are
    notified, those no longer mentioned lose the notification. Commits."""
    card = card_of(session, comment)
    text, mentioned = _resolve_mentions(session, card, _clean_body(body))
    if text == comment.body:
        return comment
    before = comment.body
    previous = set(comment.mentions)
    comment.body = text
    comment.mentions = [user.id for user in mentioned]
    comment.edited_at = utcnow()
    event = (
        session.get(TimelineEvent, comment.timeline_event_id)
        if comment.timeline_event_id is not None
        else None
    )
    if event is not None:
        event.data = _event_data(card, comment)
    record(
        session,
        actor_id=actor.user_id,
        action="updated",
        entity="comment",
        entity_id=comment.id,
        changes={"body": [before, text]},
    )
    ref = {"comment_id": comment.id}
    now_mentioned = set(comment.mentions)
    withdraw(session, kind=MENTION_KIND, user_ids=previous - now_mentioned, ref=ref)
    revise(
        session,
        kind=MENTION_KIND,
        user_ids=previous & now_mentioned,
        ref=ref,
        data={"excerpt": mentions.excerpt(text, EXCERPT)},
    )
    new = [u for u in mentioned if u.id not in previous and u.id != actor.user_id]
    _notify_mentioned(session, actor, card, comment, new)
    session.commit()
    return comment


def delete_comment(session: DbSession, actor: Actor, comment: Comment) -> None:
    """Delete a comment (the caller has checked :func:`may_delete`): it leaves every
    card's history, its mention notifications are withdrawn, the audit log keeps the
    text. Commits."""
    withdraw(session, kind=MENTION_KIND, user_ids=comment.mentions, ref={"comment_id": comment.id})
    entity, record_id = card_ref(comment)
    record(
        session,
        actor_id=actor.user_id,
        action="deleted",
        entity="comment",
        entity_id=comment.id,
        changes={"body": [comment.body, None], f"{entity}_id": [record_id, None]},
    )
    if comment.timeline_event_id is not None:
        session.execute(delete(TimelineEvent).where(TimelineEvent.id == comment.timeline_event_id))
    session.delete(comment)
    session.commit()
