"""Helpers for the team tests (also used by the isolation suite)."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import update

from app.database import db, utcnow
from app.identity import members
from app.identity.models import Invitation, User
from app.identity.sessions import load_member
from tenants.context import tenant_context
from tenants.models import Tenant
from tests.conftest import TenantFixture


def verify_email(app: Flask, user_id: int) -> None:
    """Mark an identity's email as verified (owners made by the factory are not)."""
    with app.app_context():
        try:
            db.session.execute(
                update(User).where(User.id == user_id).values(email_verified_at=utcnow())
            )
            db.session.commit()
        finally:
            db.session.remove()


def issue_invitation(
    app: Flask,
    tf: TenantFixture,
    email: str,
    role: str = "sales_rep",
    *,
    inviter_id: int | None = None,
    sent_minutes_ago: int = 0,
) -> tuple[int, str]:
    """Invite ``email`` through the service as the owner (or ``inviter_id``); returns
    the invitation id and the raw token of its link."""
    with app.app_context(), tenant_context(tf.tenant.ref):
        try:
            tenant = db.session.get(Tenant, tf.tenant.id)
            assert tenant is not None
            inviter = load_member(tenant.id, inviter_id or tf.owner_id)
            assert inviter is not None
            issued = members.invite(
                db.session, tenant=tenant, actor=inviter, email=email, role=role
            )
            if sent_minutes_ago:
                db.session.execute(
                    update(Invitation)
                    .where(Invitation.id == issued.invitation.id)
                    .values(last_sent_at=utcnow() - dt.timedelta(minutes=sent_minutes_ago))
                )
                db.session.commit()
            return issued.invitation.id, issued.secret
        finally:
            db.session.remove()
