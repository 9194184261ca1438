"""Settings from the environment: safe development defaults, and production refusing
configurations that are unsafe to run."""

from __future__ import annotations

import secrets

import pytest

from app import create_app
from app.config import DEV_SECRET_KEY, ConfigError, from_env, validate

PRODUCTION = {
    "CRM_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(48),
    "DATABASE_URL": "postgresql://crm:pw@db.internal:5432/crm",
    "SERVER_NAME": "crm.example.com",
    "MAIL_SMTP_HOST": "smtp.internal",
}


def settings(**env: str) -> dict[str, object]:
    config = from_env(env)
    validate(config)
    return config


def test_development_defaults_are_sane() -> None:
    config = settings()
    assert config["ENV_NAME"] == "development"
    assert config["SECRET_KEY"] == DEV_SECRET_KEY
    assert config["SERVER_NAME"] == "localhost:5000"
    # No database URL: the embedded server. No broker: tasks run in-process.
    assert config["DATABASE_URL"] is None
    assert config["CELERY_BROKER_URL"] is None
    assert config["CELERY_TASK_QUEUE"] == "crm"
    assert config["BILLING_BACKEND"] == "manual"
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["SESSION_COOKIE_SECURE"] is False  # plain http on localhost
    # Host-only cookies: one workspace's cookie is never sent to another's host.
    assert config["SESSION_COOKIE_DOMAIN"] is False
    assert config["MIGRATION_PARALLELISM"] == 4
    assert config["MIGRATION_LOCK_TIMEOUT_MS"] == 5000
    engine_options = config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert isinstance(engine_options, dict)
    assert engine_options["pool_pre_ping"] is True
    assert engine_options["connect_args"] == {"connect_timeout": 10}


def test_from_env_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVER_NAME", "crm.internal:8000")
    monkeypatch.setenv("CRM_MIGRATION_PARALLELISM", "8")
    assert from_env()["SERVER_NAME"] == "crm.internal:8000"
    assert from_env()["MIGRATION_PARALLELISM"] == 8


def test_production_with_a_strong_secret_and_a_database_is_accepted() -> None:
    config = settings(**PRODUCTION)
    assert config["ENV_NAME"] == "production"
    assert config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    "secret",
    [None, DEV_SECRET_KEY, "", "short-secret", "x" * 31],
    ids=["unset", "development", "empty", "short", "31-chars"],
)
def test_production_refuses_a_development_or_short_secret(secret: str | None) -> None:
    env = dict(PRODUCTION)
    env.pop("SECRET_KEY")
    if secret is not None:
        env["SECRET_KEY"] = secret
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        settings(**env)


def test_production_requires_a_database_url() -> None:
    env = {**PRODUCTION, "DATABASE_URL": ""}
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        settings(**env)
    env.pop("DATABASE_URL")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        settings(**env)


def test_production_requires_an_smtp_server() -> None:
    # Verification, invitation and reset links must reach people.
    env = {k: v for k, v in PRODUCTION.items() if k != "MAIL_SMTP_HOST"}
    with pytest.raises(ConfigError, match="MAIL_SMTP_HOST"):
        settings(**env)


def test_mail_sender_defaults_to_the_apex_domain() -> None:
    assert settings(**PRODUCTION)["MAIL_FROM"] == "CRM <no-reply@crm.example.com>"


def test_create_app_refuses_an_unsafe_production_config() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({**from_env({}), "ENV_NAME": "production", "DATABASE_URL": "postgresql://x/y"})


@pytest.mark.parametrize("name", ["prod", "Production", "staging"])
def test_an_unknown_environment_name_is_refused(name: str) -> None:
    # A typo must not quietly run production with development defaults.
    with pytest.raises(ConfigError, match="CRM_ENV"):
        settings(CRM_ENV=name)


def test_billing_is_manual_without_stripe_keys() -> None:
    assert settings()["BILLING_BACKEND"] == "manual"
    assert settings(STRIPE_WEBHOOK_SECRET="whsec_x")["BILLING_BACKEND"] == "manual"
    assert settings(STRIPE_SECRET_KEY="")["BILLING_BACKEND"] == "manual"
    stripe = settings(STRIPE_SECRET_KEY="sk_test_123", STRIPE_API_BASE="http://stripe-mock:12111")
    assert stripe["BILLING_BACKEND"] == "stripe"
    assert stripe["STRIPE_API_BASE"] == "http://stripe-mock:12111"


def test_redis_url_is_the_broker_unless_a_broker_is_named() -> None:
    assert settings(REDIS_URL="redis://r:6379/0")["CELERY_BROKER_URL"] == "redis://r:6379/0"
    config = settings(REDIS_URL="redis://r:6379/0", CELERY_BROKER_URL="redis://b:6379/1")
    assert config["CELERY_BROKER_URL"] == "redis://b:6379/1"
    assert settings(CRM_CELERY_QUEUE="crm-eu")["CELERY_TASK_QUEUE"] == "crm-eu"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CRM_MIGRATION_PARALLELISM", "four"),
        ("CRM_MIGRATION_PARALLELISM", "0"),
        ("CRM_MIGRATION_LOCK_TIMEOUT_MS", "5s"),
        ("CRM_DB_POOL_SIZE", "-1"),
        ("CRM_DB_CONNECT_TIMEOUT", "1.5"),
    ],
)
def test_malformed_numbers_are_a_clear_config_error(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        from_env({name: value})
