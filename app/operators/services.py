"""Operator account services."""

from __future__ import annotations

from sqlalchemy import func, select

from app.audit.services import record_platform
from app.database import DbSession
from app.identity.passwords import MIN_PASSWORD_LENGTH, hash_password
from app.identity.services import IdentityError, normalize_email
from app.operators.models import Operator


class OperatorError(ValueError):
    """The operator can not be created as asked."""


def create_operator(session: DbSession, *, email: str, password: str, actor: str) -> Operator:
    """Create an operator account (TOTP enrolment happens at first login)."""
    try:
        email = normalize_email(email)
    except IdentityError as exc:
        raise OperatorError(str(exc)) from exc
    if len(password) < MIN_PASSWORD_LENGTH:
        raise OperatorError(f"Use at least {MIN_PASSWORD_LENGTH} characters for the password.")
    exists = session.scalar(select(Operator.id).where(func.lower(Operator.email) == email))
    if exists is not None:
        raise OperatorError(f"An operator {email} already exists.")
    operator = Operator(email=email, password_hash=hash_password(password))
    session.add(operator)
    record_platform(session, actor=actor, action="operator.created", details={"email": email})
    session.flush()
    return operator
