"""API: Quarantined mail: list, release, delete."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["quarantine"])
