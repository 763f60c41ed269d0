"""A poller's readers share a bounded number of database connections (connectors/dbslots.py)."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest
from django.db import connection

from postroom.connectors import dbslots
from postroom.inbound.models import InboundMessage

pytestmark = pytest.mark.django_db(transaction=True)


def test_no_more_readers_than_slots_hold_a_connection_and_each_gives_it_back(settings: Any) -> None:
    """
    GIVEN 2 database slots and 6 reader threads that each query the database inside a slot
    WHEN they all start together
    THEN never more than 2 are inside at once, every one got its turn, and no thread kept its connection open
    """
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, poller_db_connections=2)
    dbslots._slots = None  # sized from the settings on first use
    inside = peak = done = 0
    lock = threading.Lock()
    gate = threading.Barrier(6)
    open_after: list[bool] = []

    def reader() -> None:
        nonlocal inside, peak, done
        gate.wait()
        with dbslots.database_slot():
            with lock:
                inside += 1
                peak = max(peak, inside)
            InboundMessage.objects.count()
            with lock:
                inside -= 1
                done += 1
        open_after.append(connection.connection is not None)

    threads = [threading.Thread(target=reader) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    dbslots._slots = None
    assert done == 6 and 1 <= peak <= 2
    assert open_after == [False] * 6
