"""Roles and the permission matrix (the access-rights issue grows the policy here)."""
