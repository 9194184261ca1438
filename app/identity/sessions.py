"""Browser sessions on workspace hosts (Flask-Login).

A session id names the tenant, the user and the user's security stamp
(``"<tenant_id>:<user_id>:<stamp>"``). A cookie minted on one workspace means nothing on
another: the loader refuses it, and the workspace answers 404 as if the page did not
exist. A password change renews the stamp, which ends every session and "remember me"
cookie made before it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, g, session
from flask_login import UserMixin, login_user

from app.access.policy import Actor, actor_for
from app.database import db
from app.extensions import login_manager
from app.identity.models import Membership, User
from app.identity.services import active_membership


@dataclass
class Member(UserMixin):
    """The signed-in person as a member of the current workspace."""

    user: User
    membership: Membership

    def get_id(self) -> str:
        """Session id: tenant, user and stamp, so it can not be replayed on another
        tenant, nor outlive a password change."""
        return f"{self.membership.tenant_id}:{self.user.id}:{self.user.security_stamp}"

    @property
    def id(self) -> int:
        """The platform user id."""
        return self.user.id

    @property
    def email(self) -> str:
        """The member's email."""
        return self.user.email

    @property
    def actor(self) -> Actor:
        """The member as the policy sees them."""
        return actor_for(self.user.id, self.membership.role)


def load_member(tenant_id: int, user_id: int) -> Member | None:
    """The active member ``user_id`` of ``tenant_id``, or None."""
    membership = active_membership(db.session, user_id, tenant_id)
    if membership is None:
        return None
    return Member(user=membership.user, membership=membership)


@login_manager.user_loader
def _load(session_id: str) -> Member | None:
    tenant = g.get("tenant")
    if tenant is None:
        return None  # apex host: workspace sessions mean nothing here
    tenant_part, _, rest = session_id.partition(":")
    user_part, _, stamp = rest.partition(":")
    if not (tenant_part.isdigit() and user_part.isdigit()) or int(tenant_part) != tenant.id:
        g.foreign_identity = True
        return None
    member = load_member(tenant.id, int(user_part))
    if member is None:
        g.foreign_identity = True
        return None
    if not stamp or stamp != member.user.security_stamp:
        # Signed in before a password change (or "sign out everywhere"): the session is
        # over. The visitor is simply anonymous here, and goes to the sign-in page.
        return None
    return member


def sign_in(member: Member, *, remember: bool = False) -> None:
    """Start a signed-in session for ``member`` on this workspace host.

    Everything in the old session is dropped first, so the session (and the CSRF token
    kept in it) is a new one: whatever an attacker planted before sign-in is worthless.
    """
    session.clear()
    login_user(member, remember=remember, fresh=True)


def init_app(app: Flask) -> None:
    """Configure where anonymous visitors are sent."""
    login_manager.login_view = "workspace.login"
    login_manager.login_message = None
