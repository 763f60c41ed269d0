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


@pytest.fixture(autouse=True)
def offline_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches a real DNS server: sender authentication (the screen stage) gets an empty in-memory zone
    unless a test sets its own (tests/inbound/test_sender_auth_stage.py)."""
    from postroom.inbound import auth_dns
    from postroom.mail.auth import InMemoryZone

    monkeypatch.setattr(auth_dns, "resolver_factory", lambda timeout: InMemoryZone())


@pytest.fixture(scope="session", autouse=True)
def _blob_store_per_xdist_worker() -> None:
    """xdist workers share POSTROOM_HOME but each has its own test database: one blob folder per worker, so a test
    deleting a blob its database no longer needs cannot take one the other worker's database still refers to."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    from django.conf import settings

    if settings.configured and hasattr(settings, "POSTROOM"):
        conf = settings.POSTROOM
        own = conf.blob_dir.with_name(f"{conf.blob_dir.name}-{worker}")
        settings.POSTROOM = dataclasses.replace(conf, blob_dir=own)


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
