"""Claiming ledger rows for processing: every attempt is counted, and two live workers never share a row.

A claim is committed on its own before processing starts, so a message that kills its worker (out of memory,
SIGKILL) still used up an attempt; after POSTROOM_MAX_ATTEMPTS it is marked `failed` instead of looping. A row
whose claim is older than POSTROOM_SWEEP_AFTER_SECONDS belongs to a worker that must be gone and is claimable.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from postroom.core.db import relax_commit_durability
from postroom.inbound.models import InboundMessage, InboundStatus, QuarantineCause


def build_claimable_filter(now: dt.datetime) -> Q:
    stale = now - dt.timedelta(seconds=settings.POSTROOM.sweep_after_seconds)
    return Q(status=InboundStatus.RECEIVED) & (Q(claimed_at__isnull=True) | Q(claimed_at__lt=stale))


def claim_inbound(inbound_id: int) -> bool:
    """Claim one row (a Celery task, an inline import); False when it is taken, finished or out of attempts."""
    now = timezone.now()
    claimable = build_claimable_filter(now)
    with transaction.atomic():
        relax_commit_durability()  # a lost claim only means one attempt not counted
        claimed = InboundMessage.objects.filter(
            claimable, pk=inbound_id, attempts__lt=settings.POSTROOM.max_attempts
        ).update(attempts=F("attempts") + 1, claimed_at=now)
    if not claimed:
        fail_exhausted_inbound(now, inbound_id)
    return bool(claimed)


def claim_inbound_batch(limit: int) -> list[int]:
    """Claim up to `limit` waiting rows, oldest first. PostgreSQL skips rows another worker is claiming
    (SKIP LOCKED); SQLite serialises writers, so both give each row to one worker, in arrival order."""
    now = timezone.now()
    with transaction.atomic():
        relax_commit_durability()
        ids = list(
            InboundMessage.objects.select_for_update(skip_locked=True)
            .filter(build_claimable_filter(now), attempts__lt=settings.POSTROOM.max_attempts)
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            InboundMessage.objects.filter(id__in=ids).update(attempts=F("attempts") + 1, claimed_at=now)
    fail_exhausted_inbound(now)
    return ids


def fail_exhausted_inbound(now: dt.datetime, inbound_id: int | None = None) -> int:
    """Rows with every attempt used and none still running are given up (raw kept; `postroom replay` retries)."""
    rows = InboundMessage.objects.filter(build_claimable_filter(now), attempts__gte=settings.POSTROOM.max_attempts)
    if inbound_id is not None:
        rows = rows.filter(pk=inbound_id)
    failed = 0
    for row in rows.only("id", "attempts", "trace")[:100]:
        row.status = InboundStatus.FAILED
        row.cause = QuarantineCause.TOO_MANY_ATTEMPTS
        row.trace = [*row.trace, {"stage": "claim", "verdict": "failed", "reason": f"{row.attempts} attempts"}]
        row.save(update_fields=["status", "cause", "trace"])
        failed += 1
    return failed
