"""One fetch cycle of a Microsoft Graph mailbox: per folder, delta pages committed one by one, then acted on.

Per page of a folder's delta round (learn.microsoft.com/graph/delta-query-messages):
1. The page lists created messages (a new round asks for `changeType=created`, so our own mark-read or move is
   never reported back). Ids the ledger already holds are not fetched again.
2. `GET /messages/{id}/$value` for the others; `receive_messages` stores raw blobs and ledger rows in one durable
   commit under the key `graph:<mailbox id>:<message id>`. Ids are immutable ids (`Prefer: IdType="ImmutableId"`):
   a message keeps its id when moved, so the key is the same whichever read folder it is found in.
3. Only then the post-action on the page's messages: keep, read (PATCH isRead; skipped when already read) or move.
4. The folder's cursor (FolderCursor `graph-folder:<name>`, JSON state) takes the page's `@odata.nextLink`, or at
   the round's end its `@odata.deltaLink`, which the next cycle starts from.

A crash between 2 and 4 replays the page next time: the ledger answers created=False, nothing is fetched twice
and the post-action is applied again (idempotent). An expired delta or skip token (410 Gone, SyncStateNotFound)
starts a full round from scratch, in which the ledger again keeps every message once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final

from django.utils import timezone

from postroom.connectors.graph_conf import GraphFetchConfig, build_graph_client
from postroom.connectors.graph_push import begin_push_cycle, ensure_subscriptions
from postroom.connectors.models import FolderCursor
from postroom.connectors.sync import CycleResult, LeaseLostError
from postroom.inbound.models import InboundMessage
from postroom.inbound.services import IncomingMessage, receive_messages
from postroom.mail.transport.graph_client import GraphClient
from postroom.mail.transport.graph_values import DeltaItem, GraphNotFoundError, GraphSyncStateError
from postroom.mailboxes.models import Mailbox

log = logging.getLogger(__name__)

SOURCE_KIND: Final = "graph"
CURSOR_PREFIX: Final = "graph-folder:"
LEDGER_QUERY_CHUNK: Final = 500  # keys per IN (...) query


def build_graph_source_key(mailbox_id: int, message_id: str) -> str:
    return f"{SOURCE_KIND}:{mailbox_id}:{message_id}"


def find_received_ids(mailbox: Mailbox, message_ids: Sequence[str]) -> set[str]:
    """The message ids whose source key is already in the ledger."""
    keys = {build_graph_source_key(mailbox.pk, message_id): message_id for message_id in message_ids}
    ordered = list(keys)
    found: set[str] = set()
    for start in range(0, len(ordered), LEDGER_QUERY_CHUNK):
        found.update(
            InboundMessage.objects.filter(
                tenant_id=mailbox.tenant_id, source_key__in=ordered[start : start + LEDGER_QUERY_CHUNK]
            ).values_list("source_key", flat=True)
        )
    return {keys[key] for key in found}


def load_folder_cursor(mailbox_id: int, name: str) -> FolderCursor:
    cursor, _ = FolderCursor.objects.get_or_create(
        mailbox_id=mailbox_id, folder=CURSOR_PREFIX + name, defaults={"uidvalidity": 0}
    )
    return cursor


def _save(cursor: FolderCursor, state: dict[str, Any]) -> None:
    FolderCursor.objects.filter(pk=cursor.pk).update(state=state, updated_at=timezone.now())
    cursor.state = state


class _FolderSync:
    """Reads one folder's delta round(s) for one cycle."""

    def __init__(
        self,
        client: GraphClient,
        mailbox: Mailbox,
        config: GraphFetchConfig,
        name: str,
        *,
        move_to_id: str,
        lease_valid: Callable[[], bool],
        stop: threading.Event | None,
        result: CycleResult,
    ) -> None:
        self.client = client
        self.mailbox = mailbox
        self.config = config
        self.name = name
        self.move_to_id = move_to_id
        self.lease_valid = lease_valid
        self.stop = stop
        self.result = result
        self.cursor = load_folder_cursor(mailbox.pk, name)
        self.folder_id = ""

    def run(self) -> str:
        """Sync the folder; its Graph id."""
        state = dict(self.cursor.state)
        self.folder_id = str(state.get("folder_id") or "")
        if not self.folder_id:
            self.folder_id = self.client.find_folder(self.name).id
            state = {"folder_id": self.folder_id}
            _save(self.cursor, state)
        link = state.get("next_link") or state.get("delta_link")
        try:
            self.read_round(link if isinstance(link, str) else None)
        except GraphSyncStateError as e:
            log.warning("mailbox %s folder %s: delta link expired, full resync: %s", self.mailbox.pk, self.name, e)
            _save(self.cursor, {"folder_id": self.folder_id})
            self.read_round(None)
        except GraphNotFoundError:
            if not link:
                raise
            # The folder was deleted (and perhaps recreated): look it up again next cycle, from a new round.
            _save(self.cursor, {})
            raise
        return self.folder_id

    def read_round(self, link: str | None) -> None:
        pages = self.client.iterate_delta(self.folder_id, link, page_size=self.config.batch)
        try:
            for page in pages:
                if self.stop is not None and self.stop.is_set():
                    return
                self.take_page([item for item in page.items if not item.removed])
                state = {**self.cursor.state, "folder_id": self.folder_id, "next_link": page.next_link}
                if page.delta_link:
                    state["delta_link"] = page.delta_link
                if not page.next_link:
                    state.pop("next_link")
                _save(self.cursor, state)
        finally:
            pages.close()

    def take_page(self, items: list[DeltaItem]) -> None:
        """Steps 1-3 of the module docstring for one page."""
        if not items:
            return
        known = find_received_ids(self.mailbox, [item.id for item in items])
        fetched: list[tuple[DeltaItem, bytes]] = []
        for item in items:
            if item.id in known:
                continue
            try:
                fetched.append((item, self.client.fetch_mime(item.id)))
            except GraphNotFoundError:
                log.info("mailbox %s: a message vanished before it was read; skipped", self.mailbox.pk)
        if not self.lease_valid():
            raise LeaseLostError(f"lease of mailbox {self.mailbox.pk} lost; page left for its new holder")
        if fetched:
            incoming = [
                IncomingMessage(raw, SOURCE_KIND, build_graph_source_key(self.mailbox.pk, item.id))
                for item, raw in fetched
            ]
            results = receive_messages(incoming, mailbox=self.mailbox)
            self.result.created += sum(r.created for r in results)
            dates = [item.received_at for (item, _), r in zip(fetched, results, strict=True) if r.created]
            newest = max((d for d in dates if d is not None), default=None)
            if newest is not None:
                self.result.newest = max(self.result.newest or newest, newest)
                self.result.committed_at = timezone.now()
        self.result.handled += len(items)
        fetched_ids = {item.id for item, _ in fetched}
        for item in items:
            if item.id in known or item.id in fetched_ids:
                self.apply_post_action(item)

    def apply_post_action(self, item: DeltaItem) -> None:
        try:
            if self.config.post_action == "read" and not item.is_read:
                self.client.mark_read(item.id)
            elif self.config.post_action == "move" and self.move_to_id != self.folder_id:
                self.client.move(item.id, self.move_to_id)
        except GraphNotFoundError:
            return  # moved or deleted by someone else meanwhile: nothing left to act on


def sync_graph_mailbox(
    client: GraphClient,
    mailbox: Mailbox,
    config: GraphFetchConfig,
    *,
    lease_valid: Callable[[], bool] = lambda: True,
    stop: threading.Event | None = None,
) -> CycleResult:
    """Every configured folder, then the push subscriptions (when a notification URL is set)."""
    begin_push_cycle(mailbox.pk)  # notifications from now on wake the next wait, even during this cycle
    result = CycleResult()
    move_to_id = client.find_folder(config.move_to).id if config.post_action == "move" else ""
    folder_ids: dict[str, str] = {}
    for name in config.folders:
        if stop is not None and stop.is_set():
            return result
        folder = _FolderSync(
            client, mailbox, config, name, move_to_id=move_to_id, lease_valid=lease_valid, stop=stop, result=result
        )
        folder_ids[name] = folder.run()
    problem = ensure_subscriptions(client, config, folder_ids)
    if problem:
        log.warning("mailbox %s: %s", mailbox.pk, problem)
    return result


def run_graph_cycle(
    mailbox: Mailbox,
    config: GraphFetchConfig,
    *,
    lease_valid: Callable[[], bool] = lambda: True,
    stop: threading.Event | None = None,
    client_factory: Callable[[GraphFetchConfig], GraphClient] | None = None,
) -> CycleResult:
    """One cycle with a client of its own (throttling waits end early on `stop`); the runner's entry point."""
    if client_factory is not None:
        client = client_factory(config)
    else:
        client = build_graph_client(config, sleep=stop.wait if stop is not None else None)
    with client:
        return sync_graph_mailbox(client, mailbox, config, lease_valid=lease_valid, stop=stop)
