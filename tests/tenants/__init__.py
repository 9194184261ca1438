"""Tests of the tenancy core: binding, resolution, provisioning, fleet."""
