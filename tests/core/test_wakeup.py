"""Idle `postroom work` processes are woken by the writer's NOTIFY at commit (PostgreSQL LISTEN/NOTIFY)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from postroom.core.wakeup import WorkWaiter, notify_workers

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; on SQLite the worker keeps its one-second poll")


def test_a_notify_committed_elsewhere_ends_the_wait() -> None:
    """
    GIVEN a worker waiting up to a minute for work
    WHEN a writer commits a transaction that notified
    THEN the wait ends long before the minute, without the stop flag
    """
    waiter = WorkWaiter()
    stop = threading.Event()
    waiter.wait(stop, timeout=0.01)  # connects and LISTENs before the writer speaks
    woke = threading.Event()

    def wait_once() -> None:
        waiter.wait(stop, timeout=60)
        woke.set()

    thread = threading.Thread(target=wait_once)
    thread.start()
    try:
        with transaction.atomic():
            notify_workers()
        assert woke.wait(30), "the committed NOTIFY did not wake the waiting worker"
        assert not stop.is_set()
    finally:
        stop.set()
        thread.join(70)
        waiter.close()
