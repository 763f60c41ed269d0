"""Official authentication-suite cases we judge wrong or outside what we support, each with the reason."""

from __future__ import annotations

from typing import Final

SPF_SKIPS: Final[dict[str, str]] = {}

DKIM_SKIPS: Final[dict[str, str]] = {}

ARC_SKIPS: Final[dict[str, str]] = {}
