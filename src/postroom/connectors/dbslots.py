"""A poller's reader threads share a few database connections: at most POSTROOM_POLLER_DB_CONNECTIONS of them use
the database at once, and each gives its connection back when done.

A poller runs one thread per mailbox (runner.py). Django gives every thread its own connection, so 100 mailboxes
syncing at start-up would open 100 connections at once, more than PostgreSQL's default max_connections; the
benchmark (bench/connectors.py) ran into exactly that. A reader holds a slot for one fetch cycle (fetch, commit,
post-actions) and for the quick look before it goes idle, never while it waits in IDLE or sleeps.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

_lock = threading.Lock()
_slots: threading.BoundedSemaphore | None = None


def _semaphore() -> threading.BoundedSemaphore:
    global _slots  # noqa: PLW0603 - one limit per process, sized from the settings on first use
    with _lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(settings.POSTROOM.poller_db_connections)
        return _slots


@contextmanager
def database_slot() -> Iterator[None]:
    """Hold one of the process's database slots; the thread's connection is closed when it is given back."""
    slots = _semaphore()
    slots.acquire()
    try:
        yield
    finally:
        try:
            connection.close()
        finally:
            slots.release()
