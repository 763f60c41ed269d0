"""Waking idle `postroom work` processes when new work is committed: PostgreSQL LISTEN/NOTIFY.

A worker process without a broker or a local queue polls the ledger every second when idle (embedded.py), which
adds half a second on average between a poller's commit and the ticket. With PostgreSQL it instead LISTENs on one
channel while idle and the writer NOTIFYs it in the committing transaction, so the worker starts within
milliseconds. The notification carries nothing: the ledger stays the only source of work, a lost notification
costs at most the one-second poll, and SQLite (no LISTEN) simply keeps polling.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Final

from django.db import connection

log = logging.getLogger(__name__)

CHANNEL: Final = "postroom_work"


def notify_workers() -> None:
    """NOTIFY the channel on the current connection (inside a transaction: delivered when it commits)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"NOTIFY {CHANNEL}")


class WorkWaiter:
    """An idle worker's wait: until a NOTIFY arrives, `timeout` passes, or `stop` is set.

    It holds one extra database connection of its own (autocommit, LISTEN), opened on first use and reopened
    after an error; any trouble falls back to a plain wait.
    """

    def __init__(self) -> None:
        self._conn: Any = None

    def wait(self, stop: threading.Event, timeout: float) -> None:
        if connection.vendor != "postgresql":
            stop.wait(timeout)
            return
        try:
            if self._conn is None:
                self._conn = self._listen()
            for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                break
        except Exception:  # the database went away: poll as before; the next wait reconnects
            log.debug("LISTEN failed; waiting %ss instead", timeout, exc_info=True)
            self.close()
            stop.wait(timeout)

    def _listen(self) -> Any:
        import psycopg

        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        conn = psycopg.connect(**params, autocommit=True)
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
