"""A poller process (`postroom poll`, or a thread of `postroom up`): holds mailbox leases and runs their readers.

Every heartbeat it renews its leases, claims free or expired ones, starts a reader thread (runner.py) for each
mailbox it newly holds and stops the thread of each mailbox it lost. A lease lasts 1.5 heartbeats; when another
poller holds one, this poller also wakes at that lease's expiry, so a SIGKILLed poller's mailboxes are taken over
at most 1.5 heartbeats after its last renewal (within two heartbeats of its death). On a clean stop it releases
its leases, and another poller takes them on its next tick. Each poller holds at most its fair share of the
mailboxes (leases.fair_share), so several pollers spread the mailboxes between them.

Self-fencing: a reader commits only while its lease's local expiry (monotonic clock, from the last successful
renewal) is ahead, so a poller cut off from the database stops writing before anyone else may take over.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Final, Protocol

from django.db import close_old_connections, connection
from django.utils import timezone

from postroom.connectors import leases
from postroom.connectors.runner import MailboxRunner

log = logging.getLogger(__name__)

LEASE_HEARTBEATS: Final = 1.5  # a lease lives this many heartbeats past its last renewal
JOIN_SECONDS: Final = 5.0  # how long a stop waits for a reader to finish its batch


class Runner(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def join(self, timeout: float) -> None: ...
    def is_alive(self) -> bool: ...


RunnerFactory = Callable[[int, Callable[[], bool]], Runner]


class Poller:
    """Leases and reader threads of one process. `tick()` is one heartbeat; `run()` loops until stopped."""

    def __init__(
        self,
        *,
        heartbeat_seconds: float,
        holder: str | None = None,
        clock: Callable[[], dt.datetime] = timezone.now,
        runner_factory: RunnerFactory = MailboxRunner,
    ) -> None:
        self.heartbeat = heartbeat_seconds
        self.ttl = dt.timedelta(seconds=heartbeat_seconds * LEASE_HEARTBEATS)
        self.holder = holder or leases.build_holder_id()
        self.clock = clock
        self.runner_factory = runner_factory
        self.runners: dict[int, Runner] = {}
        self.valid_until: dict[int, float] = {}  # monotonic deadline per held mailbox (self-fencing)

    def lease_check(self, mailbox_id: int) -> Callable[[], bool]:
        return lambda: time.monotonic() < self.valid_until.get(mailbox_id, 0.0)

    def tick(self) -> float:
        """Renew, claim, start and stop readers; the seconds until the next tick is due."""
        started = time.monotonic()
        now = self.clock()
        pollable = leases.list_pollable_mailbox_ids()
        gone = set(self.runners) - set(pollable)  # deactivated, deleted or no longer a polled kind
        if gone:
            leases.release_leases(self.holder, now, gone)
        pollers = leases.register_poller(self.holder, now, self.ttl)
        share = leases.fair_share(len(pollable), pollers)
        held = leases.renew_leases(self.holder, now, self.ttl)
        excess = leases.pick_excess(held, share)
        if excess:  # another poller joined: hand over the highest ids (their readers are fenced off first)
            for mailbox_id in excess:
                self._stop_runner(mailbox_id)
            leases.release_leases(self.holder, now, excess)
            held -= excess
        held |= leases.claim_free_leases(self.holder, now, self.ttl, pollable, limit=max(0, share - len(held)))
        fence = started + self.ttl.total_seconds()
        for mailbox_id in held:
            self.valid_until[mailbox_id] = fence
        for mailbox_id in set(self.runners) - held:
            log.info("poller %s lost the lease of mailbox %s", self.holder, mailbox_id)
            self._stop_runner(mailbox_id)
        for mailbox_id in sorted(held - set(self.runners)):
            log.info("poller %s reads mailbox %s", self.holder, mailbox_id)
            runner = self.runner_factory(mailbox_id, self.lease_check(mailbox_id))
            self.runners[mailbox_id] = runner
            runner.start()
        for mailbox_id, runner in list(self.runners.items()):
            if not runner.is_alive():  # it stopped on its own (lease lost mid-batch): start afresh next tick
                self.runners.pop(mailbox_id)
        return self._next_wait(now, pollable)

    def _next_wait(self, now: dt.datetime, pollable: list[int]) -> float:
        wait = self.heartbeat
        expiry = leases.find_next_foreign_expiry(self.holder, pollable)
        if expiry is not None:
            wait = min(wait, max(0.05, (expiry - now).total_seconds() + 0.05))
        return wait

    def _stop_runner(self, mailbox_id: int) -> None:
        runner = self.runners.pop(mailbox_id, None)
        self.valid_until.pop(mailbox_id, None)
        if runner is not None:
            runner.stop()

    def run(self, stop: threading.Event) -> None:
        """Tick until `stop` is set, then stop the readers and release the leases."""
        log.info("poller %s started (heartbeat %ss)", self.holder, self.heartbeat)
        try:
            while not stop.is_set():
                try:
                    wait = self.tick()
                except Exception:  # the database is away: readers fence themselves; try again next heartbeat
                    log.exception("poller %s: heartbeat failed", self.holder)
                    wait = self.heartbeat
                finally:
                    close_old_connections()
                stop.wait(wait)
        finally:
            self.shutdown()
            connection.close()  # this thread's own connection; the next run opens a fresh one

    def shutdown(self) -> None:
        runners = list(self.runners.items())
        for mailbox_id, _ in runners:
            self._stop_runner(mailbox_id)
        for _, runner in runners:
            runner.join(JOIN_SECONDS)
        try:
            leases.unregister_poller(self.holder)
            released = leases.release_leases(self.holder, self.clock())
            log.info("poller %s stopped; released %s leases", self.holder, released)
        except Exception:
            log.exception("poller %s: could not release its leases (they expire on their own)", self.holder)
