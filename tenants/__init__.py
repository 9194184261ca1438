"""The tenancy core: registry, schema naming, provisioning, per-transaction binding,
host/token resolution, Celery context propagation and the fleet migration runner.

This package is the only place that builds a schema name or sets a ``search_path``.
"""
