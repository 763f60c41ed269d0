"""Tenants: every row in Postroom belongs to one (a single default tenant for now)."""
