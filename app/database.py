"""Declarative bases and the shared Flask-SQLAlchemy handle.

Two metadata collections, on purpose:

* ``PublicBase``: platform tables, always schema-qualified as ``public.<table>`` so that
  they are found whatever the transaction's ``search_path`` is.
* ``TenantBase``: tables that exist once per tenant schema. They carry no schema: the
  tenant binding (``tenants.binding``) points ``search_path`` at the right schema for
  each transaction, and at nothing when no tenant is bound. They never hold foreign keys
  into ``public`` (so that a schema can be moved or distributed on its own).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, TypeAlias

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import BigInteger, DateTime, Identity, MetaData, String, func
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, scoped_session

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PUBLIC_SCHEMA = "public"


class PublicBase(DeclarativeBase):
    """Platform tables in the ``public`` schema."""

    metadata = MetaData(schema=PUBLIC_SCHEMA, naming_convention=NAMING_CONVENTION)


class TenantBase(DeclarativeBase):
    """Tables created in every tenant schema."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Reusable column types.
BigId = Annotated[int, mapped_column(BigInteger, Identity(always=False), primary_key=True)]
Timestamp = Annotated[
    dt.datetime, mapped_column(DateTime(timezone=True), server_default=func.now())
]
Str100 = Annotated[str, mapped_column(String(100))]
Str255 = Annotated[str, mapped_column(String(255))]


def utcnow() -> dt.datetime:
    """Timezone-aware now, the only kind of timestamp this code base stores."""
    return dt.datetime.now(dt.UTC)


# What services accept: a plain Session (CLI loops, workers) or Flask-SQLAlchemy's
# request-scoped ``db.session``.
DbSession: TypeAlias = Session | scoped_session[Any]

db = SQLAlchemy(session_options={"expire_on_commit": True})
