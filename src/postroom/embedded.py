"""Embedded mode: web server, SMTP listener, worker and sweeper as threads of one process.

Workers read ids from an in-process queue (filled on commit) and also poll the ledger, so nothing depends on the
hand-off: a row whose id was lost with a crashed process is found again by the next poll.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import close_old_connections
from django.utils import timezone

from postroom.core.dispatch import attach_local_queue, run_task_inline
from postroom.inbound.queries import has_waiting_inbound, list_stale_inbound_ids, list_unclaimed_inbound_ids
from postroom.inbound.services import process_inbound

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 1.0


def process_pending(stop: threading.Event, stale_after_seconds: int) -> int:
    """Process ledger rows nobody has claimed, then rows a crashed worker left behind; returns how many."""
    done = 0
    for batch in (
        list_unclaimed_inbound_ids(),
        list_stale_inbound_ids(timezone.now(), dt.timedelta(seconds=stale_after_seconds)),
    ):
        random.shuffle(batch)  # several workers polling the same rows then rarely collide on a claim
        for inbound_id, _tenant_id in batch:
            if stop.is_set():
                return done
            process_inbound(inbound_id)
            done += 1
    return done


def run_worker_loop(
    stop: threading.Event,
    local_queue: queue.Queue[tuple[str, dict[str, Any]]] | None,
    stale_after_seconds: int,
    *,
    exit_when_idle: bool = False,
) -> None:
    while not stop.is_set():
        try:
            item = local_queue.get(timeout=IDLE_POLL_SECONDS) if local_queue is not None else None
        except queue.Empty:
            item = None
        try:
            if item is not None:
                run_task_inline(item[0], **item[1])
                continue
            done = process_pending(stop, stale_after_seconds)
            if done == 0 and exit_when_idle and not has_waiting_inbound():
                return
            if done == 0 and local_queue is None:
                stop.wait(IDLE_POLL_SECONDS)
        except Exception:  # a worker must survive anything one message does; the row keeps the error
            log.exception("embedded worker iteration failed")
            stop.wait(IDLE_POLL_SECONDS)
        finally:
            close_old_connections()


class EmbeddedRuntime:
    """Starts and stops the threads of `postroom up`."""

    def __init__(self, *, workers: int, stale_after_seconds: int) -> None:
        self.stop = threading.Event()
        self.queue: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.threads: list[threading.Thread] = []
        self.closers: list[Callable[[], None]] = []
        self.workers = workers
        self.stale_after_seconds = stale_after_seconds

    def start_workers(self) -> None:
        attach_local_queue(self.queue)
        for index in range(self.workers):
            thread = threading.Thread(
                target=run_worker_loop,
                args=(self.stop, self.queue, self.stale_after_seconds),
                name=f"postroom-worker-{index}",
                daemon=True,
            )
            thread.start()
            self.threads.append(thread)

    def start_web(self, host: str, port: int) -> None:
        from waitress.server import create_server

        from postroom.wsgi import application

        server = create_server(application, host=host, port=port, threads=8, ident="postroom")
        thread = threading.Thread(target=server.run, name="postroom-web", daemon=True)
        thread.start()
        self.threads.append(thread)
        self.closers.append(server.close)

    def add_closer(self, closer: Callable[[], None]) -> None:
        self.closers.append(closer)

    def wait(self) -> None:
        while not self.stop.is_set():
            time.sleep(0.5)

    def shutdown(self) -> None:
        self.stop.set()
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception:
                log.exception("error while stopping")
        attach_local_queue(None)
