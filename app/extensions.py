"""Flask extensions, created unbound and attached in ``create_app`` (``init_app``)."""

from __future__ import annotations

from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
login_manager.session_protection = "strong"
csrf = CSRFProtect()
babel = Babel()
