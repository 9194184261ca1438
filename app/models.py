"""Imports every model module, so that both metadata collections are complete.

Alembic autogenerate, provisioning (tables from metadata) and the schema-equality test
all need every table; importing this module guarantees it.
"""

from __future__ import annotations

from app.access.models import Role
from app.activities.models import Activity
from app.audit.models import AuditEntry, PlatformAuditEntry
from app.board.models import DealStageHistory, LossReason
from app.comments.models import Comment
from app.companies.models import Company
from app.contacts.models import Contact
from app.custom_fields.models import CustomFieldDefinition
from app.database import PublicBase, TenantBase
from app.deals.models import Deal
from app.exports.models import ExportJob
from app.identity.models import (
    AccountToken,
    ApiToken,
    Invitation,
    LoginThrottle,
    Membership,
    User,
)
from app.imports.models import ImportJob
from app.lists.models import BulkEdit, Segment
from app.mail.models import OutboxMessage
from app.notifications.models import Notification
from app.operators.models import Operator
from app.pipelines.models import Pipeline, Stage
from app.signup.models import Signup
from app.timeline.models import TimelineEvent
from billing.models import BillingSubscription, StripeEvent, UsageCounter
from tenants.models import Tenant

__all__ = [
    "AccountToken",
    "Activity",
    "ApiToken",
    "AuditEntry",
    "BillingSubscription",
    "BulkEdit",
    "Comment",
    "Company",
    "Contact",
    "CustomFieldDefinition",
    "Deal",
    "DealStageHistory",
    "ExportJob",
    "ImportJob",
    "Invitation",
    "LoginThrottle",
    "LossReason",
    "Membership",
    "Notification",
    "Operator",
    "OutboxMessage",
    "Pipeline",
    "PlatformAuditEntry",
    "PublicBase",
    "Role",
    "Segment",
    "Signup",
    "Stage",
    "StripeEvent",
    "Tenant",
    "TenantBase",
    "TimelineEvent",
    "UsageCounter",
    "User",
]
