"""Mailboxes: where mail comes from (connector kind, settings, encrypted secrets)."""
