"""Shared fixtures. Tests that need no database stay free of Django (the mail core's tests)."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

# Settings are read once at import; give every test run its own data folder unless the runner chose one.
os.environ.setdefault("POSTROOM_HOME", tempfile.mkdtemp(prefix="postroom-test-"))


def pytest_runtest_setup(item: object) -> None:
    """Per-process caches must not carry rows from one test's (rolled back) database into the next, nor Django's
    cache its counters (API rate limits, portal sign-in limits) from one test's users into the next's."""
    try:
        from postroom.core.localcache import clear_local_caches
    except ImportError:  # pragma: no cover - the package is always installed in the test environment
        return
    clear_local_caches()
    from django.conf import settings

    if settings.configured:
        from django.core.cache import cache

        cache.clear()


@pytest.fixture
def ingest(db: None) -> Callable[..., object]:
    """Receive raw bytes like a connector would, process them, and return the ledger row."""
    from ingesting import ingest_raw

    return ingest_raw


@pytest.fixture
def outbox(settings: Any) -> Iterator[Any]:
    """A real loopback SMTP server (aiosmtpd) as the installation's outbound relay, keeping what it receives."""
    from postroom.outbound.relay import close_pools
    from smtpcapture import CaptureServer

    with CaptureServer() as server:
        settings.POSTROOM = dataclasses.replace(settings.POSTROOM, outbound_smtp_url=server.url)
        yield server
    close_pools()


@pytest.fixture
def agent(db: None) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("alice", email="alice@example.com", password="x", first_name="Alice")
