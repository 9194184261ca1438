"""The CRM web application: ``create_app()`` builds it from settings."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application. ``config`` overrides settings read from the environment."""
    from app import config as settings

    values = settings.from_env()
    values.update(config or {})
    settings.validate(values)

    instance_path = Path(values["INSTANCE_PATH"])
    app = Flask(__name__, instance_path=str(instance_path), subdomain_matching=True)
    app.config.update(values)
    app.url_map.default_subdomain = ""

    _configure_database(app, instance_path)
    _configure_logging(app)
    _init_extensions(app)
    _register_blueprints(app)
    _trust_proxies(app)
    return app


def _trust_proxies(app: Flask) -> None:
    """Behind ``TRUSTED_PROXIES`` reverse proxies (an ingress, a load balancer), take the
    client address, scheme and host from the headers those proxies set, counting from
    the right: per-IP limits (sign-in, signup, find-workspace) then count real clients,
    not the proxy. With 0, forwarded headers are ignored (a client can forge them)."""
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )


def _configure_database(app: Flask, instance_path: Path) -> None:
    from app.embedded import embedded_database_url, to_sqlalchemy_url

    url = app.config.get("DATABASE_URL")
    if url:
        app.config["SQLALCHEMY_DATABASE_URI"] = to_sqlalchemy_url(url)
    else:
        app.config["SQLALCHEMY_DATABASE_URI"] = embedded_database_url(instance_path)
        app.config["EMBEDDED_DATABASE"] = True


def _configure_logging(app: Flask) -> None:
    # Requests for hosts outside SERVER_NAME (probes by IP, scanners) already find no
    # route and get a 404; Werkzeug's warning about each one is noise.
    warnings.filterwarnings("ignore", message="Current server name", category=UserWarning)
    if not app.debug and not app.testing:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
        # Alembic announces every plugin and context at INFO; keep revisions only.
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def _init_extensions(app: Flask) -> None:
    import tenants.binding  # noqa: F401  (registers the per-transaction search_path hook)
    from app import errors, templating
    from app.database import db
    from app.extensions import babel, csrf, login_manager
    from app.identity import passwords
    from app.tasks import init_celery
    from tenants import resolution

    if app.config.get("ARGON2_FAST"):
        passwords.configure(time_cost=1, memory_cost_kib=1024)
    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app)
    login_manager.init_app(app)
    resolution.init_app(app)
    errors.init_app(app)
    templating.init_app(app)
    init_celery(app)

    from app.identity import sessions

    sessions.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from app.api import init_app as init_api
    from app.health import bp as health_bp
    from app.web import security
    from app.web.account import bp as account_bp
    from app.web.activities import bp as activities_bp
    from app.web.apex import bp as apex_bp
    from app.web.billing import bp as billing_bp
    from app.web.billing import webhook_bp as stripe_webhook_bp
    from app.web.board import bp as board_bp
    from app.web.comments import bp as comments_bp
    from app.web.companies import bp as companies_bp
    from app.web.custom_fields import bp as custom_fields_bp
    from app.web.deals import bp as deals_bp
    from app.web.duplicates import bp as duplicates_bp
    from app.web.exports import bp as exports_bp
    from app.web.imports import bp as imports_bp
    from app.web.lists import bp as lists_bp
    from app.web.notifications import bp as notifications_bp
    from app.web.pipelines import bp as pipelines_bp
    from app.web.reports import bp as reports_bp
    from app.web.search import bp as search_bp
    from app.web.signup import bp as signup_bp
    from app.web.signup import onboarding as onboarding_bp
    from app.web.team import bp as team_bp
    from app.web.workspace import bp as workspace_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(apex_bp)
    app.register_blueprint(stripe_webhook_bp)
    app.register_blueprint(billing_bp)
    app.register_blueprint(signup_bp)
    app.register_blueprint(onboarding_bp)
    app.register_blueprint(workspace_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(team_bp)
    app.register_blueprint(companies_bp)
    app.register_blueprint(custom_fields_bp)
    app.register_blueprint(deals_bp)
    app.register_blueprint(duplicates_bp)
    app.register_blueprint(exports_bp)
    app.register_blueprint(imports_bp)
    app.register_blueprint(lists_bp)
    app.register_blueprint(activities_bp)
    app.register_blueprint(comments_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(pipelines_bp)
    app.register_blueprint(board_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(search_bp)
    security.init_app(app)
    init_api(app)

    from app.cli import register_commands

    register_commands(app)
