"""Settings, read from environment variables with safe development defaults.

Production refuses to start with the development secret: a guessable SECRET_KEY would
let anyone forge a session cookie for any workspace.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

DEV_SECRET_KEY = "dev-insecure-secret-change-me"  # noqa: S105 - refused in production below

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_PATH = PROJECT_ROOT / "instance"
ENV_NAMES = frozenset({"development", "test", "production"})


class ConfigError(RuntimeError):
    """The configuration can not be used (e.g. production with a development secret)."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(e: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = e.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}.") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}.")
    return value


def from_env(env: dict[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables."""
    e = dict(os.environ if env is None else env)
    env_name = e.get("CRM_ENV", "").strip() or "development"
    stripe_secret = e.get("STRIPE_SECRET_KEY") or None
    config: dict[str, Any] = {
        "ENV_NAME": env_name,
        "SECRET_KEY": e.get("SECRET_KEY", DEV_SECRET_KEY),
        # The apex domain; workspaces live at <slug>.<SERVER_NAME>. Flask matches the
        # subdomain (subdomain_matching), so hosts outside this domain find no route.
        "SERVER_NAME": e.get("SERVER_NAME", "localhost:5000"),
        "PREFERRED_URL_SCHEME": e.get("PREFERRED_URL_SCHEME", "http"),
        "DATABASE_URL": e.get("DATABASE_URL") or None,
        "REDIS_URL": e.get("REDIS_URL") or None,
        "CELERY_BROKER_URL": e.get("CELERY_BROKER_URL") or e.get("REDIS_URL") or None,
        # Defaults to the broker; only needed to keep results somewhere else.
        "CELERY_RESULT_BACKEND": e.get("CELERY_RESULT_BACKEND") or None,
        # The queue tasks are sent to and workers consume (one per deployment sharing a
        # Redis).
        "CELERY_TASK_QUEUE": e.get("CRM_CELERY_QUEUE") or "crm",
        # The plans' API rate limits (billing.rate_limit): counted in this Redis; unset,
        # in the Celery broker's Redis; with neither (the embedded setup) they are off.
        "RATE_LIMIT_ENABLED": _bool(e.get("RATE_LIMIT_ENABLED"), True),
        "RATE_LIMIT_REDIS_URL": e.get("RATE_LIMIT_REDIS_URL") or None,
        # Namespace of the counters' keys (deployments sharing a Redis use their own).
        "RATE_LIMIT_KEY_PREFIX": e.get("RATE_LIMIT_KEY_PREFIX") or "crm",
        # A Redis slower than this is skipped (requests are served without a limit).
        "RATE_LIMIT_REDIS_TIMEOUT_MS": _int(e, "RATE_LIMIT_REDIS_TIMEOUT_MS", 200, minimum=1),
        "INSTANCE_PATH": e.get("CRM_INSTANCE_PATH", str(DEFAULT_INSTANCE_PATH)),
        "STRIPE_SECRET_KEY": stripe_secret,
        "STRIPE_WEBHOOK_SECRET": e.get("STRIPE_WEBHOOK_SECRET") or None,
        "STRIPE_API_BASE": e.get("STRIPE_API_BASE") or None,
        "BILLING_BACKEND": "stripe" if stripe_secret else "manual",
        # Outgoing mail: SMTP when a host is set, else kept in the development outbox
        # (the apex /outbox page). Production refuses to run without SMTP.
        "MAIL_SMTP_HOST": e.get("MAIL_SMTP_HOST") or None,
        "MAIL_SMTP_PORT": _int(e, "MAIL_SMTP_PORT", 25, minimum=1),
        "MAIL_SMTP_USERNAME": e.get("MAIL_SMTP_USERNAME") or None,
        "MAIL_SMTP_PASSWORD": e.get("MAIL_SMTP_PASSWORD") or None,
        "MAIL_SMTP_STARTTLS": _bool(e.get("MAIL_SMTP_STARTTLS")),
        "MAIL_SMTP_SSL": _bool(e.get("MAIL_SMTP_SSL")),
        "MAIL_SMTP_TIMEOUT": _int(e, "MAIL_SMTP_TIMEOUT", 10, minimum=1),
        "MAIL_FROM": e.get("MAIL_FROM") or None,
        "MIGRATION_PARALLELISM": _int(e, "CRM_MIGRATION_PARALLELISM", 4, minimum=1),
        "MIGRATION_LOCK_TIMEOUT_MS": _int(e, "CRM_MIGRATION_LOCK_TIMEOUT_MS", 5000, minimum=1),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(e.get("SESSION_COOKIE_SECURE"), env_name == "production"),
        # Host-only cookies: a cookie set by acme.<domain> is never sent to globex.<domain>.
        "SESSION_COOKIE_DOMAIN": False,
        "REMEMBER_COOKIE_DOMAIN": None,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool(e.get("SESSION_COOKIE_SECURE"), env_name == "production"),
        "REMEMBER_COOKIE_DURATION": dt.timedelta(days=_int(e, "REMEMBER_COOKIE_DAYS", 30, 1)),
        # Sign-in throttling (app/identity/throttle.py): an address is locked for
        # LOGIN_LOCKOUT_SECONDS after so many failures within the window; so is a client
        # IP, with a higher bar (offices and carrier NAT share addresses).
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": _int(e, "LOGIN_MAX_FAILURES_PER_ACCOUNT", 5, 1),
        "LOGIN_MAX_FAILURES_PER_IP": _int(e, "LOGIN_MAX_FAILURES_PER_IP", 30, 1),
        "LOGIN_LOCKOUT_SECONDS": _int(e, "LOGIN_LOCKOUT_SECONDS", 900, 1),
        "LOGIN_FAILURE_WINDOW_SECONDS": _int(e, "LOGIN_FAILURE_WINDOW_SECONDS", 900, 1),
        # Proxies in front of the app that append to X-Forwarded-For (and set
        # X-Forwarded-Proto/Host). 0 trusts no header: a client could otherwise forge its
        # address and escape every per-IP limit.
        "TRUSTED_PROXIES": _int(e, "CRM_TRUSTED_PROXIES", 0),
        # Per client IP and hour: signups, and "find my workspace" mails asked for.
        "SIGNUP_MAX_PER_IP_PER_HOUR": _int(e, "SIGNUP_MAX_PER_IP_PER_HOUR", 5, 1),
        "FIND_WORKSPACE_MAX_PER_IP_PER_HOUR": _int(e, "FIND_WORKSPACE_MAX_PER_IP_PER_HOUR", 5, 1),
        # At most this many password-reset mails per account and hour.
        "PASSWORD_RESET_MAILS_PER_HOUR": _int(e, "PASSWORD_RESET_MAILS_PER_HOUR", 3, 1),
        # Export files: a directory web and worker processes share (a volume in
        # production); unset, the instance folder's "exports".
        "EXPORT_STORAGE_DIR": e.get("CRM_EXPORT_STORAGE_DIR") or None,
        # Imports (app.imports): the largest file accepted, the most rows in one file, and
        # the rows written per transaction.
        "IMPORT_MAX_BYTES": _int(e, "IMPORT_MAX_BYTES", 200 * 1024 * 1024, 1),
        "IMPORT_MAX_ROWS": _int(e, "IMPORT_MAX_ROWS", 1_000_000, 1),
        "IMPORT_CHUNK_ROWS": _int(e, "IMPORT_CHUNK_ROWS", 5000, 1),
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "en",
        "SEED_DEMO": _bool(e.get("CRM_SEED_DEMO"), True),
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_pre_ping": True,
            "pool_size": _int(e, "CRM_DB_POOL_SIZE", 5, minimum=1),
            "max_overflow": _int(e, "CRM_DB_MAX_OVERFLOW", 10),
            # A database that does not answer must fail a probe or a request in seconds,
            # not hang a worker.
            "connect_args": {"connect_timeout": _int(e, "CRM_DB_CONNECT_TIMEOUT", 10, minimum=1)},
        },
    }
    return config


def validate(config: dict[str, Any]) -> None:
    """Refuse configurations that are unsafe to run."""
    env_name = config.get("ENV_NAME")
    if env_name not in ENV_NAMES:
        # A typo such as "prod" must not quietly run with development defaults.
        raise ConfigError(
            f"CRM_ENV must be one of {', '.join(sorted(ENV_NAMES))}, not {env_name!r}."
        )
    if env_name == "production":
        secret = config.get("SECRET_KEY") or ""
        if secret == DEV_SECRET_KEY or len(secret) < 32:
            raise ConfigError(
                "SECRET_KEY must be set to a random value of at least 32 characters "
                "in production (CRM_ENV=production)."
            )
        if not config.get("DATABASE_URL"):
            raise ConfigError("DATABASE_URL must be set in production.")
        if not config.get("MAIL_SMTP_HOST"):
            # Without it, verification, invitation and reset links would go nowhere.
            raise ConfigError("MAIL_SMTP_HOST must be set in production.")
    if not config.get("MAIL_FROM"):
        host = str(config.get("SERVER_NAME") or "localhost").split(":", 1)[0]
        config["MAIL_FROM"] = f"CRM <no-reply@{host}>"
