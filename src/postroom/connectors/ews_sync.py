"""One fetch cycle of an EWS mailbox: per folder and page, commit first, then act on the server, then save the state.

Order per page (the same promise as the IMAP cycle, sync.py):
1. SyncFolderItems from the folder's stored SyncState (`FolderCursor.state["sync_state"]`; none: from the start),
   at most `batch` changes; only Create changes are read.
2. GetItem with the MIME content of those items.
3. `receive_messages`: raw blobs and ledger rows in one durable commit; source key
   `ews:<mailbox id>:<folder>:<item id>`, unique per tenant, so a message is a row exactly once.
4. The post-action (keep, seen, move, delete) on exactly these items.
5. The new SyncState is saved. A crash between 3 and 5 syncs the page again next time from the old state: the ledger
   says created=False and the post-action is applied again (idempotent; an item already moved or deleted is no
   longer reported by the server, or skipped when GetItem or the action no longer finds it), so nothing is lost or
   doubled.

A SyncState the server refuses (ErrorInvalidSyncStateData, e.g. after a mailbox move) restarts the folder from the
beginning: every item comes again and the ledger keeps each one once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django.utils import timezone

from postroom.connectors.ews_conf import EwsFetchConfig, build_ews_config
from postroom.connectors.models import FolderCursor
from postroom.connectors.sync import BatchResult, CycleResult, LeaseLostError, read_round_robin
from postroom.inbound.services import IncomingMessage, receive_messages
from postroom.mail.transport.ews_fetch import (
    EwsCredentials,
    EwsEndpoint,
    EwsSession,
    EwsSyncStateError,
    SyncPage,
    open_session,
)
from postroom.mail.transport.token_source import TokenSource
from postroom.mailboxes.models import Mailbox

log = logging.getLogger(__name__)

SOURCE_KIND = "ews"
STATE_KEY = "sync_state"  # FolderCursor.state key holding the folder's EWS SyncState
NO_UIDVALIDITY = 0  # FolderCursor.uidvalidity is IMAP's; EWS cursors keep 0 there

SessionOpener = Callable[[EwsEndpoint, EwsCredentials], EwsSession]


@dataclass(frozen=True, slots=True)
class PageResult:
    batch: BatchResult
    done: bool  # the folder has no more changes now


def build_ews_source_key(mailbox_id: int, folder: str, item_id: str) -> str:
    return f"{SOURCE_KIND}:{mailbox_id}:{folder}:{item_id}"


def load_ews_cursor(mailbox_id: int, folder: str) -> FolderCursor:
    cursor, _ = FolderCursor.objects.get_or_create(
        mailbox_id=mailbox_id, folder=folder, defaults={"uidvalidity": NO_UIDVALIDITY}
    )
    return cursor


def find_sync_state(cursor: FolderCursor) -> str | None:
    state = cursor.state if isinstance(cursor.state, Mapping) else {}
    value = state.get(STATE_KEY)
    return value if isinstance(value, str) and value else None


def save_sync_state(cursor: FolderCursor, sync_state: str) -> None:
    state = dict(cursor.state) if isinstance(cursor.state, Mapping) else {}
    state[STATE_KEY] = sync_state
    FolderCursor.objects.filter(pk=cursor.pk).update(state=state, updated_at=timezone.now())
    cursor.state = state


def read_page(session: EwsSession, cursor: FolderCursor, folder: str, batch: int) -> SyncPage:
    """The next page from the stored state; from the start when the server refuses that state."""
    try:
        return session.sync_page(folder, find_sync_state(cursor), batch)
    except EwsSyncStateError:
        log.warning(
            "mailbox %s: EWS refused the sync state of %s; syncing it from the start", cursor.mailbox_id, folder
        )
        return session.sync_page(folder, None, batch)


def sync_folder_page(
    session: EwsSession,
    mailbox: Mailbox,
    config: EwsFetchConfig,
    folder: str,
    lease_valid: Callable[[], bool],
) -> PageResult:
    """Sync, fetch, commit, act on and save the state past at most one page of a folder."""
    cursor = load_ews_cursor(mailbox.pk, folder)
    previous = find_sync_state(cursor)
    page = read_page(session, cursor, folder, config.batch)
    fetched = session.fetch(folder, page.created)
    if not lease_valid():
        raise LeaseLostError(f"lease of mailbox {mailbox.pk} lost; page left for its new holder")
    created = 0
    newest = None
    if fetched:
        incoming = [
            IncomingMessage(item.raw, SOURCE_KIND, build_ews_source_key(mailbox.pk, folder, item.ref.item_id))
            for item in fetched
        ]
        results = receive_messages(incoming, mailbox=mailbox)
        created = sum(result.created for result in results)
        dates = [item.received for item, result in zip(fetched, results, strict=True) if result.created]
        newest = max((date for date in dates if date is not None), default=None)
    session.apply_post_action([item.ref for item in fetched], config.post_action, config.move_to)
    save_sync_state(cursor, page.sync_state)
    done = page.last_page or page.sync_state == previous  # an unchanged state would loop: stop for this cycle
    return PageResult(BatchResult(len(page.created), created, newest), done)


def sync_ews_mailbox(
    session: EwsSession,
    mailbox: Mailbox,
    config: EwsFetchConfig,
    *,
    lease_valid: Callable[[], bool] = lambda: True,
    stop: threading.Event | None = None,
) -> CycleResult:
    """Read every folder until none has more, one page per folder per turn (a huge folder starves no other)."""

    def read(folder: str) -> tuple[BatchResult, bool]:
        page = sync_folder_page(session, mailbox, config, folder, lease_valid)
        return page.batch, page.done

    return read_round_robin(config.folders, read, stop)


def run_ews_cycle(
    mailbox: Mailbox,
    config: EwsFetchConfig | None = None,
    *,
    lease_valid: Callable[[], bool] = lambda: True,
    stop: threading.Event | None = None,
    tokens: TokenSource | None = None,
    opener: SessionOpener = open_session,
) -> CycleResult:
    """Open a session, sync every folder, close it; errors (EwsError, EwsSetupError) propagate to the runner."""
    config = config or build_ews_config(mailbox, tokens=tokens)
    session = opener(config.endpoint, config.credentials)
    try:
        return sync_ews_mailbox(session, mailbox, config, lease_valid=lease_valid, stop=stop)
    finally:
        session.close()
