"""API: Messages: get one, download its raw bytes."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["messages"])
