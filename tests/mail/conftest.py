"""Fixtures for the pure mail core's tests: no Django, no database, only bytes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from postroom.mail.parse import parse_message
from postroom.mail.values import ParsedMessage

REGRESSIONS = Path(__file__).resolve().parents[1] / "corpus" / "regressions"


@pytest.fixture
def parse_regression() -> Callable[[str], ParsedMessage]:
    """Parse one hand-written message from tests/corpus/regressions by file name."""

    def parse(name: str) -> ParsedMessage:
        return parse_message((REGRESSIONS / name).read_bytes())

    return parse
