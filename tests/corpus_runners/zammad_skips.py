"""Zammad parser expectations we judge wrong, per (mail, field), each with the reason."""

from __future__ import annotations

from typing import Final

SKIPS: Final[dict[tuple[str, str], str]] = {}
