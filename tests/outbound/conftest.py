from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model

from postroom.outbound.relay import close_pools
from smtpcapture import CaptureServer


@pytest.fixture
def outbox(settings: object) -> Iterator[CaptureServer]:
    """A real loopback SMTP server as the installation's outbound relay."""
    with CaptureServer() as server:
        settings.POSTROOM = dataclasses.replace(settings.POSTROOM, outbound_smtp_url=server.url)  # type: ignore[attr-defined]
        yield server
    close_pools()


@pytest.fixture
def agent(db: None) -> object:
    return get_user_model().objects.create_user("alice", email="alice@example.com", password="x", first_name="Alice")
