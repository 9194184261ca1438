"""Workspace addresses at signup: why one may not be chosen, whether it is free, and
free alternatives.

The rules themselves live in :mod:`tenants.naming` (``is_valid_slug`` decides); this
module only explains a refusal in words a person can act on and looks for free slugs.
An address is taken when any tenant has it (whatever its status: a deleted workspace's
address is not handed to someone else) or an unfinished signup holds it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from itertools import zip_longest

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.database import DbSession
from app.signup.models import Signup, SignupStatus
from tenants.models import Tenant
from tenants.naming import RESERVED_SLUGS, SLUG_RE, is_valid_slug

MIN_LENGTH = 3
MAX_LENGTH = 40
OPEN_STATUSES = (SignupStatus.PENDING, SignupStatus.PROVISIONING)
# Endings tried after the plain name, in this order.
_SUFFIXES = ("team", "hq", "crm", "sales", "app")
MAX_SUGGESTIONS = 3


def slug_problem(slug: str) -> str | None:
    """Why ``slug`` is not a valid workspace address (translated), or None."""
    if len(slug) < MIN_LENGTH or len(slug) > MAX_LENGTH:
        return str(_l("Use 3 to 40 characters."))
    if not re.fullmatch(r"[a-z0-9-]+", slug):
        return str(_l("Use lowercase letters (a-z), digits and hyphens only."))
    if slug.startswith("-") or slug.endswith("-"):
        return str(_l("Start and end with a letter or a digit."))
    if "--" in slug:
        return str(_l("Do not put two hyphens in a row."))
    if slug in RESERVED_SLUGS:
        return str(_l("This address is reserved. Choose another."))
    if not is_valid_slug(slug) or not SLUG_RE.fullmatch(slug):
        return str(_l("This address can not be used. Choose another."))
    return None


def slugify(text: str) -> str:
    """A slug-shaped string from a company name ("Café Müller & Co" -> "cafe-muller-co");
    may still be too short or reserved."""
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_LENGTH].rstrip("-")


def taken_slugs(session: DbSession, slugs: Iterable[str]) -> set[str]:
    """Which of ``slugs`` a tenant or an unfinished signup already holds (two queries,
    however many candidates)."""
    wanted = sorted(set(slugs))
    if not wanted:
        return set()
    taken = set(session.scalars(select(Tenant.slug).where(Tenant.slug.in_(wanted))))
    taken |= set(
        session.scalars(
            select(func.lower(Signup.slug)).where(
                func.lower(Signup.slug).in_(wanted), Signup.status.in_(OPEN_STATUSES)
            )
        )
    )
    return taken


def is_taken(session: DbSession, slug: str) -> bool:
    """Whether a tenant or an unfinished signup holds ``slug``."""
    return bool(taken_slugs(session, [slug]))


def _options(base: str) -> list[str]:
    if not base:
        return []
    stem = base[: MAX_LENGTH - 6].rstrip("-")
    options = [base] + [f"{stem}-{suffix}" for suffix in _SUFFIXES]
    options += [f"{stem}-{n}" for n in range(2, 10)]
    return [option for option in options if is_valid_slug(option)]


def _candidates(bases: Iterable[str]) -> list[str]:
    """Options of every base, taken in turns (the company's name first)."""
    rounds = zip_longest(*(_options(base) for base in bases))
    return list(dict.fromkeys(option for row in rounds for option in row if option))


def suggestions(session: DbSession, *, company_name: str = "", slug: str = "") -> list[str]:
    """Up to three free, valid addresses close to the company name and the wanted slug."""
    bases = [slugify(company_name), slugify(slug)]
    candidates = [c for c in _candidates(bases) if c != slug]
    taken = taken_slugs(session, candidates)
    return [c for c in candidates if c not in taken][:MAX_SUGGESTIONS]
