"""Outgoing mail: composed from templates, sent by a Celery task after commit."""
