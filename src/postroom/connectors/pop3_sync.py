"""One fetch cycle of a POP3 mailbox: list UIDLs, retrieve the new ones in batches, commit, and only then DELE.

POP3 has no folders, flags or cursor: the inbound ledger itself is the record of what was received. Every message
is keyed `pop3:<mailbox id>:<uidl>` (RFC 1939 section 7: a unique-id persists across sessions), so a cycle

1. opens a session (POP3 shows the maildrop as it was at login: new mail needs a new session) and lists UIDL;
2. asks the ledger which of the listed keys it holds, in a few queries of up to LEDGER_QUERY_CHUNK keys each;
   those are never retrieved again. With post_action "delete" they are marked with DELE at once: they were
   committed in an earlier cycle whose DELE or QUIT never happened;
3. per batch of the others: RETR, `receive_messages` (raw blobs and ledger rows in one durable commit), and only
   then DELE (post_action "delete"); post_action "keep" leaves them on the server;
4. ends with QUIT, which is when the server removes the marked messages. Any error drops the connection without
   QUIT, so nothing is removed that the ledger might not hold, and the next cycle deletes what was committed.

A crash between the commit and DELE or QUIT therefore loses nothing (the rows are committed) and doubles nothing
(the next cycle finds the keys in the ledger, skips the RETR and deletes them then).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Final

from postroom.connectors.pop3_conf import Pop3FetchConfig
from postroom.connectors.sync import CycleResult, LeaseLostError
from postroom.inbound.models import InboundMessage
from postroom.inbound.services import IncomingMessage, receive_messages
from postroom.mail.transport.pop3_fetch import ListedMessage, Pop3Credentials, Pop3Endpoint, Pop3Session, open_session
from postroom.mailboxes.models import Mailbox

SOURCE_KIND: Final = "pop3"
LEDGER_QUERY_CHUNK: Final = 500  # keys per IN (...) query; well below SQLite's and PostgreSQL's parameter limits

SessionOpener = Callable[[Pop3Endpoint, Pop3Credentials], Pop3Session]


def build_pop3_source_key(mailbox_id: int, uidl: str) -> str:
    return f"{SOURCE_KIND}:{mailbox_id}:{uidl}"


def find_received_uidls(mailbox: Mailbox, listed: Sequence[ListedMessage]) -> set[str]:
    """The listed UIDLs whose source key is already in the ledger (by the tenant's unique source-key index)."""
    keys = {build_pop3_source_key(mailbox.pk, message.uidl): message.uidl for message in listed}
    ordered = list(keys)
    found: set[str] = set()
    for start in range(0, len(ordered), LEDGER_QUERY_CHUNK):
        chunk = ordered[start : start + LEDGER_QUERY_CHUNK]
        found.update(
            InboundMessage.objects.filter(tenant_id=mailbox.tenant_id, source_key__in=chunk).values_list(
                "source_key", flat=True
            )
        )
    return {keys[key] for key in found}


def sync_pop3_session(
    session: Pop3Session,
    mailbox: Mailbox,
    config: Pop3FetchConfig,
    *,
    lease_valid: Callable[[], bool] = lambda: True,
    stop: threading.Event | None = None,
) -> CycleResult:
    """Steps 1-3 of the module docstring on an open session; the caller QUITs (or drops it on an error)."""
    result = CycleResult()
    listed = session.list_messages()
    received = find_received_uidls(mailbox, listed)
    deleting = config.post_action == "delete"
    if deleting:
        earlier = [message.number for message in listed if message.uidl in received]
        if earlier:
            session.delete(earlier)
            result.handled += len(earlier)
    fresh = [message for message in listed if message.uidl not in received]
    for start in range(0, len(fresh), config.batch):
        if stop is not None and stop.is_set():
            break
        batch = fresh[start : start + config.batch]
        retrieved = session.retrieve(batch)
        if not lease_valid():
            raise LeaseLostError(f"lease of mailbox {mailbox.pk} lost; messages left for its new holder")
        incoming = [IncomingMessage(m.raw, SOURCE_KIND, build_pop3_source_key(mailbox.pk, m.uidl)) for m in retrieved]
        result.created += sum(item.created for item in receive_messages(incoming, mailbox=mailbox))
        result.handled += len(batch)
        if deleting:
            session.delete([message.number for message in batch])
    return result


def run_pop3_cycle(
    mailbox: Mailbox,
    config: Pop3FetchConfig,
    *,
    lease_valid: Callable[[], bool] = lambda: True,
    stop: threading.Event | None = None,
    opener: SessionOpener = open_session,
) -> CycleResult:
    """Open a session, sync it, QUIT (which applies the DELEs); on any error drop it without QUIT."""
    session = opener(config.endpoint, config.credentials)
    try:
        result = sync_pop3_session(session, mailbox, config, lease_valid=lease_valid, stop=stop)
    except BaseException:
        session.close()
        raise
    session.quit()
    return result
