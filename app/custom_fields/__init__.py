"""Tenant-defined custom fields: definitions, validation of values, and their SQL."""
