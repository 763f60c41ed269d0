"""Placeholder screen: filled in by issue #6 (see postroom.inbound.screens)."""

from __future__ import annotations

from typing import Final

from postroom.inbound.context import InboundContext
from postroom.inbound.screening import Finding

NAME: Final = "automation"


def check(ctx: InboundContext) -> Finding | None:
    return None
