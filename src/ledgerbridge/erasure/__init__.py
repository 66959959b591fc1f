"""Erasing a tenant's data on request: durable, reported, other tenants untouched."""
