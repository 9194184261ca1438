"""CSV and XLSX imports: upload, mapping, preview, a Celery job, and its report."""
