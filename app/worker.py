"""Entry point for workers: ``celery -A app.worker worker`` (and ``beat``)."""

from app import create_app
from app.tasks import celery_app

flask_app = create_app()
celery = celery_app

__all__ = ["celery", "flask_app"]
