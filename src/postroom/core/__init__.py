"""Shared foundations: tenancy base model, encrypted fields, blob store, logging, enqueue on commit."""
