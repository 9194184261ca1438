"""Imports every model module, so that both metadata collections are complete.

Alembic autogenerate, provisioning (tables from metadata) and the schema-equality test
all need every table; importing this module guarantees it.
"""

from __future__ import annotations

from app.access.models import Role
from app.activities.models import Activity
from app.audit.models import AuditEntry, PlatformAuditEntry
from app.companies.models import Company
from app.contacts.models import Contact
from app.database import PublicBase, TenantBase
from app.deals.models import Deal
from app.identity.models import (
    AccountToken,
    ApiToken,
    Invitation,
    LoginThrottle,
    Membership,
    User,
)
from app.mail.models import OutboxMessage
from app.operators.models import Operator
from app.pipelines.models import Pipeline, Stage
from app.signup.models import Signup
from app.timeline.models import TimelineEvent
from billing.models import UsageCounter
from tenants.models import Tenant

__all__ = [
    "AccountToken",
    "Activity",
    "ApiToken",
    "AuditEntry",
    "Company",
    "Contact",
    "Deal",
    "Invitation",
    "LoginThrottle",
    "Membership",
    "Operator",
    "OutboxMessage",
    "Pipeline",
    "PlatformAuditEntry",
    "PublicBase",
    "Role",
    "Signup",
    "Stage",
    "Tenant",
    "TenantBase",
    "TimelineEvent",
    "UsageCounter",
    "User",
]
