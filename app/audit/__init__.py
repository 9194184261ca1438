"""Audit trails: one in each tenant schema, one for platform actions."""
