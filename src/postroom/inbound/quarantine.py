"""Quarantine review: list quarantined mail, release it, delete it, purge what nobody decided on.

Quarantined mail belongs to no queue, so only admins act on it (auditors look); the console, the API and
`postroom quarantine` call these functions after their own role checks (docs/architecture/quarantine.md).

* **Release** waives the cause the message was quarantined for and runs the whole pipeline again at once: the stage
  that stopped it now records its finding and goes on (postroom.inbound.waivers); threading, duplicate detection and
  every other check apply as to any message. The row records who released it and when; the trace keeps both runs.
* **Delete** is the admin's verdict: status `deleted`, the raw bytes removed from the blob store unless another row
  has the same bytes, the ledger row and its trace kept as the record of what arrived and what was decided.
* **Purge** deletes quarantined mail older than POSTROOM_QUARANTINE_RETENTION_DAYS the same way.
* **Allow the sender** allow-lists the sender's address (postroom.inbound.sender_list_admin) and releases.
* **Drop**: a screen over its drop threshold (spam) has the pipeline delete the message as it is quarantined.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from postroom.core.blobs import FileBlobStore, get_blob_store
from postroom.core.logging import tracking
from postroom.inbound.models import InboundMessage, InboundStatus, QuarantineCause, SenderListEntry
from postroom.inbound.sender_list_admin import allow_address
from postroom.inbound.services import process_claimed_inbound
from postroom.inbound.waivers import RELEASE_STAGE
from postroom.mail.parse import parse_message
from postroom.tickets.models import Attachment, Message

log = logging.getLogger(__name__)

PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 200
HEADER_BLOCK_BYTES: Final = 1024 * 1024  # the parser's own header limit (postroom.mail.values.Limits)
PURGE_BATCH: Final = 200
# A quarantine a release cannot lift: the stage has nothing to let through (stage, cause) -> why, for the admin.
UNRELEASABLE: Final[dict[tuple[str, str], str]] = {
    ("screen", QuarantineCause.MALFORMED): "it has no usable sender address, so no ticket can be opened for it",
}
CAUSE_TEXTS: Final[dict[str, str]] = dict(QuarantineCause.choices)


class QuarantineState:
    """Which rows a list shows: quarantined now (the default), released ever, or deleted."""

    QUARANTINED: Final = "quarantined"
    RELEASED: Final = "released"
    DELETED: Final = "deleted"
    ALL: Final = (QUARANTINED, RELEASED, DELETED)


class QuarantineError(Exception):
    """A quarantine request that cannot be done; the message says why in one line."""


class QuarantineNotFoundError(QuarantineError):
    """No such message in quarantine (or it never was): 404."""


class QuarantineConflictError(QuarantineError):
    """The message is not (or no longer) in a state that allows this: 409."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who decides: a console or API user, or an operator at the command line (no user account)."""

    name: str
    user: User | None = None

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(name=user.get_username(), user=user)


@dataclass(frozen=True, slots=True)
class QuarantineFilter:
    state: str = QuarantineState.QUARANTINED
    cause: str = ""
    sender: str = ""  # part of the sender address (or the envelope sender), any case
    since: dt.date | None = None  # received on or after this day
    until: dt.date | None = None  # received on or before this day


@dataclass(frozen=True, slots=True)
class Cursor:
    """Keyset position: the last row shown, by (received_at, id), newest first. Encoded as `<µs since epoch>-<id>`."""

    received_at: dt.datetime
    id: int

    def encode(self) -> str:
        delta = self.received_at - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return f"{delta // dt.timedelta(microseconds=1)}-{self.id}"


def parse_cursor(raw: str) -> Cursor:
    """The cursor a previous page handed out; ValueError for anything else."""
    micros, sep, row_id = raw.partition("-")
    if not sep or not micros.isdigit() or not row_id.isdigit():
        raise ValueError(f"not a page cursor: {raw[:40]!r}")
    return Cursor(dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(micros)), int(row_id))


@dataclass(frozen=True, slots=True)
class QuarantinePage:
    rows: list[InboundMessage]
    next_cursor: str | None  # None on the last page


@dataclass(frozen=True, slots=True)
class HeaderView:
    """The header fields of the raw message as received (never rendered as HTML), read from the blob store."""

    fields: list[tuple[str, str]] = field(default_factory=list)
    from_: str = ""
    subject: str = ""
    available: bool = True  # False: the raw bytes are gone (deleted) or missing


def describe_cause(cause: str) -> str:
    """The cause in plain words; a cause a later issue adds without a label shows as its code."""
    return CAUSE_TEXTS.get(cause, cause.replace("_", " "))


def _was_quarantined() -> Q:
    return Q(status__in=[InboundStatus.QUARANTINED, InboundStatus.DELETED]) | Q(released_at__isnull=False)


def _scoped(tenant_id: int | None) -> QuerySet[InboundMessage]:
    rows = InboundMessage.objects.filter(_was_quarantined())
    return rows if tenant_id is None else rows.filter(tenant_id=tenant_id)


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def list_quarantined(
    tenant_id: int | None, filters: QuarantineFilter, *, after: Cursor | None = None, limit: int = PAGE_SIZE
) -> QuarantinePage:
    """One page of the review, newest first; `tenant_id` None: every tenant (the command line)."""
    if filters.state not in QuarantineState.ALL:
        raise ValueError(f"unknown state {filters.state!r}")
    rows = _scoped(tenant_id).select_related("message__ticket", "released_by", "deleted_by")
    if filters.state == QuarantineState.QUARANTINED:
        rows = rows.filter(status=InboundStatus.QUARANTINED)
    elif filters.state == QuarantineState.DELETED:
        rows = rows.filter(status=InboundStatus.DELETED)
    else:
        rows = rows.filter(released_at__isnull=False)
    if filters.cause:
        rows = rows.filter(Q(cause=filters.cause) | Q(released_causes__icontains=filters.cause))
    if filters.sender:
        rows = rows.filter(Q(sender__icontains=filters.sender) | Q(envelope_from__icontains=filters.sender))
    if filters.since is not None:
        rows = rows.filter(received_at__gte=_day_start(filters.since))
    if filters.until is not None:
        rows = rows.filter(received_at__lt=_day_start(filters.until + dt.timedelta(days=1)))
    if after is not None:
        rows = rows.filter(Q(received_at__lt=after.received_at) | Q(received_at=after.received_at, id__lt=after.id))
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    page = list(rows.order_by("-received_at", "-id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    next_cursor = Cursor(page[-1].received_at, page[-1].pk).encode() if more else None
    return QuarantinePage(rows=page, next_cursor=next_cursor)


def find_quarantined(tenant_id: int | None, key: str) -> InboundMessage | None:
    """A message that is or was in quarantine, by tracking id (`prt-…`) or ledger id; None otherwise."""
    rows = _scoped(tenant_id).select_related("message__ticket", "released_by", "deleted_by", "mailbox")
    if key.isdigit():
        return rows.filter(pk=int(key)).first()
    return rows.filter(tracking_id=key).first()


def get_quarantined(tenant_id: int | None, key: str) -> InboundMessage:
    row = find_quarantined(tenant_id, key)
    if row is None:
        raise QuarantineNotFoundError(f"no quarantined message {key[:60]!r}")
    return row


def find_quarantining_stage(row: InboundMessage) -> str:
    """The stage whose verdict put the message in quarantine last (from the trace); "" when the trace has none."""
    for entry in reversed(row.trace or []):
        if entry.get("verdict") == "quarantine":
            return str(entry.get("stage", ""))
    return ""


def find_release_refusal(row: InboundMessage) -> str | None:
    """Why this message cannot be released (None: it can), in words for the admin."""
    if row.status != InboundStatus.QUARANTINED:
        return f"it is {row.status}, not quarantined"
    return UNRELEASABLE.get((find_quarantining_stage(row), row.cause))


def _lock(inbound_id: int) -> InboundMessage:
    row = InboundMessage.objects.select_for_update().filter(pk=inbound_id).first()
    if row is None:
        raise QuarantineNotFoundError(f"no inbound message {inbound_id}")
    return row


def release_message(inbound_id: int, actor: Actor) -> InboundMessage:
    """Waive the message's cause and run the pipeline again now; returns the row as that run left it.

    The release commits first, with the row already claimed by this call (attempts 1, claimed now), so no worker
    takes it meanwhile; should the run fail, the error is on the row and the sweeper retries like any message.
    """
    now = timezone.now()
    with transaction.atomic():
        row = _lock(inbound_id)
        refusal = find_release_refusal(row)
        if refusal is not None:
            raise QuarantineConflictError(f"{row.tracking_id} cannot be released: {refusal}")
        cause = row.cause
        row.trace = [
            *row.trace,
            {
                "stage": RELEASE_STAGE,
                "verdict": "released",
                "reason": f"released by {actor.name}; the {cause} check lets it through on the next run",
                "data": {"by": actor.name, "cause": cause, "at": now.isoformat()},
            },
        ]
        row.released_causes = list(dict.fromkeys([*(row.released_causes or []), cause]))
        row.released_at, row.released_by = now, actor.user
        row.status, row.cause, row.error = InboundStatus.RECEIVED, "", ""
        row.attempts, row.claimed_at = 1, now
        row.save(
            update_fields=[
                "trace",
                "released_causes",
                "released_at",
                "released_by",
                "status",
                "cause",
                "error",
                "attempts",
                "claimed_at",
            ]
        )
    with tracking(row.tracking_id):
        log.info("quarantined message %s (%s) released by %s", row.pk, cause, actor.name)
    process_claimed_inbound(row.pk)
    return InboundMessage.objects.select_related("message__ticket", "released_by", "deleted_by").get(pk=row.pk)


def find_sender_address(row: InboundMessage) -> str:
    """The address the "allow the sender" action lists: the sender the stages read, else the header From, else the
    envelope sender; "" when there is none."""
    if row.sender and "@" in row.sender:
        return row.sender.strip().lower()
    from_ = read_header_view(row).from_
    if from_ and "@" in from_:
        return from_.strip().lower()
    return row.envelope_from.strip().lower() if "@" in row.envelope_from else ""


@dataclass(frozen=True, slots=True)
class AllowedSender:
    entry: SenderListEntry
    row: InboundMessage  # as the release left it


def allow_sender(
    inbound_id: int, actor: Actor, *, mailbox_only: bool = False, skip_auth: bool = False
) -> AllowedSender:
    """Allow-list the message's sender (for every mailbox, or only the one it came from) and release it.

    Later mail from the address skips the spam score (and sender authentication only with `skip_auth`); this
    message runs the pipeline again at once like any release. Refused (409) when it cannot be released.
    """
    row = InboundMessage.objects.filter(pk=inbound_id).first()
    if row is None:
        raise QuarantineNotFoundError(f"no inbound message {inbound_id}")
    refusal = find_release_refusal(row)
    if refusal is not None:
        raise QuarantineConflictError(f"{row.tracking_id}: its sender cannot be allowed: {refusal}")
    address = find_sender_address(row)
    if not address:
        raise QuarantineConflictError(f"{row.tracking_id} has no sender address to allow")
    try:
        entry = allow_address(
            row.tenant_id,
            address,
            mailbox_id=row.mailbox_id if mailbox_only else None,
            skip_auth=skip_auth,
            note=f"allowed by {actor.name} from quarantined message {row.tracking_id}",
            user=actor.user,
        )
    except ValidationError as e:
        raise QuarantineConflictError(f"{address} cannot be allow-listed: {'; '.join(e.messages)}") from e
    with tracking(row.tracking_id):
        log.info("sender of quarantined message %s allow-listed by %s (entry %s)", row.pk, actor.name, entry.pk)
    return AllowedSender(entry=entry, row=release_message(row.pk, actor))


def delete_message(inbound_id: int, actor: Actor) -> InboundMessage:
    """Delete a quarantined message: its raw bytes go (unless shared), its row and trace stay as the record."""
    with transaction.atomic():
        row = _lock(inbound_id)
        if row.status != InboundStatus.QUARANTINED:
            raise QuarantineConflictError(f"{row.tracking_id} cannot be deleted: it is {row.status}, not quarantined")
        _mark_deleted([row], stage="delete", why=f"deleted by {actor.name}", actor=actor)
    with tracking(row.tracking_id):
        log.info("quarantined message %s (%s) deleted by %s", row.pk, row.cause, actor.name)
    return InboundMessage.objects.select_related("message__ticket", "released_by", "deleted_by").get(pk=row.pk)


def drop_message(row: InboundMessage) -> None:
    """Within the pipeline's transaction: a message a screen asked to drop (a spam score over the mailbox's drop
    threshold) is deleted as soon as it is quarantined; its raw bytes go after the commit, its cause stays."""
    _mark_deleted([row], stage="drop", why="over the drop threshold", actor=Actor(name="the drop threshold"))
    with tracking(row.tracking_id):
        log.info("quarantined message %s (%s) dropped at once", row.pk, row.cause)


def purge_expired(*, now: dt.datetime | None = None, retention_days: int | None = None) -> int:
    """Delete quarantined mail that has waited longer than the retention (since it was quarantined); the count."""
    days = settings.POSTROOM.quarantine_retention_days if retention_days is None else retention_days
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    expired = Q(status=InboundStatus.QUARANTINED) & (
        Q(processed_at__lt=cutoff) | Q(processed_at__isnull=True, received_at__lt=cutoff)
    )
    actor = Actor(name="the retention purge")
    purged = 0
    while True:
        with transaction.atomic():
            rows = list(InboundMessage.objects.select_for_update().filter(expired).order_by("id")[:PURGE_BATCH])
            if not rows:
                return purged
            _mark_deleted(rows, stage="purge", why=f"in quarantine longer than {days} days", actor=actor)
        purged += len(rows)
        log.info("purged %s quarantined messages older than %s days", len(rows), days)


def _mark_deleted(rows: Sequence[InboundMessage], *, stage: str, why: str, actor: Actor) -> None:
    """Within the caller's transaction: mark the locked rows deleted; their blobs go once it commits."""
    now = timezone.now()
    shared = find_shared_digests({row.raw_sha256 for row in rows}, excluding={row.pk for row in rows})
    for row in rows:
        kept = row.raw_sha256 in shared
        row.trace = [
            *row.trace,
            {
                "stage": stage,
                "verdict": "deleted",
                "reason": f"{why}; "
                + ("raw bytes kept: another message has the same bytes" if kept else "raw bytes removed"),
                "data": {"by": actor.name, "cause": row.cause, "at": now.isoformat()},
            },
        ]
        row.status, row.deleted_at, row.deleted_by = InboundStatus.DELETED, now, actor.user
        row.save(update_fields=["trace", "status", "deleted_at", "deleted_by"])
    doomed = sorted({row.raw_sha256 for row in rows} - shared)
    store = get_blob_store()
    transaction.on_commit(lambda: remove_blobs(store, doomed))


def find_shared_digests(digests: Iterable[str], *, excluding: Iterable[int]) -> set[str]:
    """The digests some other live row still needs: another ledger row (not deleted), a stored message, an
    attachment. The blob store is shared by every tenant, so the check is too."""
    wanted = sorted(set(digests))
    if not wanted:
        return set()
    ledger = (
        InboundMessage.objects.filter(raw_sha256__in=wanted)
        .exclude(pk__in=list(excluding))
        .exclude(status=InboundStatus.DELETED)
        .values_list("raw_sha256", flat=True)
    )
    messages = Message.objects.filter(raw_sha256__in=wanted).values_list("raw_sha256", flat=True)
    attachments = Attachment.objects.filter(sha256__in=wanted).values_list("sha256", flat=True)
    return {*ledger, *messages, *attachments}


def remove_blobs(store: FileBlobStore, digests: Iterable[str]) -> None:
    """Unlink the blobs (after the commit that made them unreferenced); one already gone is fine."""
    for digest in digests:
        store.path_for(digest).unlink(missing_ok=True)


def read_header_view(row: InboundMessage, store: FileBlobStore | None = None) -> HeaderView:
    """The raw message's header fields (at most the parser's 1 MiB header limit is read; the body never is)."""
    if row.status == InboundStatus.DELETED:
        return HeaderView(available=False)
    path = (store or get_blob_store()).path_for(row.raw_sha256)
    try:
        with path.open("rb") as fh:
            head = fh.read(HEADER_BLOCK_BYTES)
    except FileNotFoundError:
        return HeaderView(available=False)
    block = _cut_header_block(head)
    parsed = parse_message(block + b"\r\n\r\n")
    return HeaderView(
        fields=list(parsed.headers),
        from_=parsed.from_.address if parsed.from_ is not None else "",
        subject=parsed.subject,
    )


def _cut_header_block(head: bytes) -> bytes:
    """The bytes before the first empty line (CRLF or bare LF line ends)."""
    ends = [i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0]
    return head[: min(ends)] if ends else head
