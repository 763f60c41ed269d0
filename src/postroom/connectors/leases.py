"""Mailbox leases: each mailbox is read by at most one live poller; a dead poller's mailboxes are taken over.

Every write is one conditional UPDATE, so two pollers racing for a lease cannot both win it: the database applies
the second UPDATE after the first and its WHERE no longer matches. The clock (`now`) is an argument, so the rules
are tested with a fake one. A lease lasts `ttl` (1.5 heartbeats) from its last renewal.

Pollers share the mailboxes: each registers itself every heartbeat (PollerProcess) and holds at most its fair
share, ceil(mailboxes / live pollers). A poller over its share gives the excess back (its highest mailbox ids), so a
poller started next to a busy one gets work on its first heartbeats instead of waiting for a failure.

Leases only decide who does the work; exactly-once does not rest on them. The ledger's unique source key turns a
second reader's commit into a no-op, and a poller fences itself: its threads stop committing once their lease's
local expiry passes (poller.py), even before another poller takes it.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import secrets
import socket
from collections.abc import Iterable

from django.db.models import Min, Q

from postroom.connectors.models import MailboxLease, PollerProcess
from postroom.mailboxes.models import ConnectorKind, Mailbox

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
POLLED_KINDS = (ConnectorKind.IMAP, ConnectorKind.POP3, ConnectorKind.GRAPH, ConnectorKind.EWS)


def build_holder_id() -> str:
    """This process's lease holder id: host, pid and a random part (a pid is reused after a restart)."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{secrets.token_hex(4)}"


def list_pollable_mailbox_ids() -> list[int]:
    """Active mailboxes a poller reads, in id order."""
    return list(
        Mailbox.objects.filter(is_active=True, kind__in=POLLED_KINDS).order_by("pk").values_list("pk", flat=True)
    )


def ensure_lease_rows(mailbox_ids: Iterable[int]) -> None:
    """A free lease row for every mailbox that has none yet (concurrent pollers: the conflict is ignored)."""
    ids = list(mailbox_ids)
    have = set(MailboxLease.objects.filter(mailbox_id__in=ids).values_list("mailbox_id", flat=True))
    missing = [MailboxLease(mailbox_id=pk, holder="", expires_at=EPOCH) for pk in ids if pk not in have]
    if missing:
        MailboxLease.objects.bulk_create(missing, ignore_conflicts=True)


def renew_leases(holder: str, now: dt.datetime, ttl: dt.timedelta) -> set[int]:
    """Extend every lease this poller still holds; the ids it holds now (a lease taken by another is not among them).

    A lease that expired but was not taken yet is still this poller's: nobody else did the work meanwhile.
    """
    MailboxLease.objects.filter(holder=holder).update(heartbeat_at=now, expires_at=now + ttl)
    return set(MailboxLease.objects.filter(holder=holder).values_list("mailbox_id", flat=True))


def claim_lease(mailbox_id: int, holder: str, now: dt.datetime, ttl: dt.timedelta) -> bool:
    """Take a free or expired lease; True when this poller won it."""
    claimable = Q(holder="") | Q(expires_at__lte=now)
    won = (
        MailboxLease.objects.filter(claimable, mailbox_id=mailbox_id)
        .exclude(holder=holder)
        .update(holder=holder, acquired_at=now, heartbeat_at=now, expires_at=now + ttl)
    )
    return won == 1


def claim_free_leases(
    holder: str, now: dt.datetime, ttl: dt.timedelta, mailbox_ids: Iterable[int], limit: int | None = None
) -> set[int]:
    """Claim free or expired leases among `mailbox_ids`, lowest ids first, at most `limit`; the ids won."""
    ids = list(mailbox_ids)
    ensure_lease_rows(ids)
    candidates = (
        MailboxLease.objects.filter(Q(holder="") | Q(expires_at__lte=now), mailbox_id__in=ids)
        .exclude(holder=holder)
        .order_by("mailbox_id")
        .values_list("mailbox_id", flat=True)
    )
    won: set[int] = set()
    for pk in list(candidates):
        if limit is not None and len(won) >= limit:
            break
        if claim_lease(pk, holder, now, ttl):
            won.add(pk)
    return won


def register_poller(holder: str, now: dt.datetime, ttl: dt.timedelta) -> int:
    """Record this poller as alive until `now + ttl`; the number of live pollers (this one included)."""
    updated = PollerProcess.objects.filter(holder=holder).update(heartbeat_at=now, expires_at=now + ttl)
    if not updated:
        PollerProcess.objects.bulk_create(
            [PollerProcess(holder=holder, started_at=now, heartbeat_at=now, expires_at=now + ttl)],
            ignore_conflicts=True,
        )
    PollerProcess.objects.filter(expires_at__lt=now - ttl).delete()  # long dead: keep the table small
    return PollerProcess.objects.filter(expires_at__gt=now).count()


def unregister_poller(holder: str) -> None:
    PollerProcess.objects.filter(holder=holder).delete()


def fair_share(mailboxes: int, pollers: int) -> int:
    """How many mailboxes one poller holds at most: ceil(mailboxes / pollers), so together they cover all."""
    return math.ceil(mailboxes / max(1, pollers))


def pick_excess(held: Iterable[int], share: int) -> set[int]:
    """The leases to give back when holding more than `share`: the highest ids (the lowest stay where they run)."""
    ordered = sorted(held)
    return set(ordered[share:]) if len(ordered) > share else set()


def release_leases(holder: str, now: dt.datetime, mailbox_ids: Iterable[int] | None = None) -> int:
    """Give leases back (a clean stop, or a mailbox no longer polled): another poller may claim them at once."""
    rows = MailboxLease.objects.filter(holder=holder)
    if mailbox_ids is not None:
        rows = rows.filter(mailbox_id__in=list(mailbox_ids))
    return rows.update(holder="", expires_at=now, heartbeat_at=now)


def find_next_foreign_expiry(holder: str, mailbox_ids: Iterable[int]) -> dt.datetime | None:
    """The earliest expiry of a lease another poller holds: the moment to look again for a takeover."""
    rows = MailboxLease.objects.filter(mailbox_id__in=list(mailbox_ids)).exclude(holder="").exclude(holder=holder)
    value = rows.aggregate(first=Min("expires_at"))["first"]
    return value if isinstance(value, dt.datetime) else None
