"""The ``signup.provision`` task: turn a stored signup into a ready workspace.

It carries only the signup's id (the owner's password hash stays in the database) and
is acknowledged late: a worker that dies mid-way leaves the message to be delivered
again, and :func:`app.signup.services.provision` makes that safe (it claims the signup
first and leaves finished ones alone).
"""

from __future__ import annotations

from app.database import db
from app.signup import services
from app.tasks import celery_app


@celery_app.task(name="signup.provision", acks_late=True)
def provision_signup(signup_id: int) -> str:
    """Provision signup ``signup_id``; returns its status afterwards."""
    return str(services.provision(db.session, db.engine, signup_id))
