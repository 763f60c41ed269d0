"""Writes on the ledger: receive raw mail durably, process it through the pipeline, replay, sweep."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from postroom.core.blobs import get_blob_store
from postroom.core.db import fetch_row, insert_row, update_row
from postroom.core.dispatch import enqueue_on_commit, send_task, wake_workers_on_commit
from postroom.core.localcache import TtlCache
from postroom.core.logging import new_tracking_id, tracking
from postroom.inbound.claims import claim_inbound
from postroom.inbound.context import InboundContext, PipelineOptions, Stop
from postroom.inbound.models import InboundMessage, InboundStatus
from postroom.inbound.pipeline import run_pipeline
from postroom.inbound.queries import list_stale_inbound_ids
from postroom.mail.spam import ScannerSettings
from postroom.mailboxes.models import Mailbox
from postroom.tenants.models import Tenant
from postroom.tenants.services import get_default_tenant

log = logging.getLogger(__name__)

PROCESS_TASK: Final = "postroom.inbound.process"

# Read on every message, changed almost never: a few seconds per process (core/localcache.py), like routes.
_tenant_cache: TtlCache[int | None, Tenant] = TtlCache()
_mailbox_cache: TtlCache[int, Mailbox] = TtlCache()


def find_cached_tenant(tenant_id: int | None = None) -> Tenant:
    """The tenant with this id (None: the default tenant), from the per-process cache."""
    if tenant_id is None:
        return _tenant_cache.get_or_load(None, get_default_tenant)
    return _tenant_cache.get_or_load(tenant_id, lambda: Tenant.objects.get(pk=tenant_id))


def find_cached_mailbox(mailbox_id: int) -> Mailbox:
    return _mailbox_cache.get_or_load(
        mailbox_id, lambda: Mailbox.objects.select_related("tenant", "default_queue").get(pk=mailbox_id)
    )


@dataclass(frozen=True, slots=True)
class ReceiveResult:
    inbound_id: int
    tenant_id: int
    tracking_id: str
    created: bool  # False: the source key was already in the ledger (a redelivery)


def build_source_key(kind: str, raw_sha256: str) -> str:
    """For push sources with no server-side id (SMTP, files) the bytes themselves identify the delivery."""
    return f"{kind}:{raw_sha256}"


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One message handed over by a connector: its raw bytes and where it came from."""

    raw: bytes
    source_kind: str
    source_key: str | None = None
    envelope_from: str = ""
    envelope_to: Sequence[str] = ()
    client_ip: str | None = None  # the SMTP client's address (the listener's peer), for SPF
    helo: str = ""  # the SMTP client's HELO/EHLO name, for SPF of the null reverse-path


def receive_message(
    raw: bytes,
    *,
    source_kind: str,
    source_key: str | None = None,
    tenant: Tenant | None = None,
    mailbox: Mailbox | None = None,
    envelope_from: str = "",
    envelope_to: Sequence[str] = (),
    enqueue: bool = True,
    client_ip: str | None = None,
    helo: str = "",
) -> ReceiveResult:
    """Store the raw bytes and the ledger row durably; only then may the source be acknowledged."""
    incoming = IncomingMessage(raw, source_kind, source_key, envelope_from, envelope_to, client_ip, helo)
    return receive_messages([incoming], tenant=tenant, mailbox=mailbox, enqueue=enqueue)[0]


def receive_messages(
    batch: Iterable[IncomingMessage],
    *,
    tenant: Tenant | None = None,
    mailbox: Mailbox | None = None,
    enqueue: bool = True,
) -> list[ReceiveResult]:
    """Store several messages with one durable commit (a file import); the results are in the batch's order.

    Every raw blob is fsynced before the one transaction that inserts the ledger rows commits, so a crash at any
    point leaves either nothing acknowledged or bytes and rows on disk. A source key already in the ledger (a
    redelivery, also within the batch) is skipped by ON CONFLICT DO NOTHING and reported with created=False.
    """
    tenant = tenant or (mailbox.tenant if mailbox else find_cached_tenant())
    store = get_blob_store()
    # Blobs first, each fsynced (idempotent; an orphan blob after a failed commit is harmless), then the rows.
    stored = [(item, store.put(item.raw)) for item in batch]
    rows: list[tuple[InboundMessage, bool]] = []
    with transaction.atomic():  # one durable commit (synchronous_commit stays on): the sources are acked on it
        for item, digest in stored:
            row = InboundMessage(
                tenant=tenant,
                mailbox=mailbox,
                source_kind=item.source_kind,
                source_key=(item.source_key or build_source_key(item.source_kind, digest))[:700],
                raw_sha256=digest,
                raw_size=len(item.raw),
                envelope_from=item.envelope_from[:998],
                envelope_to=list(item.envelope_to),
                client_ip=item.client_ip or None,
                helo=item.helo[:255],
                received_at=timezone.now(),
                tracking_id=new_tracking_id(),
            )
            created = insert_row(row, ignore_conflicts=True)
            if created and enqueue:
                enqueue_on_commit(PROCESS_TASK, inbound_id=row.pk, tenant_id=tenant.pk)
            rows.append((row, created))
        if enqueue and any(created for _, created in rows):
            wake_workers_on_commit()
    results = []
    for row, created in rows:
        if not created:  # the source key is already in the ledger: a redelivery, or a concurrent one
            existing = InboundMessage.objects.filter(tenant=tenant, source_key=row.source_key).first()
            if existing is None:  # not a source-key conflict after all (a tracking id collision)
                raise IntegrityError(f"ledger row for {row.source_key[:80]!r} refused and not found")
            results.append(ReceiveResult(existing.pk, tenant.pk, existing.tracking_id, created=False))
            continue
        with tracking(row.tracking_id):
            log.debug("received %s bytes from %s", row.raw_size, row.source_kind)
        results.append(ReceiveResult(row.pk, tenant.pk, row.tracking_id, created=True))
    return results


def build_pipeline_options() -> PipelineOptions:
    conf = settings.POSTROOM
    return PipelineOptions(
        max_message_bytes=conf.max_message_bytes,
        ticket_prefix=conf.ticket_prefix,
        trusted_authserv_ids=conf.trusted_authserv_ids,
        dns_timeout_seconds=float(conf.dns_timeout_seconds),
        sender_rate_limit=conf.sender_rate_limit,
        installation_id=conf.installation_id,
        own_message_id_domains=conf.own_message_id_domains,
        spam=ScannerSettings(
            scanner=conf.spam_scanner,
            spamd_url=conf.spamd_url,
            rspamd_url=conf.rspamd_url,
            timeout_seconds=float(conf.spam_timeout_seconds),
            scan_max_bytes=conf.spam_scan_max_bytes,
        ),
    )


def process_inbound(inbound_id: int) -> str | None:
    """Claim one ledger row and run the pipeline for it: returns the final status, None if nothing to do."""
    if not claim_inbound(inbound_id):
        return None
    return process_claimed_inbound(inbound_id)


def process_claimed_inbound(inbound_id: int) -> str | None:
    """Run the pipeline for a row this worker claimed; exactly once, whatever else runs concurrently."""
    try:
        try:
            return _process_claimed(inbound_id)
        except IntegrityError:
            # The same message (same fingerprint) is already stored, or a concurrent worker committed it first:
            # the retry looks it up and records a duplicate.
            return _process_claimed(inbound_id, suspect_duplicate=True)
    except Exception as e:
        record_failure(inbound_id, e)
        return None


def lock_inbound(inbound_id: int) -> InboundMessage:
    """Row-lock a ledger row (one lean SELECT ... FOR UPDATE); its tenant and mailbox come from the cache."""
    # The processing commit need not wait for the WAL flush: a lost one leaves the row `received`, and it is
    # redone from the durable raw bytes (docs/adr/0003-exactly-once-ingestion.md). Set with the lock, no round trip.
    row = fetch_row(InboundMessage, "id = %s", [inbound_id], for_update=True, relax_durability=True)
    if row is None:
        raise InboundMessage.DoesNotExist(f"no inbound message with id {inbound_id}")
    row.tenant = find_cached_tenant(row.tenant_id)
    if row.mailbox_id is not None:
        row.mailbox = find_cached_mailbox(row.mailbox_id)
    return row


def _process_claimed(inbound_id: int, *, suspect_duplicate: bool = False) -> str | None:
    store = get_blob_store()
    with transaction.atomic():
        row = lock_inbound(inbound_id)
        if row.status != InboundStatus.RECEIVED:
            return None
        with tracking(row.tracking_id):
            ctx = InboundContext(
                inbound=row,
                tenant=row.tenant,
                mailbox=row.mailbox,
                raw=store.get(row.raw_sha256),
                store=store,
                options=build_pipeline_options(),
                suspect_duplicate=suspect_duplicate,
            )
            trace, outcome = run_pipeline(ctx)
            row.trace = [*row.trace, *trace]
            row.status = outcome.status
            row.cause = outcome.cause
            row.error = ""
            row.message = ctx.message
            row.duplicate_of = ctx.duplicate_of
            row.processed_at = timezone.now()
            fields = ["trace", "status", "cause", "error", "message", "duplicate_of", "processed_at"]
            # The sender on every row: the automation screen counts a sender's mail in its rate window by it.
            row.sender, subject = summarise_quarantined(ctx)
            fields.append("sender")
            if outcome.status == InboundStatus.QUARANTINED:  # what the quarantine review lists and filters on
                row.subject = subject
                fields.append("subject")
            update_row(row, fields)
            if outcome.drop and outcome.status == InboundStatus.QUARANTINED:
                # Over a drop threshold (spam): quarantined and deleted in the same commit, the cause kept. Imported
                # here because postroom.inbound.quarantine imports this module.
                from postroom.inbound.quarantine import drop_message

                drop_message(row)
                outcome = Stop(InboundStatus.DELETED, outcome.cause, drop=True)
            log.debug("inbound %s: %s %s", row.pk, row.status, row.cause)
    return str(outcome.status)


def summarise_quarantined(ctx: InboundContext) -> tuple[str, str]:
    """Sender and subject of a message about to be quarantined, as far as the stages that ran could read them."""
    parsed = ctx.parsed
    if ctx.requester is not None:
        sender = ctx.requester.address
    elif parsed is not None and parsed.from_ is not None and parsed.from_.address:
        sender = parsed.from_.address
    else:
        sender = ctx.inbound.envelope_from
    return sender[:320], (parsed.subject if parsed is not None else "")[:998]


def record_failure(inbound_id: int, error: BaseException) -> None:
    """Our fault, not the sender's: keep the row for a retry by the sweeper, with the error on it."""
    InboundMessage.objects.filter(pk=inbound_id).update(error=f"{type(error).__name__}: {error}"[:4000])
    row = InboundMessage.objects.filter(pk=inbound_id).values("tracking_id").first()
    with tracking(row["tracking_id"] if row else "-"):
        log.error("processing inbound %s failed; it will be retried", inbound_id, exc_info=error)


class ReplayError(ValueError):
    pass


def replay_inbound(inbound_id: int) -> InboundMessage:
    """Send a quarantined or failed message through the pipeline again; its raw bytes never left."""
    with transaction.atomic():
        row = InboundMessage.objects.select_for_update().filter(pk=inbound_id).first()
        if row is None:
            raise ReplayError(f"no inbound message with id {inbound_id}")
        if row.status == InboundStatus.DELETED:
            raise ReplayError(f"inbound message {inbound_id} was deleted from quarantine; its raw bytes are gone")
        if row.status == InboundStatus.PROCESSED:
            where = f" into message {row.message_id}" if row.message_id else ""
            raise ReplayError(f"inbound message {inbound_id} was already processed{where}; nothing to replay")
        row.trace = [*row.trace, {"stage": "replay", "verdict": "requeued", "reason": f"was {row.status}"}]
        row.status = InboundStatus.RECEIVED
        row.cause = ""
        row.attempts = 0
        row.claimed_at = None
        row.save(update_fields=["trace", "status", "cause", "attempts", "claimed_at"])
    return row


def sweep_stale(now: dt.datetime | None = None) -> int:
    """Re-send work that no worker finished: rows still `received` past the sweep delay."""
    stale_after = dt.timedelta(seconds=settings.POSTROOM.sweep_after_seconds)
    rows = list_stale_inbound_ids(now or timezone.now(), stale_after)
    for inbound_id, tenant_id in rows:
        send_task(PROCESS_TASK, inbound_id=inbound_id, tenant_id=tenant_id)
    if rows:
        log.info("sweeper re-sent %s stale inbound messages", len(rows))
    return len(rows)
