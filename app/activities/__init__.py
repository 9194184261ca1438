"""Activities: calls, meetings, logged emails, tasks and notes."""
