"""Embedded mode: web server, SMTP listener, worker and sweeper as threads of one process.

Workers read ids from an in-process queue (filled on commit) and also poll the ledger, so nothing depends on the
hand-off: a row whose id was lost with a crashed process is found again by the next poll.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import close_old_connections

from postroom.core.dispatch import attach_local_queue, run_task_inline
from postroom.core.wakeup import WorkWaiter
from postroom.inbound.claims import claim_inbound_batch
from postroom.inbound.quarantine import purge_expired
from postroom.inbound.queries import has_waiting_inbound
from postroom.inbound.services import process_claimed_inbound
from postroom.outbound.sender import send_due_deliveries
from postroom.portal.outbox import send_due_sign_in_requests

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 1.0
QUARANTINE_PURGE_SECONDS = 3600.0  # quarantined mail past its retention is purged hourly
CLAIM_BATCH = 20  # rows claimed per round trip; a crash leaves at most this many waiting for the stale delay


def process_pending(stop: threading.Event, batch_size: int = CLAIM_BATCH) -> int:
    """Claim waiting ledger rows in arrival order (new ones, and those a crashed worker left) and process them."""
    ids = claim_inbound_batch(batch_size)
    for index, inbound_id in enumerate(ids):
        if stop.is_set():
            return index  # the rest stay claimed; they are claimable again once the claim is stale
        process_claimed_inbound(inbound_id)
    return len(ids)


def run_worker_loop(
    stop: threading.Event,
    local_queue: queue.Queue[tuple[str, dict[str, Any]]] | None,
    *,
    exit_when_idle: bool = False,
) -> None:
    next_purge = time.monotonic() + QUARANTINE_PURGE_SECONDS  # not at start-up: `postroom up` starts fast
    waiter = WorkWaiter()  # without a local queue: woken by the writer's NOTIFY (core/wakeup.py)
    try:
        _work_until_stopped(stop, local_queue, waiter, next_purge, exit_when_idle=exit_when_idle)
    finally:
        waiter.close()


def _work_until_stopped(
    stop: threading.Event,
    local_queue: queue.Queue[tuple[str, dict[str, Any]]] | None,
    waiter: WorkWaiter,
    next_purge: float,
    *,
    exit_when_idle: bool,
) -> None:
    while not stop.is_set():
        if time.monotonic() >= next_purge:  # quarantined mail past POSTROOM_QUARANTINE_RETENTION_DAYS
            try:
                purge_expired()
            except Exception:  # the next hour tries again; the worker goes on
                log.exception("quarantine purge failed")
            next_purge = time.monotonic() + QUARANTINE_PURGE_SECONDS
        try:
            item = local_queue.get(timeout=IDLE_POLL_SECONDS) if local_queue is not None else None
        except queue.Empty:
            item = None
        try:
            if item is not None:
                run_task_inline(item[0], **item[1])
                continue
            done = process_pending(stop)
            if done == 0:
                # retries, and new mail whose hand-off was lost: replies and notices, then portal sign-in links
                done = send_due_deliveries() + send_due_sign_in_requests()
            if done == 0 and exit_when_idle and not has_waiting_inbound():
                return
            if done == 0 and local_queue is None:
                waiter.wait(stop, IDLE_POLL_SECONDS)
        except Exception:  # a worker must survive anything one message does; the row keeps the error
            log.exception("embedded worker iteration failed")
            stop.wait(IDLE_POLL_SECONDS)
        finally:
            close_old_connections()


class EmbeddedRuntime:
    """Starts and stops the threads of `postroom up`."""

    def __init__(self, *, workers: int) -> None:
        self.stop = threading.Event()
        self.queue: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.threads: list[threading.Thread] = []
        self.closers: list[Callable[[], None]] = []
        self.workers = workers

    def start_workers(self) -> None:
        attach_local_queue(self.queue)
        for index in range(self.workers):
            thread = threading.Thread(
                target=run_worker_loop,
                args=(self.stop, self.queue),
                name=f"postroom-worker-{index}",
                daemon=True,
            )
            thread.start()
            self.threads.append(thread)

    def start_poller(self, heartbeat_seconds: float) -> None:
        """The mailbox poller (IMAP IDLE and polling) as one more thread; it releases its leases on shutdown."""
        from postroom.connectors.poller import Poller

        poller = Poller(heartbeat_seconds=heartbeat_seconds)
        thread = threading.Thread(target=poller.run, args=(self.stop,), name="postroom-poller", daemon=True)
        thread.start()
        self.threads.append(thread)
        self.closers.append(lambda: thread.join(10))

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
