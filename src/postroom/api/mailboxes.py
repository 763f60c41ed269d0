"""API: Mailboxes: settings, test connection, health."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["mailboxes"])
