"""Hand background work to whoever runs it: Celery workers (distributed) or in-process threads (embedded).

Tasks carry ids only and are sent after the surrounding transaction commits, so a worker never sees a row that
is not there yet. Nothing depends on delivery: a sweeper re-sends work that a crashed worker left behind.
"""

from __future__ import annotations

import logging
import queue
from typing import Any

from django.conf import settings
from django.db import transaction

from postroom.core.wakeup import notify_workers

log = logging.getLogger(__name__)

_local_queue: queue.Queue[tuple[str, dict[str, Any]]] | None = None


def attach_local_queue(q: queue.Queue[tuple[str, dict[str, Any]]] | None) -> None:
    """Embedded mode: `postroom up` attaches the queue its worker threads read from."""
    global _local_queue  # noqa: PLW0603 - one process-wide hand-off point, set once at start-up
    _local_queue = q


def send_task(name: str, **kwargs: Any) -> None:
    if settings.POSTROOM.is_embedded:
        if _local_queue is not None:
            _local_queue.put((name, kwargs))
        # Without a local worker (a one-shot CLI) the caller processes inline or the sweeper finds the row.
        return
    from postroom.celery import app

    try:
        app.send_task(name, kwargs=kwargs)
    except Exception:  # the broker is down: the row is committed and the sweeper will re-send it
        log.warning("could not publish task %s; the sweeper will retry", name, exc_info=True)


def enqueue_on_commit(name: str, **kwargs: Any) -> None:
    transaction.on_commit(lambda: send_task(name, **kwargs))


def wake_workers_on_commit() -> None:
    """Separate `postroom work` processes (embedded mode without a local queue, e.g. `postroom poll` or an import
    next to them) look at the ledger as soon as this transaction commits instead of at their next idle poll:
    PostgreSQL delivers a NOTIFY sent inside a transaction at its commit, and folds repeats into one (`wakeup.py`)."""
    if settings.POSTROOM.is_embedded and _local_queue is None:
        notify_workers()


def run_task_inline(name: str, **kwargs: Any) -> None:
    """Run a registered task's code in this process (embedded workers and one-shot CLI commands)."""
    from postroom.celery import app

    if name not in app.tasks:
        app.loader.import_default_modules()
    app.tasks[name].run(**kwargs)
