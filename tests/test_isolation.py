"""Cross-tenant isolation, route by route: tenant B never reaches tenant A's data.

``REGISTRY`` says how to exercise every endpoint of the application. A route missing
from it fails ``test_every_route_is_registered``. Every registered endpoint and method
is then tried by B's member with A's ids, with B's session cookie replayed on A's host,
with tokens on the wrong host, through forged ``Host`` headers, with schema names and
other junk in the subdomain, and with tenant-looking headers a client can set. No answer
may ever contain A's data, and A's rows must be exactly as they were afterwards.

``test_probe_reaches_the_view`` keeps the probes honest: a member of a third workspace,
on its own host with its own ids, gets the probe's normal answer, so a 404 elsewhere
means "refused", not "the probe was malformed".
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect, Rule
from werkzeug.test import TestResponse

from app.database import TenantBase, db
from app.hosts import SUBDOMAIN
from app.identity import tokens as account_tokens
from app.identity.models import AccountTokenPurpose
from app.mail.models import OutboxMessage
from app.signup.models import Signup, SignupStatus
from tenants.binding import bind_connection
from tenants.context import TenantRef, tenant_context
from tests.conftest import PASSWORD, SERVER_NAME, Factory, TenantFixture, csrf_token_from, login
from tests.team.support import issue_invitation, verify_email

# Hosts outside SERVER_NAME make Werkzeug warn (and answer 404): expected here.
pytestmark = pytest.mark.filterwarnings("ignore:Current server name:UserWarning")

APEX = SERVER_NAME
SECRET_PREFIX = "ALPHA-SECRET"
WRITE_NAME = "BETA-WRITE"
CONTACT = {"contact_id": "contact"}
DEAL = {"deal_id": "deal"}
ACTIVITY = {"activity_id": "activity"}
COMPANY = {"company_id": "company"}
MEMBER = {"user_id": "member"}
INVITATION = {"invitation_id": "invitation"}
INVITATION_TOKEN = {"token": "invitation_token"}
VERIFY_TOKEN = {"token": "verify_token"}
SIGNUP_TOKEN = {"token": "signup_token"}
OUTBOX_MESSAGE = {"message_id": "outbox_message"}
RESET_TOKEN = {"token": "reset_token"}
EMAIL_TOKEN = {"token": "email_change_token"}
SEGMENT = {"segment_id": "segment"}
BULK_EDIT = {"bulk_edit_id": "bulk_edit"}
COMMENT = {"comment_id": "comment"}
NOTIFICATION = {"notification_id": "notification"}
IMPORT = {"import_id": "import"}
EXPORT = {"export_id": "export"}
CUSTOM_FIELD = {"field_id": "custom_field"}
PIPELINE = {"pipeline_id": "pipeline"}
STAGE = {"pipeline_id": "pipeline", "stage_id": "stage"}
LOSS_REASON = {"reason_id": "loss_reason"}


@dataclass(frozen=True)
class Probe:
    """How to exercise one endpoint.

    ``ok`` maps each HTTP method to the status a member of the workspace gets when
    using the probe on its own host with its own objects. ``ids`` maps URL values to
    the kind of object they name (see ``OBJECTS``). Form values may use ``{email}``,
    ``{password}`` (the caller's) and ``{slug}`` (the targeted workspace); forms also
    carry the caller's CSRF token.
    """

    ok: Mapping[str, int | tuple[int, ...]]
    ids: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    json: Mapping[str, Any] | None = None
    # JSON fields that name an object (field -> kind, see ``OBJECTS``), e.g. the record
    # merged into the one in the URL.
    json_ids: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] | None = None
    public: bool = False  # answers without signing in
    signs_out: bool = False  # ends the session (its normal answer is the sign-in page)
    # The answer to another workspace's ids: 404, except for mailed links, which answer
    # every link they can not honour (used, expired, another workspace's) with one 400 page.
    foreign: int = 404

    def ok_statuses(self, method: str) -> set[int]:
        expected = self.ok[method]
        return {expected} if isinstance(expected, int) else set(expected)


_API: dict[str, Probe] = {
    "me": Probe(ok={"GET": 200}),
    "usage": Probe(ok={"GET": 200}),
    "list_contacts": Probe(ok={"GET": 200}, query={"q": SECRET_PREFIX, "limit": "200"}),
    "create_contact": Probe(
        ok={"POST": 201}, json={"first_name": WRITE_NAME, "email": "beta-write@example.com"}
    ),
    "get_contact": Probe(ok={"GET": 200}, ids=CONTACT),
    "update_contact": Probe(
        ok={"PATCH": 200}, ids=CONTACT, json={"first_name": WRITE_NAME, "notes": WRITE_NAME}
    ),
    "delete_contact": Probe(ok={"DELETE": 204}, ids=CONTACT),
    "list_companies": Probe(ok={"GET": 200}, query={"q": SECRET_PREFIX, "limit": "200"}),
    "create_company": Probe(ok={"POST": 201}, json={"name": WRITE_NAME, "tags": [WRITE_NAME]}),
    "get_company": Probe(ok={"GET": 200}, ids=COMPANY),
    "update_company": Probe(
        ok={"PATCH": 200}, ids=COMPANY, json={"name": WRITE_NAME, "notes": WRITE_NAME}
    ),
    "delete_company": Probe(ok={"DELETE": 204}, ids=COMPANY),
    "list_company_contacts": Probe(ok={"GET": 200}, ids=COMPANY, query={"limit": "200"}),
    "list_deals": Probe(ok={"GET": 200}, query={"q": SECRET_PREFIX, "limit": "200"}),
    "create_deal": Probe(ok={"POST": 201}, json={"title": WRITE_NAME, "amount": "1.00"}),
    "get_deal": Probe(ok={"GET": 200}, ids=DEAL),
    "update_deal": Probe(
        ok={"PATCH": 200}, ids=DEAL, json={"title": WRITE_NAME, "notes": WRITE_NAME}
    ),
    "delete_deal": Probe(ok={"DELETE": 204}, ids=DEAL),
    "list_users": Probe(ok={"GET": 200}, query={"limit": "200"}),
    "get_user": Probe(ok={"GET": 200}, ids=MEMBER),
    "update_user": Probe(ok={"PATCH": 200}, ids=MEMBER, json={"role": "viewer"}),
    "deactivate_user": Probe(ok={"POST": 200}, ids=MEMBER, json={}),
    "reactivate_user": Probe(ok={"POST": 200}, ids=MEMBER),
    "list_invitations": Probe(ok={"GET": 200}, query={"limit": "200"}),
    # The same address every time: the first call invites, later ones are "already invited".
    "create_invitation": Probe(
        ok={"POST": (201, 409)}, json={"email": "beta-invite@example.com", "role": "viewer"}
    ),
    "resend_invitation": Probe(ok={"POST": 200}, ids=INVITATION),
    "revoke_invitation": Probe(ok={"DELETE": 204}, ids=INVITATION),
    "list_activities": Probe(ok={"GET": 200}, query={"limit": "200"}),
    "create_activity": Probe(ok={"POST": 201}, json={"type": "note", "body": WRITE_NAME}),
    "get_activity": Probe(ok={"GET": 200}, ids=ACTIVITY),
    "update_activity": Probe(
        ok={"PATCH": 200}, ids=ACTIVITY, json={"subject": WRITE_NAME, "body": WRITE_NAME}
    ),
    "delete_activity": Probe(ok={"DELETE": 204}, ids=ACTIVITY),
    "complete_activity": Probe(ok={"POST": 200}, ids=ACTIVITY, json={"result_note": WRITE_NAME}),
    "reopen_activity": Probe(ok={"POST": 200}, ids=ACTIVITY),
    "contact_timeline": Probe(ok={"GET": 200}, ids=CONTACT, query={"limit": "200"}),
    "company_timeline": Probe(ok={"GET": 200}, ids=COMPANY, query={"limit": "200"}),
    "deal_timeline": Probe(ok={"GET": 200}, ids=DEAL, query={"limit": "200"}),
    # Lists: saved segments (names are unique per member: a repeated create is refused
    # as "name taken") and bulk edits over a filter naming A's marker (so that B's and
    # C's edits find none of their own records, and A's are never reached).
    "list_segments": Probe(ok={"GET": 200}, query={"limit": "200"}),
    "create_segment": Probe(
        ok={"POST": (201, 400)},
        json={"entity": "contact", "name": WRITE_NAME, "filters": {"q": SECRET_PREFIX}},
    ),
    "get_segment": Probe(ok={"GET": 200}, ids=SEGMENT),
    "update_segment": Probe(ok={"PATCH": 200}, ids=SEGMENT, json={"filters": {"q": WRITE_NAME}}),
    "delete_segment": Probe(ok={"DELETE": 204}, ids=SEGMENT),
    "list_segment_items": Probe(ok={"GET": 200}, ids=SEGMENT, query={"limit": "200"}),
    **{
        f"bulk_edit_{plural}": Probe(
            ok={"POST": 200},
            json={"action": "add_tag", "tag": WRITE_NAME, "filter": {"q": SECRET_PREFIX}},
        )
        for plural in ("contacts", "companies", "deals")
    },
    "get_bulk_edit": Probe(ok={"GET": 200}, ids=BULK_EDIT),
    # Pipelines and stages. Names are unique per workspace: the first create makes the
    # pipeline, later ones are refused as "name taken". A reorder names ids and a version
    # that differ per workspace: its normal answer is the stale-version conflict.
    "list_pipelines": Probe(ok={"GET": 200}),
    "create_pipeline": Probe(ok={"POST": (201, 400)}, json={"name": WRITE_NAME}),
    "get_pipeline": Probe(ok={"GET": 200}, ids=PIPELINE),
    "update_pipeline": Probe(ok={"PATCH": 200}, ids=PIPELINE, json={"is_default": True}),
    "delete_pipeline": Probe(ok={"DELETE": 204}, ids=PIPELINE),
    "add_stage": Probe(ok={"POST": 201}, ids=PIPELINE, json={"name": WRITE_NAME}),
    "update_stage": Probe(ok={"PATCH": 200}, ids=STAGE, json={"name": WRITE_NAME}),
    "delete_stage": Probe(ok={"DELETE": 200}, ids=STAGE),
    "reorder_stages": Probe(
        ok={"POST": 409}, ids=PIPELINE, json={"stage_ids": [1, 2, 3], "version": 999999}
    ),
    # Board (stage history and loss reasons). Names are unique per workspace: a repeated
    # create is refused as "name taken".
    "list_loss_reasons": Probe(ok={"GET": 200}),
    "create_loss_reason": Probe(ok={"POST": (201, 400)}, json={"name": WRITE_NAME}),
    "get_loss_reason": Probe(ok={"GET": 200}, ids=LOSS_REASON),
    "update_loss_reason": Probe(ok={"PATCH": 200}, ids=LOSS_REASON, json={"active": False}),
    "delete_loss_reason": Probe(ok={"DELETE": 204}, ids=LOSS_REASON),
    # Custom fields. The probe names no key: each create gets a fresh one from its label.
    "list_custom_fields": Probe(ok={"GET": 200}, query={"entity": "contact"}),
    "create_custom_field": Probe(
        ok={"POST": 201}, json={"entity": "deal", "label": WRITE_NAME, "type": "text"}
    ),
    "get_custom_field": Probe(ok={"GET": 200}, ids=CUSTOM_FIELD),
    "update_custom_field": Probe(ok={"PATCH": 200}, ids=CUSTOM_FIELD, json={"label": WRITE_NAME}),
    "delete_custom_field": Probe(ok={"DELETE": 204}, ids=CUSTOM_FIELD),
    # Exports: a filtered list queued as a job (run in-process: no broker in tests).
    "create_export": Probe(
        ok={"POST": 202},
        json={"entity": "contact", "format": "csv", "filter": {"q": SECRET_PREFIX}},
    ),
    "list_exports": Probe(ok={"GET": 200}, query={"limit": "200"}),
    "get_export": Probe(ok={"GET": 200}, ids=EXPORT),
    "download_export": Probe(ok={"GET": 200}, ids=EXPORT),
    # Imports. The upload probe has no file to send (probes post JSON or a plain form):
    # its normal answer is 415; the "import" objects are uploaded by _new_import.
    "list_imports": Probe(ok={"GET": 200}, query={"limit": "200"}),
    "create_import": Probe(ok={"POST": 415}, form={"entity": "contact"}),
    "get_import": Probe(ok={"GET": 200}, ids=IMPORT),
    "preview_import": Probe(ok={"GET": 200}, ids=IMPORT),
    "start_import": Probe(ok={"POST": 202}, ids=IMPORT, json={"dedup_policy": "skip"}),
    "import_failed_rows": Probe(ok={"GET": 200}, ids=IMPORT),
    "cancel_import": Probe(ok={"DELETE": 200}, ids=IMPORT),
    # Duplicates: the finder lists, and merging the "other_*" record into the one in the
    # URL (the body names it).
    "contact_duplicates": Probe(ok={"GET": 200}, query={"limit": "200"}),
    "company_duplicates": Probe(ok={"GET": 200}, query={"limit": "200"}),
    "merge_contact": Probe(
        ok={"POST": 200}, ids=CONTACT, json={}, json_ids={"other_id": "other_contact"}
    ),
    "merge_company": Probe(
        ok={"POST": 200}, ids=COMPANY, json={}, json_ids={"other_id": "other_company"}
    ),
    # Comments and notifications (collaboration): a card's comments, one comment, the
    # mention search (A's members carry the marker in their addresses), one's own
    # notifications.
    "list_contact_comments": Probe(ok={"GET": 200}, ids=CONTACT, query={"limit": "200"}),
    "create_contact_comment": Probe(ok={"POST": 201}, ids=CONTACT, json={"body": WRITE_NAME}),
    "list_company_comments": Probe(ok={"GET": 200}, ids=COMPANY, query={"limit": "200"}),
    "create_company_comment": Probe(ok={"POST": 201}, ids=COMPANY, json={"body": WRITE_NAME}),
    "list_deal_comments": Probe(ok={"GET": 200}, ids=DEAL, query={"limit": "200"}),
    "create_deal_comment": Probe(ok={"POST": 201}, ids=DEAL, json={"body": WRITE_NAME}),
    "get_comment": Probe(ok={"GET": 200}, ids=COMMENT),
    "update_comment": Probe(ok={"PATCH": 200}, ids=COMMENT, json={"body": WRITE_NAME}),
    "delete_comment": Probe(ok={"DELETE": 204}, ids=COMMENT),
    "list_members": Probe(ok={"GET": 200}, query={"q": SECRET_PREFIX, "limit": "20"}),
    "list_notifications": Probe(ok={"GET": 200}, query={"limit": "200"}),
    "read_notification": Probe(ok={"POST": 200}, ids=NOTIFICATION),
    "read_all_notifications": Probe(ok={"POST": 200}),
    # Search: one box over contacts, companies and deals (A's records carry the marker).
    "search": Probe(ok={"GET": 200}, query={"q": SECRET_PREFIX, "limit": "50"}),
    # Reports: read-only aggregates of the caller's own workspace (default pipeline, the
    # last 90 days); CSV for one of them.
    "report_funnel": Probe(ok={"GET": 200}),
    "report_win_rate": Probe(ok={"GET": 200}),
    "report_stage_times": Probe(ok={"GET": 200}),
    "report_loss_reasons": Probe(ok={"GET": 200}),
    "report_forecast": Probe(ok={"GET": 200}),
    "report_owners": Probe(ok={"GET": 200}),
    "report_sources": Probe(ok={"GET": 200}, query={"format": "csv"}),
    "openapi_json": Probe(ok={"GET": 200}, public=True),
    "docs": Probe(ok={"GET": 200}, public=True),
}

# Every endpoint of the application (except "static"). A new route goes here.
REGISTRY: dict[str, Probe] = {
    # Apex host.
    "health.healthz": Probe(ok={"GET": 200}, public=True),
    "health.readyz": Probe(ok={"GET": (200, 503)}, public=True),
    "apex.landing": Probe(ok={"GET": 200}, public=True),
    "apex.login": Probe(ok={"GET": 200, "POST": 302}, form={"slug": "{slug}"}, public=True),
    "apex.find_workspace": Probe(ok={"POST": 303}, form={"find-email": "{email}"}, public=True),
    # The test app sends mail through SMTP, so the development outbox is not there (A's
    # kept messages carry A's marker: none may ever be shown).
    "apex.outbox": Probe(ok={"GET": 404}, public=True),
    "apex.outbox_message": Probe(ok={"GET": 404}, ids=OUTBOX_MESSAGE, public=True),
    "apex.outbox_html": Probe(ok={"GET": 404}, ids=OUTBOX_MESSAGE, public=True),
    # Signup: an empty form is answered with field errors.
    "signup.signup": Probe(ok={"GET": 200, "POST": 200}, form={}, public=True),
    "signup.check_slug": Probe(ok={"GET": 200}, query={"slug": "free-probe-slug"}, public=True),
    # A signup's progress is only for the browser that made it (its apex session holds
    # the secret): any other session gets 404, with a real secret in the URL.
    "signup.progress": Probe(ok={"GET": 404}, ids=SIGNUP_TOKEN, public=True),
    "signup.status": Probe(ok={"GET": 404}, ids=SIGNUP_TOKEN, public=True),
    # First steps on a new workspace: without a handoff token, "not found".
    "onboarding.welcome": Probe(ok={"GET": 404}, public=True),
    "onboarding.verify_email": Probe(ok={"GET": 200}, ids=VERIFY_TOKEN, public=True),
    "onboarding.resend_verification": Probe(ok={"POST": 302}, form={}),
    # Workspace pages.
    "workspace.login": Probe(
        ok={"GET": 302, "POST": 302},
        form={"email": "{email}", "password": "{password}"},
        public=True,
    ),
    "workspace.logout": Probe(ok={"POST": 302}, form={}, signs_out=True),
    "workspace.suspended": Probe(ok={"GET": 302}, public=True),
    "workspace.home": Probe(ok={"GET": 302}),
    "workspace.contacts": Probe(ok={"GET": 200}, query={"q": SECRET_PREFIX}),
    "workspace.contact_new": Probe(ok={"GET": 200, "POST": 302}, form={"first_name": WRITE_NAME}),
    "workspace.contact_detail": Probe(ok={"GET": 200}, ids=CONTACT),
    "workspace.contact_edit": Probe(
        ok={"GET": 200, "POST": 302},
        ids=CONTACT,
        form={"first_name": WRITE_NAME, "notes": WRITE_NAME},
    ),
    "workspace.contact_delete_confirm": Probe(ok={"GET": 200}, ids=CONTACT),
    "workspace.contact_delete": Probe(ok={"POST": 302}, ids=CONTACT, form={}),
    # Company pages.
    "companies.companies": Probe(ok={"GET": 200}, query={"q": SECRET_PREFIX}),
    "companies.company_new": Probe(ok={"GET": 200, "POST": 302}, form={"name": WRITE_NAME}),
    "companies.company_detail": Probe(ok={"GET": 200}, ids=COMPANY),
    "companies.company_edit": Probe(
        ok={"GET": 200, "POST": 302}, ids=COMPANY, form={"name": WRITE_NAME, "notes": WRITE_NAME}
    ),
    "companies.company_delete_confirm": Probe(ok={"GET": 200}, ids=COMPANY),
    "companies.company_delete": Probe(ok={"POST": 302}, ids=COMPANY, form={}),
    # Deal pages. The stage move names no stage (ids differ per workspace): its normal
    # answer is the card with the field error.
    "deals.deal_list": Probe(ok={"GET": 200}, query={"q": SECRET_PREFIX}),
    "deals.deal_new": Probe(
        ok={"GET": 200, "POST": 302}, form={"title": WRITE_NAME, "currency": "EUR"}
    ),
    "deals.deal_detail": Probe(ok={"GET": 200}, ids=DEAL),
    "deals.deal_edit": Probe(
        ok={"GET": 200, "POST": 302},
        ids=DEAL,
        form={"title": WRITE_NAME, "currency": "EUR", "notes": WRITE_NAME},
    ),
    "deals.deal_move": Probe(ok={"POST": 200}, ids=DEAL, form={"stage_id": ""}),
    "deals.deal_delete_confirm": Probe(ok={"GET": 200}, ids=DEAL),
    "deals.deal_delete": Probe(ok={"POST": 302}, ids=DEAL, form={}),
    # Pipeline settings pages (the owner may edit pipelines). Names are unique per
    # workspace, so a repeated create or rename is answered with the field error; moves
    # name a version that differs per workspace and are answered with a redirect back.
    "pipelines.pipeline_list": Probe(ok={"GET": 200}),
    "pipelines.pipeline_new": Probe(ok={"GET": 200, "POST": (200, 302)}, form={"name": WRITE_NAME}),
    "pipelines.pipeline_settings": Probe(ok={"GET": 200}, ids=PIPELINE),
    "pipelines.pipeline_rename": Probe(
        ok={"POST": (302, 400)}, ids=PIPELINE, form={"name": WRITE_NAME}
    ),
    "pipelines.pipeline_make_default": Probe(ok={"POST": 302}, ids=PIPELINE, form={}),
    "pipelines.pipeline_delete": Probe(ok={"GET": 200, "POST": 302}, ids=PIPELINE, form={}),
    "pipelines.stage_add": Probe(
        ok={"POST": 302},
        ids=PIPELINE,
        form={"new-name": WRITE_NAME, "new-kind": "open", "new-color": "blue"},
    ),
    "pipelines.stage_update": Probe(
        ok={"POST": 302},
        ids=STAGE,
        form={"stage-name": WRITE_NAME, "stage-kind": "open", "stage-color": "gray"},
    ),
    "pipelines.stage_move": Probe(
        ok={"POST": 302}, ids=STAGE, form={"direction": "up", "version": "1"}
    ),
    "pipelines.stage_delete": Probe(ok={"GET": 200, "POST": 302}, ids=STAGE, form={}),
    # Board: the kanban pages, moving a card (an empty stage is the form's error page) and
    # the loss reasons settings (a repeated name is answered with the field error).
    "board.deals_board": Probe(ok={"GET": 200}),
    "board.pipeline_board": Probe(ok={"GET": 200}, ids=PIPELINE),
    "board.board_column": Probe(ok={"GET": 200}, ids=STAGE),
    "board.board_move": Probe(ok={"POST": 400}, ids=DEAL, form={"stage_id": ""}),
    "board.loss_reason_list": Probe(
        ok={"GET": 200, "POST": (302, 400)}, form={"new-name": WRITE_NAME, "new-active": "y"}
    ),
    "board.loss_reason_update": Probe(
        ok={"POST": (302, 400)}, ids=LOSS_REASON, form={"reason-name": WRITE_NAME}
    ),
    "board.loss_reason_move": Probe(ok={"POST": 302}, ids=LOSS_REASON, form={"direction": "up"}),
    "board.loss_reason_delete": Probe(ok={"POST": 302}, ids=LOSS_REASON, form={}),
    # Reports: the page (charts of the caller's own workspace) and one report as CSV.
    "reports.reports_page": Probe(ok={"GET": 200}),
    "reports.report_csv": Probe(ok={"GET": 200}, query={"report": "owners"}),
    # Custom field settings (the new field gets a fresh key made from its label).
    "custom_fields.field_list": Probe(ok={"GET": 200}, query={"entity": "company"}),
    "custom_fields.field_new": Probe(
        ok={"GET": 200, "POST": 302},
        form={"entity": "deal", "label": WRITE_NAME, "type": "text"},
    ),
    "custom_fields.field_edit": Probe(
        ok={"GET": 200, "POST": 302}, ids=CUSTOM_FIELD, form={"label": WRITE_NAME}
    ),
    "custom_fields.field_move": Probe(ok={"POST": 302}, ids=CUSTOM_FIELD, form={"direction": "up"}),
    "custom_fields.field_delete_confirm": Probe(ok={"GET": 200}, ids=CUSTOM_FIELD),
    "custom_fields.field_delete": Probe(ok={"POST": 302}, ids=CUSTOM_FIELD, form={}),
    # Search: the results page of the navigation's search box.
    "search.results": Probe(ok={"GET": 200}, query={"q": SECRET_PREFIX}),
    # Activity pages; the objects are tasks (so that done and reopen apply).
    "activities.my_tasks": Probe(ok={"GET": 200}),
    "activities.activity_new": Probe(
        ok={"GET": 200, "POST": 302}, form={"type": "note", "body": WRITE_NAME}
    ),
    "activities.activity_edit": Probe(
        ok={"GET": 200, "POST": 302}, ids=ACTIVITY, form={"type": "task", "subject": WRITE_NAME}
    ),
    "activities.activity_delete_confirm": Probe(ok={"GET": 200}, ids=ACTIVITY),
    "activities.activity_delete": Probe(ok={"POST": 302}, ids=ACTIVITY, form={}),
    "activities.activity_complete": Probe(
        ok={"POST": 302}, ids=ACTIVITY, form={"result_note": WRITE_NAME}
    ),
    "activities.activity_reopen": Probe(ok={"POST": 302}, ids=ACTIVITY, form={}),
    # Account pages. Password and 2FA probes are refused on a field (wrong code, two
    # different new passwords), so that the parties' sessions survive the probes.
    "account.login_two_factor": Probe(ok={"GET": 302, "POST": 302}, form={}, public=True),
    "account.forgot_password": Probe(
        ok={"GET": 200, "POST": 200}, form={"email": "{email}"}, public=True
    ),
    "account.reset_password": Probe(
        ok={"GET": 200, "POST": 200},
        ids=RESET_TOKEN,
        form={"password": "{password}", "password_confirm": "different"},
        public=True,
        foreign=400,
    ),
    "account.profile": Probe(
        ok={"GET": 200, "POST": 302},
        form={"name": WRITE_NAME, "locale": "en", "timezone": "UTC"},
    ),
    "account.change_email": Probe(
        ok={"POST": 302},
        form={"new_email": "new-{slug}@example.com", "email_password": "{password}"},
    ),
    "account.confirm_email": Probe(
        ok={"GET": 200, "POST": 302}, ids=EMAIL_TOKEN, form={}, foreign=400
    ),
    "account.change_password": Probe(
        ok={"POST": 200},
        form={
            "current_password": "{password}",
            "new_password": "violet tractor pelican 42",
            "new_password_confirm": "different",
        },
    ),
    "account.security_settings": Probe(ok={"GET": 200}),
    "account.totp_start": Probe(ok={"POST": 302}, form={}),
    "account.totp_confirm": Probe(ok={"POST": 200}, form={"code": "not-a-code"}),
    "account.totp_disable": Probe(ok={"POST": 302}, form={"password": "{password}", "code": "x"}),
    "account.recovery_codes": Probe(ok={"POST": 302}, form={"renew_code": "x"}),
    # An empty form keeps two-factor optional, so the probes do not lock members out.
    "account.workspace_security": Probe(ok={"POST": 302}, form={}),
    # Team pages.
    "team.members": Probe(
        ok={"GET": 200, "POST": (302, 409)},
        form={"email": "beta-invite-page@example.com", "role": "viewer"},
    ),
    "team.change_role": Probe(ok={"POST": 302}, ids=MEMBER, form={"role": "viewer"}),
    "team.deactivate": Probe(ok={"GET": 200, "POST": 302}, ids=MEMBER, form={}),
    "team.reactivate": Probe(ok={"POST": 302}, ids=MEMBER, form={}),
    "team.resend_invitation": Probe(ok={"POST": 302}, ids=INVITATION, form={}),
    "team.revoke_invitation": Probe(ok={"GET": 200, "POST": 302}, ids=INVITATION, form={}),
    # Public; a signed-in visitor is told the invitation is for someone else (409).
    "team.accept_invitation": Probe(
        ok={"GET": 200, "POST": 409},
        ids=INVITATION_TOKEN,
        form={"name": WRITE_NAME, "password": "{password}", "confirm": "{password}"},
        public=True,
    ),
    # Exports: the page, a small CSV streamed back at once, a job's status and file.
    "exports.exports_page": Probe(ok={"GET": 200}),
    "exports.export_start": Probe(
        ok={"POST": 200},
        form={"entity": "contact", "format": "csv", "filters": f"q={SECRET_PREFIX}"},
    ),
    "exports.export_status": Probe(ok={"GET": 200}, ids=EXPORT),
    "exports.export_download": Probe(ok={"GET": 200}, ids=EXPORT),
    # Lists: segments saved from a filter naming A's marker, renamed, deleted; a bulk
    # edit of every record matching it (confirmed), and a bulk edit's progress.
    "lists.segment_save": Probe(
        ok={"POST": 302},
        form={"entity": "contact", "filters": f"q={SECRET_PREFIX}", "name": WRITE_NAME},
    ),
    "lists.segment_edit": Probe(ok={"POST": 302}, ids=SEGMENT, form={"name": WRITE_NAME}),
    "lists.segment_delete": Probe(ok={"POST": 302}, ids=SEGMENT, form={}),
    "lists.bulk_edit": Probe(
        ok={"POST": 302},
        form={
            "entity": "contact",
            "action": "add_tag",
            "tag": WRITE_NAME,
            "all_matching": "y",
            "filters": f"q={SECRET_PREFIX}",
            "confirmed": "1",
        },
    ),
    "lists.bulk_progress": Probe(ok={"GET": 200}, ids=BULK_EDIT),
    "lists.bulk_status": Probe(ok={"GET": 200}, ids=BULK_EDIT),
    # Imports: an upload without a file is answered with the field error; starting from
    # the mapping page runs the job in-process (no broker in tests).
    "imports.import_list": Probe(ok={"GET": 200}),
    "imports.import_new": Probe(ok={"GET": 200, "POST": 200}, form={"entity": "contact"}),
    "imports.import_map": Probe(
        ok={"GET": 200, "POST": 302},
        ids=IMPORT,
        form={"dedup_policy": "skip", "action": "start", "match_on_sent": "1", "match_on": "email"},
    ),
    "imports.import_detail": Probe(ok={"GET": 200}, ids=IMPORT),
    "imports.import_status": Probe(ok={"GET": 200}, ids=IMPORT),
    "imports.import_cancel": Probe(ok={"POST": 302}, ids=IMPORT, form={}),
    "imports.import_problems": Probe(ok={"GET": 200}, ids=IMPORT),
    # Duplicates pages: the lists, and the merge page of a record and an "other_*" one.
    "duplicates.contact_duplicates": Probe(ok={"GET": 200}),
    "duplicates.company_duplicates": Probe(ok={"GET": 200}),
    "duplicates.contact_merge": Probe(
        ok={"GET": 200, "POST": 302},
        ids={"contact_id": "contact", "other_id": "other_contact"},
        form={},
    ),
    "duplicates.company_merge": Probe(
        ok={"GET": 200, "POST": 302},
        ids={"company_id": "company", "other_id": "other_company"},
        form={},
    ),
    # Comments on cards and one's notifications (collaboration).
    "comments.contact_comment": Probe(
        ok={"GET": 200, "POST": 302}, ids=CONTACT, form={"body": WRITE_NAME}
    ),
    "comments.company_comment": Probe(
        ok={"GET": 200, "POST": 302}, ids=COMPANY, form={"body": WRITE_NAME}
    ),
    "comments.deal_comment": Probe(
        ok={"GET": 200, "POST": 302}, ids=DEAL, form={"body": WRITE_NAME}
    ),
    "comments.comment_edit": Probe(
        ok={"GET": 200, "POST": 302}, ids=COMMENT, form={"body": WRITE_NAME}
    ),
    "comments.comment_delete_confirm": Probe(ok={"GET": 200}, ids=COMMENT),
    "comments.comment_delete": Probe(ok={"POST": 302}, ids=COMMENT, form={}),
    "notifications.notification_list": Probe(ok={"GET": 200}),
    "notifications.notification_open": Probe(ok={"POST": 302}, ids=NOTIFICATION, form={}),
    "notifications.notification_read": Probe(ok={"POST": 302}, ids=NOTIFICATION, form={}),
    "notifications.notification_read_all": Probe(ok={"POST": 302}, form={}),
    # Billing (Stripe subscriptions, the usage page). The test app bills manually, so
    # Checkout and the Portal do not exist (404); the webhook refuses anything unsigned.
    "billing.settings": Probe(ok={"GET": 200}, query={"preview": "free"}),
    "billing.checkout": Probe(ok={"POST": 404}, form={"plan": "pro", "interval": "month"}),
    "billing.portal": Probe(ok={"POST": 404}, form={}),
    "stripe_webhook.stripe_webhook": Probe(ok={"POST": 400}, form={}, public=True),
    # The REST API, on workspace hosts ("api") and, for tokens, on the apex ("api_apex").
    **{f"{bp}.{name}": probe for bp in ("api", "api_apex") for name, probe in _API.items()},
}

CASES = [
    pytest.param(endpoint, method, id=f"{endpoint}-{method}")
    for endpoint, probe in REGISTRY.items()
    for method in probe.ok
]


# --------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class Party:
    """A workspace and its signed-in owner: token, session cookie and CSRF token."""

    tf: TenantFixture
    cookie: str
    csrf: str

    @property
    def host(self) -> str:
        return self.tf.host

    @property
    def slug(self) -> str:
        return self.tf.slug

    @property
    def token(self) -> str:
        return self.tf.token

    @property
    def email(self) -> str:
        return self.tf.owner_email


@dataclass
class World:
    """Tenant A (the victim, with secrets), B (the attacker) and C (the control)."""

    app: Flask
    client: FlaskClient
    a: Party
    b: Party
    c: Party
    marker: str
    a_ids: dict[str, int | str]
    a_rows: list[dict[str, Any]]
    a_team: dict[str, Any] = field(default_factory=dict)
    a_deals: list[dict[str, Any]] = field(default_factory=list)
    a_companies: list[dict[str, Any]] = field(default_factory=list)
    a_activities: list[dict[str, Any]] = field(default_factory=list)
    a_collaboration: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)


def wsgi_host(host: str) -> str:
    """``host`` as a WSGI server hands the raw Host header over (bytes as latin-1)."""
    return host.encode("utf-8").decode("latin-1")


def _api(world: World, party: Party, method: str, path: str, **kwargs: Any) -> TestResponse:
    return world.client.open(
        path,
        method=method,
        headers=party.tf.auth(),
        environ_overrides={"HTTP_HOST": party.host},
        **kwargs,
    )


def _new_contact(world: World, party: Party, name: str) -> int:
    response = _api(
        world,
        party,
        "POST",
        "/api/v1/contacts",
        json={
            "first_name": f"{name}-first",
            "last_name": f"{name}-last",
            "email": f"{name.lower()}@{party.slug}.example",
            "company_name": f"{name} Inc",
            "notes": f"notes of {name}",
        },
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    contact_id: int = response.get_json()["id"]
    return contact_id


def _new_deal(world: World, party: Party, name: str) -> int:
    """A deal named after ``name``, with an amount, notes and tags."""
    response = _api(
        world,
        party,
        "POST",
        "/api/v1/deals",
        json={"title": name[:200], "amount": "1234.50", "notes": f"notes of {name}", "tags": ["x"]},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    deal_id: int = response.get_json()["id"]
    return deal_id


def _new_company(world: World, party: Party, name: str) -> int:
    """A company named after ``name`` (straight into the schema: the timeline probes only
    need the card to exist)."""
    from app.companies.models import Company

    with world.app.app_context(), tenant_context(party.tf.tenant.ref):
        company = Company(name=name[:200], notes=f"notes of {name}", owner_id=party.tf.owner_id)
        db.session.add(company)
        db.session.commit()
        company_id = int(company.id)
        db.session.remove()
    return company_id


def _new_activity(world: World, party: Party, name: str) -> int:
    """A task named after ``name`` with details and a result note, on the party's
    first contact's card (so that its timeline carries the name too)."""
    contacts = _api(world, party, "GET", "/api/v1/contacts", query_string={"limit": "1"})
    first = contacts.get_json()["items"]
    response = _api(
        world,
        party,
        "POST",
        "/api/v1/activities",
        json={
            "type": "task",
            "subject": name[:300],
            "body": f"details of {name}",
            "contact_id": first[0]["id"] if first else None,
        },
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    activity_id: int = response.get_json()["id"]
    return activity_id


def _new_member(world: World, party: Party, name: str) -> int:
    email = f"{name.lower()}@{party.slug}.example"
    user_id, _, _ = Factory(world.app).member(party.tf, role="sales_rep", email=email)
    return user_id


def _new_invitation(world: World, party: Party, name: str) -> int:
    # Sent "two minutes ago", so that resending it is not throttled.
    invitation_id, _ = issue_invitation(
        world.app, party.tf, f"{name.lower()}@invited.example", sent_minutes_ago=2
    )
    return invitation_id


def _new_invitation_token(world: World, party: Party, name: str) -> str:
    # A link's token is its own credential: whoever holds it may see that invitation on
    # its workspace's host, signed in anywhere or not. So the invitee's address carries
    # no secret marker; what is checked is that the token opens nothing on any other
    # host, and that using it changes nothing of A's.
    _, token = issue_invitation(
        world.app, party.tf, f"invitee-{uuid.uuid4().hex[:12]}@token.example"
    )
    return token


def _new_verify_token(world: World, party: Party, name: str) -> str:
    """A verification link for the party's owner (whose address is already verified,
    so that spending it changes nothing of the owner's)."""
    with world.app.app_context():
        try:
            secret = account_tokens.issue(
                db.session,
                AccountTokenPurpose.VERIFY_EMAIL,
                user_id=party.tf.owner_id,
                tenant_id=party.tf.tenant.id,
                payload={"email": party.email},
            )
            db.session.commit()
            return secret
        finally:
            db.session.remove()


def _new_signup_token(world: World, party: Party, name: str) -> str:
    """The progress-page secret of a (failed) signup named after ``name``."""
    secret = uuid.uuid4().hex
    with world.app.app_context():
        try:
            db.session.add(
                Signup(
                    token_hash=account_tokens.hash_secret(secret),
                    company_name=name[:200],
                    slug=f"iso-{uuid.uuid4().hex[:12]}",
                    owner_name=name[:200],
                    email=party.email,
                    plan="free",
                    status=SignupStatus.FAILED,
                    error=name,
                )
            )
            db.session.commit()
            return secret
        finally:
            db.session.remove()


def _new_outbox_message(world: World, party: Party, name: str) -> int:
    """A message kept in the development outbox, about ``name``."""
    with world.app.app_context():
        try:
            message = OutboxMessage(
                to_address=party.email, subject=name[:300], text_body=name, html_body=name
            )
            db.session.add(message)
            db.session.commit()
            return message.id
        finally:
            db.session.remove()


def _account_token(
    world: World, party: Party, purpose: AccountTokenPurpose, payload: dict[str, Any]
) -> str:
    """A mailed-link secret of the party's owner in the party's workspace."""
    with world.app.app_context():
        try:
            secret = account_tokens.issue(
                db.session,
                purpose,
                user_id=party.tf.owner_id,
                tenant_id=party.tf.tenant.id,
                payload=payload,
            )
            db.session.commit()
            return secret
        finally:
            db.session.remove()


def _new_pipeline(world: World, party: Party, name: str) -> int:
    """A pipeline named after ``name`` (with the default stages)."""
    response = _api(world, party, "POST", "/api/v1/pipelines", json={"name": name[:100]})
    assert response.status_code == 201, response.get_data(as_text=True)
    pipeline_id: int = response.get_json()["id"]
    return pipeline_id


def _new_stage(world: World, party: Party, name: str) -> int:
    """An open stage named after ``name`` in the party's newest pipeline, so that the
    stage routes get a stage of the pipeline the "pipeline" maker just made."""
    pipelines = _api(world, party, "GET", "/api/v1/pipelines").get_json()["items"]
    newest = max(p["id"] for p in pipelines)
    response = _api(
        world, party, "POST", f"/api/v1/pipelines/{newest}/stages", json={"name": name[:100]}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    stage_id: int = next(s["id"] for s in response.get_json()["stages"] if s["name"] == name[:100])
    return stage_id


def _new_loss_reason(world: World, party: Party, name: str) -> int:
    """A loss reason named after ``name`` (names are unique per workspace)."""
    response = _api(world, party, "POST", "/api/v1/loss-reasons", json={"name": name[:200]})
    assert response.status_code == 201, response.get_data(as_text=True)
    reason_id: int = response.get_json()["id"]
    return reason_id


def _new_custom_field(world: World, party: Party, name: str) -> int:
    """An optional text field labelled after ``name``, of contacts, companies or deals
    at random (so that no record form of the control workspace grows too long)."""
    entity = ("contact", "company", "deal")[uuid.uuid4().int % 3]
    response = _api(
        world,
        party,
        "POST",
        "/api/v1/custom-fields",
        json={
            "entity": entity,
            "key": f"f_{uuid.uuid4().hex[:12]}",
            "label": name[:100],
            "type": "text",
        },
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    field_id: int = response.get_json()["id"]
    return field_id


def _new_reset_token(world: World, party: Party, name: str) -> str:
    return _account_token(world, party, AccountTokenPurpose.RESET_PASSWORD, {})


def _new_email_change_token(world: World, party: Party, name: str) -> str:
    """An email-change link to the owner's own address: following it changes nothing."""
    return _account_token(world, party, AccountTokenPurpose.CHANGE_EMAIL, {"email": party.email})


def _new_export(world: World, party: Party, name: str) -> int:
    """An export of every contact of the party (its file holds their names), finished:
    with no broker the job runs inside the request."""
    response = _api(
        world, party, "POST", "/api/v1/exports", json={"entity": "contact", "format": "csv"}
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "done", body
    export_id: int = body["id"]
    return export_id


def _new_import(world: World, party: Party, name: str) -> int:
    """An uploaded (not started) import of one contact named after ``name``."""
    rows = f"First name,Last name,Email\n{name}-first,{name}-last,{name.lower()}@imp.example\n"
    response = _api(
        world,
        party,
        "POST",
        "/api/v1/imports",
        data={"entity": "contact", "file": (io.BytesIO(rows.encode()), f"{name}.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    import_id: int = response.get_json()["id"]
    return import_id


def _new_comment(world: World, party: Party, name: str) -> int:
    """A comment naming ``name`` on the party's newest contact, made first when there
    is none (a probe makes only the kinds it names)."""
    contacts = _api(world, party, "GET", "/api/v1/contacts", query_string={"limit": "1"})
    items = contacts.get_json()["items"]
    contact_id = items[0]["id"] if items else _new_contact(world, party, name)
    response = _api(
        world,
        party,
        "POST",
        f"/api/v1/contacts/{contact_id}/comments",
        json={"body": f"comment of {name}"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    comment_id: int = response.get_json()["id"]
    return comment_id


def _new_notification(world: World, party: Party, name: str) -> int:
    """An unread notification of the party's owner, titled after ``name``."""
    from app.notifications.services import notify

    with world.app.app_context(), tenant_context(party.tf.tenant.ref):
        try:
            notification = notify(
                db.session,
                user_id=party.tf.owner_id,
                kind="mention",
                title=f"notice of {name}",
                url="/contacts",
                data={"excerpt": name},
            )
            db.session.commit()
            return notification.id
        finally:
            db.session.remove()


def _new_segment(world: World, party: Party, name: str) -> int:
    """A shared contact segment named after ``name``, filtering by it."""
    response = _api(
        world,
        party,
        "POST",
        "/api/v1/segments",
        json={"entity": "contact", "name": name[:100], "filters": {"q": name}, "shared": True},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    segment_id: int = response.get_json()["id"]
    return segment_id


def _new_bulk_edit(world: World, party: Party, name: str) -> int:
    """A finished bulk edit of the party's owner (over a filter matching nothing, so that
    it changes none of the party's records)."""
    response = _api(
        world,
        party,
        "POST",
        "/api/v1/contacts/bulk",
        json={"action": "add_tag", "tag": "iso", "filter": {"q": f"nothing {name}"}},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    bulk_edit_id: int = response.get_json()["id"]
    return bulk_edit_id


# Makes one object of a kind in a workspace; returns its id (or, for invitation links,
# the token in the URL).
OBJECTS: dict[str, Callable[[World, Party, str], int | str]] = {
    "contact": _new_contact,
    "deal": _new_deal,
    "member": _new_member,
    "company": _new_company,
    "activity": _new_activity,
    "invitation": _new_invitation,
    "invitation_token": _new_invitation_token,
    "verify_token": _new_verify_token,
    "signup_token": _new_signup_token,
    "outbox_message": _new_outbox_message,
    "reset_token": _new_reset_token,
    "email_change_token": _new_email_change_token,
    # After "contact": a comment is written on the party's newest contact.
    "comment": _new_comment,
    "notification": _new_notification,
    "custom_field": _new_custom_field,
    # Pipelines: "stage" must come right after "pipeline" (see _new_stage).
    "pipeline": _new_pipeline,
    "stage": _new_stage,
    # After "contact": the export's file holds A's contacts.
    "export": _new_export,
    "import": _new_import,
    # Duplicates: the second record of a merge (a merge needs two of a kind).
    "other_contact": _new_contact,
    "other_company": _new_company,
    # Lists: a saved segment and a bulk edit.
    "segment": _new_segment,
    "bulk_edit": _new_bulk_edit,
    # Board: an entry of the loss reasons list.
    "loss_reason": _new_loss_reason,
}


def a_rows(world: World) -> list[dict[str, Any]]:
    """Every contact of A, as A's own token sees them."""
    response = _api(world, world.a, "GET", "/api/v1/contacts", query_string={"limit": "200"})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["next_cursor"] is None
    return sorted(body["items"], key=lambda row: row["id"])


def a_team(world: World) -> dict[str, Any]:
    """A's members and pending invitations, as A's own token sees them."""
    team: dict[str, Any] = {}
    for name in ("users", "invitations"):
        response = _api(world, world.a, "GET", f"/api/v1/{name}", query_string={"limit": "200"})
        assert response.status_code == 200, response.get_data(as_text=True)
        team[name] = response.get_json()["items"]
    return team


def a_deals(world: World) -> list[dict[str, Any]]:
    """Every deal of A, as A's own token sees them."""
    response = _api(world, world.a, "GET", "/api/v1/deals", query_string={"limit": "200"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["next_cursor"] is None
    return sorted(response.get_json()["items"], key=lambda row: row["id"])


def a_activities(world: World) -> list[dict[str, Any]]:
    """Every activity of A, as A's own token sees them."""
    response = _api(world, world.a, "GET", "/api/v1/activities", query_string={"limit": "200"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["next_cursor"] is None
    return sorted(response.get_json()["items"], key=lambda row: row["id"])


def a_companies(world: World) -> list[dict[str, Any]]:
    """Every company of A, as A's own token sees them."""
    response = _api(world, world.a, "GET", "/api/v1/companies", query_string={"limit": "200"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["next_cursor"] is None
    return sorted(response.get_json()["items"], key=lambda row: row["id"])


def a_collaboration(world: World) -> dict[str, list[tuple[Any, ...]]]:
    """A's comments and notifications as stored (text, edits, read marks)."""
    from app.comments.models import Comment
    from app.notifications.models import Notification

    with world.app.app_context(), tenant_context(world.a.tf.tenant.ref):
        try:
            comments = db.session.execute(
                db.select(Comment.id, Comment.body, Comment.edited_at).order_by(Comment.id)
            )
            notifications = db.session.execute(
                db.select(Notification.id, Notification.title, Notification.read_at).order_by(
                    Notification.id
                )
            )
            return {
                "comments": [tuple(row) for row in comments],
                "notifications": [tuple(row) for row in notifications],
            }
        finally:
            db.session.remove()


def assert_a_untouched(world: World) -> None:
    """A's rows: same count, same names, same everything (contacts, deals, members,
    invitations)."""
    assert a_rows(world) == world.a_rows, "A's contacts changed"
    assert a_deals(world) == world.a_deals, "A's deals changed"
    assert a_companies(world) == world.a_companies, "A's companies changed"
    assert a_activities(world) == world.a_activities, "A's activities changed"
    assert a_team(world) == world.a_team, "A's members or invitations changed"
    assert a_collaboration(world) == world.a_collaboration, "A's comments or notices changed"


def _offset_identities(app: Flask, tf: TenantFixture, start: int) -> None:
    """Start A's ids far from B's, so that "A's id on B's host" names nothing of B's."""
    ref = TenantRef(id=tf.tenant.id, slug=tf.slug, schema_name=tf.tenant.schema_name)
    with app.app_context(), db.engine.begin() as conn:
        bind_connection(conn, ref)
        for table in TenantBase.metadata.sorted_tables:
            for column in table.columns:
                if column.identity is not None:
                    conn.execute(
                        text(
                            f'ALTER TABLE "{table.name}" ALTER COLUMN "{column.name}" '
                            f"RESTART WITH {int(start)}"
                        )
                    )


def _party(app: Flask, tf: TenantFixture) -> Party:
    client = app.test_client()
    assert login(client, tf).status_code == 302
    page = client.get("/contacts/new", base_url=tf.base_url)
    assert page.status_code == 200
    csrf = csrf_token_from(page.get_data(as_text=True))
    cookie = client.get_cookie("session", domain=tf.host)
    assert cookie is not None
    return Party(tf, cookie.value, csrf)


@pytest.fixture(scope="module")
def world(app: Flask) -> World:
    """Three workspaces, made once per module; A holds the secrets."""
    factory = Factory(app)
    # Enterprise (no seat cap): every probe makes fresh members and invitations.
    a_tf = factory.tenant("alpha", name="Alpha Ltd", plan="enterprise")
    b_tf = factory.tenant("beta", name="Beta GmbH", plan="enterprise")
    c_tf = factory.tenant("gamma", name="Gamma SA", plan="enterprise")
    for tf in (a_tf, b_tf, c_tf):
        verify_email(app, tf.owner_id)  # inviting needs a verified address
    _offset_identities(app, a_tf, 1_000_000)
    w = World(
        app=app,
        client=app.test_client(use_cookies=False),
        a=_party(app, a_tf),
        b=_party(app, b_tf),
        c=_party(app, c_tf),
        marker=f"{SECRET_PREFIX}-{uuid.uuid4().hex}",
        a_ids={},
        a_rows=[],
    )
    for kind, make in OBJECTS.items():
        ids = [make(w, w.a, f"{w.marker}-{kind}-{n}") for n in range(3)]
        w.a_ids[kind] = ids[0]
        for n in range(2):
            make(w, w.b, f"BETA-{uuid.uuid4().hex}-{kind}-{n}")
    w.a_rows = a_rows(w)
    w.a_team = a_team(w)
    w.a_deals = a_deals(w)
    w.a_companies = a_companies(w)
    # Three of each kind: "company" and "other_company" (likewise for contacts).
    assert len(w.a_companies) == 6 and all(w.marker in row["name"] for row in w.a_companies)
    w.a_activities = a_activities(w)
    w.a_collaboration = a_collaboration(w)
    assert [len(rows) for rows in w.a_collaboration.values()] == [3, 3]
    assert len(w.a_activities) == 3 and all(w.marker in a["subject"] for a in w.a_activities)
    assert len(w.a_deals) == 3 and all(w.marker in row["title"] for row in w.a_deals)
    assert len(w.a_team["users"]) == 4 and len(w.a_team["invitations"]) == 6
    assert len(w.a_rows) == 6
    assert all(w.marker in row["first_name"] for row in w.a_rows)
    return w


# ------------------------------------------------------------------------ requests


def rule_of(app: Flask, endpoint: str) -> Rule:
    rules = list(app.url_map.iter_rules(endpoint))
    assert rules, f"no route for {endpoint}"
    return rules[0]


def kind_of(app: Flask, endpoint: str) -> str:
    """``page``/``api`` on workspace hosts, ``apex``/``api_apex`` on the apex host."""
    rule = rule_of(app, endpoint)
    tenant_host = rule.subdomain == SUBDOMAIN
    api = rule.rule.startswith("/api/")
    if tenant_host:
        return "api" if api else "page"
    return "api_apex" if api else "apex"


def path_for(app: Flask, endpoint: str, ids: Mapping[str, int | str]) -> str:
    """The endpoint's path with ``ids`` (object kind -> id) filled in."""
    probe = REGISTRY[endpoint]
    values = {arg: ids[kind] for arg, kind in probe.ids.items()}
    return re.sub(
        r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values[m.group(1)]), rule_of(app, endpoint).rule
    )


def routed(app: Flask, subdomain: str, path: str, method: str) -> str | None:
    """The endpoint that ``path`` reaches on a host (None: no route there)."""
    adapter = app.url_map.bind(SERVER_NAME, subdomain=subdomain)
    try:
        endpoint, _ = adapter.match(path, method=method)
    except (HTTPException, RequestRedirect):
        return None
    return str(endpoint)


def leaks(world: World, response: TestResponse) -> list[str]:
    """Pieces of A's data found in a response (body or headers)."""
    seen = (response.get_data(as_text=True) + "\n" + str(response.headers)).lower()
    secrets = [world.marker, world.a.email]
    return [secret for secret in secrets if secret.lower() in seen]


def call(
    world: World,
    endpoint: str,
    method: str,
    *,
    host: str,
    actor: Party,
    ids: Mapping[str, int | str],
    slug: str,
    cookie: bool = False,
    token: bool = False,
    headers: Mapping[str, str] | None = None,
) -> TestResponse:
    """Exercise ``endpoint`` on ``host`` as ``actor`` (cookie and/or token); asserts
    that nothing of A's comes back."""
    probe = REGISTRY[endpoint]
    sent: dict[str, str] = {}
    if cookie:
        sent["Cookie"] = f"session={actor.cookie}"
        sent["X-CSRFToken"] = actor.csrf
    if token:
        sent["Authorization"] = f"Bearer {actor.token}"
    sent.update(headers or {})
    kwargs: dict[str, Any] = {}
    if method != "GET":
        if probe.json is not None:
            named = {name: ids[kind] for name, kind in probe.json_ids.items()}
            kwargs["json"] = {**dict(probe.json), **named}
        if probe.form is not None:
            values = {"email": actor.email, "password": PASSWORD, "slug": slug}
            form = {key: value.format(**values) for key, value in probe.form.items()}
            kwargs["data"] = {**form, "csrf_token": actor.csrf}
    path = path_for(world.app, endpoint, ids)
    response = world.client.open(
        path,
        method=method,
        query_string=dict(probe.query),
        headers=sent,
        environ_overrides={"HTTP_HOST": wsgi_host(host)},
        **kwargs,
    )
    found = leaks(world, response)
    assert not found, (
        f"{method} {path} on {host!r} ({describe(actor, cookie, token)}) "
        f"answered {response.status_code} with A's data {found}"
    )
    return response


def describe(actor: Party, cookie: bool, token: bool) -> str:
    ways = [w for w, used in (("cookie", cookie), ("token", token)) if used]
    return f"{actor.slug} {'+'.join(ways) or 'anonymous'}"


def expect(response: TestResponse, allowed: set[int], what: str) -> None:
    body = response.get_data(as_text=True)
    # A form page that refused the post says why in its field errors and flashes.
    why = re.findall(r'class="(?:field-error|flash[^"]*)"[^>]*>(.*?)</', body, re.S)
    assert response.status_code in allowed, (
        f"{what}: got {response.status_code}, expected one of {sorted(allowed)}: "
        f"{why or body[:300]}"
    )


def expect_sent_to_login(response: TestResponse, what: str) -> None:
    """A page without a valid session: the sign-in page, or a refusal."""
    if response.status_code == 302:
        assert urlsplit(response.location).path == "/login", f"{what}: {response.location}"
    else:
        expect(response, {400, 401, 403, 404}, what)


NO_ROUTE = {404, 405}


def case_variants(host: str) -> list[str]:
    """The same host as a client may spell it: letter case and the default port.

    Host names are case-insensitive, so these all name A's workspace (as browsers,
    which lower-case them, would): B's credentials must be refused on every one.
    """
    mixed = "".join(ch.upper() if i % 2 else ch for i, ch in enumerate(host))
    return [host, host.upper(), mixed, f"{host}:80"]


# --------------------------------------------------------------------------- tests


def test_every_route_is_registered(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    missing = sorted(endpoints - REGISTRY.keys())
    assert not missing, (
        f"New routes {missing}: add them to REGISTRY in tests/test_isolation.py "
        "(methods, ids, body) so the isolation suite exercises them across tenants."
    )
    stale = sorted(REGISTRY.keys() - endpoints)
    assert not stale, f"REGISTRY in tests/test_isolation.py names removed routes: {stale}"
    for endpoint, probe in REGISTRY.items():
        methods: set[str] = set()
        arguments: set[str] = set()
        for rule in app.url_map.iter_rules(endpoint):
            methods |= (rule.methods or set()) - {"HEAD", "OPTIONS"}
            arguments |= set(rule.arguments) - {"tenant_slug"}
        assert set(probe.ok) == methods, (
            f"{endpoint} answers {sorted(methods)}; give REGISTRY an expected status for "
            f"each (it has {sorted(probe.ok)})"
        )
        assert set(probe.ids) == arguments, (
            f"{endpoint} takes {sorted(arguments)}; REGISTRY maps {sorted(probe.ids)}"
        )
        unknown = {*probe.ids.values(), *probe.json_ids.values()} - OBJECTS.keys()
        assert not unknown, f"{endpoint}: add a maker for {sorted(unknown)} to OBJECTS"


@pytest.mark.parametrize(("endpoint", "method"), CASES)
def test_probe_reaches_the_view(world: World, endpoint: str, method: str) -> None:
    """Control: C's own member, own host, own (fresh) objects gets the normal answer."""
    c = world.c
    probe = REGISTRY[endpoint]
    kind = kind_of(world.app, endpoint)
    ways = {
        "page": [(c.host, True, False)],
        "api": [(c.host, True, False), (c.host, False, True)],
        "api_apex": [(APEX, False, True)],
        "apex": [(APEX, True, False)],
    }[kind]
    # Only the kinds this probe names: making every kind for each of hundreds of probes
    # would also run into per-workspace caps (loss reasons, stages, custom fields).
    wanted = set(probe.ids.values()) | set(probe.json_ids.values())
    for host, cookie, token in ways:
        ids = {
            name: make(world, c, f"GAMMA-{uuid.uuid4().hex}")
            for name, make in OBJECTS.items()
            if name in wanted
        }
        response = call(
            world,
            endpoint,
            method,
            host=host,
            actor=c,
            ids=ids,
            slug=c.slug,
            cookie=cookie,
            token=token,
        )
        what = f"control {method} {endpoint} on {host} ({describe(c, cookie, token)})"
        expect(response, probe.ok_statuses(method), what)
        if response.status_code == 302 and kind == "page" and not probe.signs_out:
            assert urlsplit(response.location).path != "/login", f"{what}: not signed in"
    assert_a_untouched(world)


@pytest.mark.parametrize(("endpoint", "method"), CASES)
def test_b_member_with_a_ids(world: World, endpoint: str, method: str) -> None:
    """B's owner, signed in on B's host (or with B's token on the apex), asks for A's
    ids: 404; routes without ids answer B's own business as usual."""
    a, b = world.a, world.b
    probe = REGISTRY[endpoint]
    kind = kind_of(world.app, endpoint)
    ways = {
        "page": [(b.host, True, False)],
        "api": [(b.host, True, False), (b.host, False, True)],
        "api_apex": [(APEX, False, True)],
        "apex": [(APEX, True, False), (APEX, True, True)],
    }[kind]
    expected = {probe.foreign} if probe.ids else probe.ok_statuses(method)
    for host, cookie, token in ways:
        response = call(
            world,
            endpoint,
            method,
            host=host,
            actor=b,
            ids=world.a_ids,
            slug=a.slug,
            cookie=cookie,
            token=token,
        )
        expect(response, expected, f"{method} {endpoint} on {host} ({describe(b, cookie, token)})")
    if kind == "api_apex":
        # A workspace session means nothing on the apex host: token only.
        response = call(
            world, endpoint, method, host=APEX, actor=b, ids=world.a_ids, slug=a.slug, cookie=True
        )
        expected = probe.ok_statuses(method) if probe.public else {401}
        expect(response, expected, f"{method} {endpoint} on the apex with B's session cookie")
    assert_a_untouched(world)


@pytest.mark.parametrize(("endpoint", "method"), CASES)
def test_b_session_replayed_on_a_host(world: World, endpoint: str, method: str) -> None:
    """B's session cookie (and CSRF token) sent to A's host: 404 (401 for the API)."""
    a, b = world.a, world.b
    path = path_for(world.app, endpoint, world.a_ids)
    target = routed(world.app, a.slug, path, method)
    for host in case_variants(a.host):
        response = call(
            world, endpoint, method, host=host, actor=b, ids=world.a_ids, slug=a.slug, cookie=True
        )
        what = f"B's cookie: {method} {path} on {host} (reaches {target})"
        if target is None:
            expect(response, NO_ROUTE, what)
        elif kind_of(world.app, target) == "page":
            expect(response, {404}, what)
        elif REGISTRY[target].public:
            expect(response, REGISTRY[target].ok_statuses(method), what)
        else:
            expect(response, {401, 404}, what)
    assert_a_untouched(world)


def test_b_session_cookie_from_the_jar_on_a_host(world: World) -> None:
    """The same with a browser-like cookie jar: B's cookie stored for A's domain."""
    a, b = world.a, world.b
    client = world.app.test_client()
    client.set_cookie("session", b.cookie, domain=a.host)
    contact = world.a_ids["contact"]
    paths = ("/", "/contacts", f"/contacts/{contact}", "/api/v1/me", f"/api/v1/contacts/{contact}")
    for path in paths:
        response = client.get(path, base_url=a.tf.base_url)
        assert not leaks(world, response), path
        assert response.status_code == 404, (path, response.status_code)
    # The jar itself keeps cookies per host: B's own cookie is not sent to A's host.
    jar = world.app.test_client()
    jar.set_cookie("session", b.cookie, domain=b.host)
    response = jar.get("/contacts", base_url=a.tf.base_url)
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/login"
    assert jar.get("/contacts", base_url=b.tf.base_url).status_code == 200


def test_cookie_of_a_member_of_both_workspaces_stays_on_its_host(world: World) -> None:
    """Someone who belongs to A and B: the cookie minted on B is still refused on A
    (the session names its workspace), and the one minted on A shows A only."""
    a, b = world.a, world.b
    factory = Factory(world.app)
    email = f"both-{uuid.uuid4().hex[:8]}@example.com"
    factory.member(a.tf, role="viewer", email=email)
    factory.member(b.tf, role="admin", email=email)
    world.a_team = a_team(world)  # A has one more member now, on purpose
    cookies = {}
    for party in (a, b):
        client = world.app.test_client()
        assert login(client, party.tf, email=email).status_code == 302
        cookie = client.get_cookie("session", domain=party.host)
        assert cookie is not None
        cookies[party.slug] = cookie.value
    contact = world.a_ids["contact"]
    for path in ("/contacts", f"/contacts/{contact}", "/api/v1/me", f"/api/v1/contacts/{contact}"):
        response = world.client.get(
            path,
            headers={"Cookie": f"session={cookies[b.slug]}"},
            environ_overrides={"HTTP_HOST": a.host},
        )
        assert not leaks(world, response), path
        assert response.status_code == 404, (path, response.status_code)
    response = world.client.get(
        "/api/v1/me",
        headers={"Cookie": f"session={cookies[a.slug]}"},
        environ_overrides={"HTTP_HOST": a.host},
    )
    assert response.status_code == 200
    assert response.get_json()["tenant"]["slug"] == a.slug
    assert response.get_json()["role"] == "viewer"
    assert_a_untouched(world)


@pytest.mark.parametrize(("endpoint", "method"), CASES)
def test_tokens_on_the_wrong_host(world: World, endpoint: str, method: str) -> None:
    """B's token on A's host and A's token on B's host: 401. B's token with A's ids on
    the apex host (where a token binds its own workspace): 404."""
    a, b = world.a, world.b
    path = path_for(world.app, endpoint, world.a_ids)
    for actor, victim_host in ((b, a), (a, b)):
        target = routed(world.app, victim_host.slug, path, method)
        hosts = case_variants(victim_host.host) if actor is b else [victim_host.host]
        for host in hosts:
            response = call(
                world,
                endpoint,
                method,
                host=host,
                actor=actor,
                ids=world.a_ids,
                slug=a.slug,
                token=True,
            )
            what = f"{actor.slug}'s token: {method} {path} on {host} (reaches {target})"
            if target is None:
                expect(response, NO_ROUTE, what)
            elif REGISTRY[target].public:
                expect(response, set(range(200, 500)), what)
            elif kind_of(world.app, target) == "api":
                expect(response, {401}, what)
            else:
                expect_sent_to_login(response, what)
    target = routed(world.app, "", path, method)
    response = call(
        world, endpoint, method, host=APEX, actor=b, ids=world.a_ids, slug=a.slug, token=True
    )
    what = f"B's token: {method} {path} on the apex (reaches {target})"
    if target is None:
        expect(response, NO_ROUTE, what)
    elif kind_of(world.app, target) == "api_apex" and REGISTRY[target].ids:
        expect(response, {404}, what)
    elif target == endpoint and kind_of(world.app, target) == "api_apex":
        expect(response, REGISTRY[target].ok_statuses(method), what)
    else:
        expect(response, set(range(200, 500)), what)
    assert_a_untouched(world)


def forged_hosts(world: World) -> list[str]:
    """Hosts that must reach no workspace (and no apex page) at all."""
    a, b = world.a, world.b
    return [
        f"nobody-{uuid.uuid4().hex[:8]}.{SERVER_NAME}",
        "evil.com",
        f"{a.slug}.evil.com",
        f"{a.host}.evil.com",
        f"evil.com.{a.host}",
        f"x.{a.host}",
        f"{a.slug}.{b.host}",
        f"{a.host}:8443",
        f"{a.host}:1",
        f"{a.host}.",
        f".{a.host}",
        f"..{a.host}",
        f"{a.slug}..{SERVER_NAME}",
        f"user@{a.host}",
        f"{b.host},{a.host}",
        f"{a.host}/x",
        f"{a.slug}-.{SERVER_NAME}",
        f"-{a.slug}.{SERVER_NAME}",
    ]


@pytest.mark.parametrize(("endpoint", "method"), CASES)
def test_forged_hosts_reach_nothing(world: World, endpoint: str, method: str) -> None:
    """Even A's own session and token get 404/400 through a host that is not exactly
    ``<slug>.<domain>``: nothing ever resolves "close enough" to A."""
    a = world.a
    for host in forged_hosts(world):
        for cookie, token in ((True, False), (False, True)):
            response = call(
                world,
                endpoint,
                method,
                host=host,
                actor=a,
                ids=world.a_ids,
                slug=a.slug,
                cookie=cookie,
                token=token,
            )
            what = f"{method} {endpoint} on {host!r} ({describe(a, cookie, token)})"
            expect(response, {400, 404}, what)
    assert_a_untouched(world)


def injected_labels(world: World) -> list[str]:
    """Subdomain labels that try to name a schema, or are not a slug at all."""
    a = world.a
    return [
        'a"; drop schema public cascade; --',
        "a';drop schema public cascade;--",
        "public",
        "pg_catalog",
        "information_schema",
        "pg_toast",
        "t_1",
        a.tf.tenant.schema_name,
        "crm_no_tenant_bound",
        "www",
        "api",
        "admin",
        "x" * 41,
        "x" * 64,
        "a" * 70,
        "ümlaut",
        "\u0430" + a.slug[1:],  # Cyrillic a (U+0430)
        "\u0430cme",
        "\u202e" + a.slug,  # right-to-left override
        "\u05e9\u05dc\u05d5\u05dd",  # Hebrew
        "%61" + a.slug[1:],
        "%2e%2e",
        f"{a.slug}%00",
        f"{a.slug}\x00",
        "",
        " ",
        "*",
    ]


def schemas(world: World) -> set[str]:
    with world.app.app_context(), db.engine.connect() as conn:
        return set(conn.scalars(text("SELECT nspname FROM pg_catalog.pg_namespace")))


@pytest.mark.parametrize(("endpoint", "method"), CASES)
def test_schema_names_in_the_subdomain(world: World, endpoint: str, method: str) -> None:
    """Schema names, injection and unicode as the subdomain: 404/400, and every schema
    is still there afterwards."""
    a, b = world.a, world.b
    for label in injected_labels(world):
        host = f"{label}.{SERVER_NAME}"
        for cookie, token in ((True, False), (False, True)):
            response = call(
                world,
                endpoint,
                method,
                host=host,
                actor=a,
                ids=world.a_ids,
                slug=a.slug,
                cookie=cookie,
                token=token,
            )
            what = f"{method} {endpoint} on {host!r} ({describe(a, cookie, token)})"
            expect(response, {400, 404}, what)
    expected = {
        "public",
        "pg_catalog",
        "information_schema",
        a.tf.tenant.schema_name,
        b.tf.tenant.schema_name,
    }
    assert expected <= schemas(world)
    with world.app.app_context(), db.engine.connect() as conn:
        found = set(conn.scalars(text("SELECT schema_name FROM information_schema.schemata")))
    assert expected <= found
    assert_a_untouched(world)


@pytest.mark.parametrize(("endpoint", "method"), CASES)
def test_client_set_tenant_headers_are_ignored(world: World, endpoint: str, method: str) -> None:
    """X-Forwarded-Host, Forwarded and tenant-ish headers naming A change nothing: B's
    requests stay B's, and A's token on B's host is still refused."""
    a, b = world.a, world.b
    probe = REGISTRY[endpoint]
    kind = kind_of(world.app, endpoint)
    headers = {
        "X-Forwarded-Host": a.host,
        "Forwarded": f'host="{a.host}";proto=http',
        "X-Original-Host": a.host,
        "X-Host": a.host,
        "X-Forwarded-Server": a.host,
        "X-Tenant": a.slug,
        "X-Tenant-Id": str(a.tf.tenant.id),
        "X-Tenant-Slug": a.slug,
        "X-Schema": a.tf.tenant.schema_name,
    }
    host = b.host if kind in {"page", "api"} else APEX
    cookie, token = (kind != "api_apex"), (kind == "api_apex")
    response = call(
        world,
        endpoint,
        method,
        host=host,
        actor=b,
        ids=world.a_ids,
        slug=a.slug,
        cookie=cookie,
        token=token,
        headers=headers,
    )
    expected = {probe.foreign} if probe.ids else probe.ok_statuses(method)
    expect(response, expected, f"{method} {endpoint} on {host} with A's host in headers")
    if kind == "api" and not probe.public:
        response = call(
            world,
            endpoint,
            method,
            host=b.host,
            actor=a,
            ids=world.a_ids,
            slug=a.slug,
            token=True,
            headers=headers,
        )
        expect(response, {401}, f"A's token on B's host, A in the headers: {method} {endpoint}")
    assert_a_untouched(world)


def test_tenant_fields_in_bodies_are_not_honoured(world: World) -> None:
    """A body can not choose the workspace, nor hand a record to A's people."""
    a, b = world.a, world.b
    for extra in (
        {"tenant_id": a.tf.tenant.id},
        {"tenant": a.slug},
        {"schema_name": a.tf.tenant.schema_name},
        {"owner_id": a.tf.owner_id},
    ):
        response = _api(
            world, b, "POST", "/api/v1/contacts", json={"first_name": WRITE_NAME, **extra}
        )
        assert response.status_code == 400, (extra, response.status_code)
        assert response.get_json()["error"]["code"] == "validation_error"
    own = _new_contact(world, b, f"BETA-{uuid.uuid4().hex}")
    response = _api(world, b, "PATCH", f"/api/v1/contacts/{own}", json={"owner_id": a.tf.owner_id})
    assert response.status_code == 400, response.status_code
    response = _api(
        world, b, "GET", "/api/v1/contacts", query_string={"owner_id": str(a.tf.owner_id)}
    )
    assert response.status_code == 200
    assert response.get_json()["items"] == []
    assert_a_untouched(world)


@pytest.mark.parametrize(
    "slug",
    [
        'a"; drop schema public cascade; --',
        "public",
        "pg_catalog",
        "t_1",
        "\u0430cme",
        "x" * 64,
        "%61cme",
        "",
    ],
)
def test_apex_sign_in_refuses_non_slugs(world: World, slug: str) -> None:
    """The apex "find my workspace" form only ever redirects to a well-formed host."""
    c = world.c
    response = world.client.post(
        "/login",
        headers={"Cookie": f"session={c.cookie}"},
        data={"slug": slug, "csrf_token": c.csrf},
        environ_overrides={"HTTP_HOST": APEX},
    )
    if response.status_code == 302:
        # Well-formed (if unknown) addresses redirect, so the form can not enumerate
        # customers; the redirect still names nothing but a plain label.
        target = urlsplit(response.location)
        label = target.hostname.removesuffix(f".{SERVER_NAME}") if target.hostname else ""
        assert re.fullmatch(r"[a-z0-9-]+", label), response.location
        assert target.netloc == f"{label}.{SERVER_NAME}"
    else:
        assert response.status_code == 200, response.status_code
    assert {"public", "pg_catalog", world.a.tf.tenant.schema_name} <= schemas(world)
