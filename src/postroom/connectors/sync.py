"""One fetch cycle of an IMAP mailbox: per folder and batch, commit first, then act on the server, then advance.

Order per batch (the peers' "marked seen before it was stored" cannot happen):
1. SELECT the folder; a changed UIDVALIDITY drops the cursor (RFC 9051 section 2.3.1.1: old UIDs mean nothing).
2. UID SEARCH for UIDs above the cursor, at most `batch` of them; FETCH BODY.PEEK[] (no \\Seen).
3. `receive_messages`: raw blobs and ledger rows in one durable commit; source key
   `imap:<mailbox id>:<folder>:<uidvalidity>:<uid>`. After a UIDVALIDITY change, a message below the UIDNEXT seen
   at the change whose raw sha256 is already in this mailbox's ledger is the same message under a new UID: no
   second row, only its post-action.
4. The post-action (keep, seen, move, delete) on exactly these UIDs.
5. The cursor moves to the batch's highest UID. A crash between 3 and 5 refetches the batch next time: the
   ledger says created=False and the post-action is applied again (idempotent), so nothing is lost or doubled.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils import timezone

from postroom.connectors.conf import ImapFetchConfig
from postroom.connectors.models import FolderCursor
from postroom.inbound.models import InboundMessage
from postroom.inbound.services import IncomingMessage, receive_messages
from postroom.mail.transport.imap_fetch import FetchedMessage, FolderState, ImapSession
from postroom.mailboxes.models import Mailbox

SOURCE_KIND = "imap"


class LeaseLostError(Exception):
    """This poller no longer holds the mailbox's lease: stop before committing anything more."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    uids: int  # UIDs handled in this batch (0: the folder is drained)
    created: int  # new ledger rows
    newest: dt.datetime | None  # the newest INTERNALDATE among the new rows


@dataclass
class CycleResult:
    created: int = 0
    handled: int = 0
    newest: dt.datetime | None = None
    committed_at: dt.datetime | None = None

    def add(self, batch: BatchResult) -> None:
        self.handled += batch.uids
        self.created += batch.created
        if batch.newest is not None:
            self.newest = max(self.newest or batch.newest, batch.newest)
            self.committed_at = timezone.now()

    @property
    def lag_seconds(self) -> float | None:
        """From the newest new message's arrival on the server to its commit here (None: nothing new)."""
        if self.newest is None or self.committed_at is None:
            return None
        return (self.committed_at - self.newest).total_seconds()


def build_imap_source_key(mailbox_id: int, folder: str, uidvalidity: int, uid: int) -> str:
    return f"{SOURCE_KIND}:{mailbox_id}:{folder}:{uidvalidity}:{uid}"


def load_cursor(mailbox_id: int, folder: str, state: FolderState) -> FolderCursor:
    """The folder's cursor, reset when the server's UIDVALIDITY is not the one it was written under."""
    cursor, created = FolderCursor.objects.get_or_create(
        mailbox_id=mailbox_id, folder=folder, defaults={"uidvalidity": state.uidvalidity}
    )
    if not created and cursor.uidvalidity != state.uidvalidity:
        cursor.uidvalidity = state.uidvalidity
        cursor.last_uid = 0
        cursor.resync_below_uid = max(state.uidnext, 1)
        cursor.save(update_fields=["uidvalidity", "last_uid", "resync_below_uid", "updated_at"])
    return cursor


def find_known_uids(mailbox_id: int, cursor: FolderCursor, fetched: list[FetchedMessage]) -> set[int]:
    """UIDs of messages this mailbox already committed under an older UIDVALIDITY (matched by raw sha256)."""
    suspects = {m.uid: hashlib.sha256(m.raw).hexdigest() for m in fetched if m.uid < cursor.resync_below_uid}
    if not suspects:
        return set()
    known = set(
        InboundMessage.objects.filter(mailbox_id=mailbox_id, raw_sha256__in=set(suspects.values())).values_list(
            "raw_sha256", flat=True
        )
    )
    return {uid for uid, digest in suspects.items() if digest in known}


def sync_folder_batch(
    session: ImapSession,
    mailbox: Mailbox,
    config: ImapFetchConfig,
    folder: str,
    lease_valid: Callable[[], bool],
) -> BatchResult:
    """Fetch, commit, act on and advance past at most one batch of a folder."""
    state = session.select(folder)
    cursor = load_cursor(mailbox.pk, folder, state)
    uids = session.find_uids_after(cursor.last_uid, config.batch)
    if not uids:
        if state.uidnext - 1 > cursor.last_uid:  # UIDs assigned and expunged before we saw them: skip the gap
            FolderCursor.objects.filter(pk=cursor.pk).update(last_uid=state.uidnext - 1, resync_below_uid=0)
        return BatchResult(0, 0, None)
    fetched = session.fetch(uids)
    known = find_known_uids(mailbox.pk, cursor, fetched) if cursor.resync_below_uid else set()
    fresh = [m for m in fetched if m.uid not in known]
    if not lease_valid():
        raise LeaseLostError(f"lease of mailbox {mailbox.pk} lost; batch left for its new holder")
    created = 0
    if fresh:
        incoming = [
            IncomingMessage(m.raw, SOURCE_KIND, build_imap_source_key(mailbox.pk, folder, state.uidvalidity, m.uid))
            for m in fresh
        ]
        created = sum(result.created for result in receive_messages(incoming, mailbox=mailbox))
    session.apply_post_action(uids, config.post_action, config.move_to)
    top = max(uids)
    fields = {"last_uid": top}
    if cursor.resync_below_uid and top + 1 >= cursor.resync_below_uid:
        fields["resync_below_uid"] = 0
    FolderCursor.objects.filter(pk=cursor.pk).update(**fields, updated_at=timezone.now())
    dates = [m.internal_date for m in fresh if m.internal_date is not None]
    return BatchResult(len(uids), created, max(dates) if dates and created else None)


def sync_mailbox(
    session: ImapSession,
    mailbox: Mailbox,
    config: ImapFetchConfig,
    *,
    lease_valid: Callable[[], bool] = lambda: True,
    stop: threading.Event | None = None,
) -> CycleResult:
    """Read every folder until none has more, one batch per folder per turn (a huge folder starves no other)."""

    def read(folder: str) -> tuple[BatchResult, bool]:
        batch = sync_folder_batch(session, mailbox, config, folder, lease_valid)
        return batch, batch.uids < config.batch

    return read_round_robin(config.folders, read, stop)


def read_round_robin(
    folders: Sequence[str], read: Callable[[str], tuple[BatchResult, bool]], stop: threading.Event | None
) -> CycleResult:
    """Call `read(folder)` for each folder in turn until each says it is done (a huge folder starves no other);
    `read` returns the batch it committed and whether the folder has nothing more."""
    result = CycleResult()
    pending = list(folders)
    while pending:
        for folder in list(pending):
            if stop is not None and stop.is_set():
                return result
            batch, done = read(folder)
            result.add(batch)
            if done:
                pending.remove(folder)
    return result
