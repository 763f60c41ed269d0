"""Reads mail from an on-premises Exchange mailbox (2016, 2019, Subscription Edition) over EWS with exchangelib.

No Django and no database here: the orchestrator (postroom.connectors.ews_sync) keeps the SyncState per folder,
commits the raw bytes, and only then calls `apply_post_action`. Per folder and page:

1. `sync_page`: SyncFolderItems (IdOnly, MaxChangesReturned = the batch) from the stored SyncState; the answer holds
   the item ids created since, a new SyncState and IncludesLastItemInRange (false: more pages follow);
2. `fetch`: GetItem with item:MimeContent (the message as the server received it, base64 in the envelope) for
   those ids; an item that vanished in between (a person moved or deleted it) is skipped;
3. `apply_post_action`: UpdateItem IsRead=true ("seen"), MoveItem ("move"), DeleteItem to Deleted Items ("delete")
   or nothing ("keep").

The mailbox is the service account's own, a shared mailbox it has full access to (delegate: folder ids name the
mailbox), or one it impersonates (the ExchangeImpersonation SOAP header; the account needs the
ApplicationImpersonation role). The URL is the server's EWS endpoint (https://host/EWS/Exchange.asmx): autodiscover
is not used, because it would connect to hosts chosen by DNS and by the server's XML answers, past the SSRF guard.
The HTTP layer (ews_http) verifies TLS, pins the checked addresses and honours ErrorServerBusy back-off, bounded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

from exchangelib import BASIC, DELEGATE, IMPERSONATION, NTLM, Account, Configuration, Credentials, Version
from exchangelib.errors import ErrorItemNotFound, EWSError
from exchangelib.folders import DeletedItems, FolderCollection, Inbox, JunkEmail, MsgFolderRoot, SentItems
from exchangelib.items import ID_ONLY, MOVE_TO_DELETED_ITEMS, Message
from exchangelib.protocol import Protocol
from exchangelib.services import SyncFolderItems
from exchangelib.transport import NOAUTH
from exchangelib.version import EXCHANGE_2016

from postroom.mail.transport.ews_errors import describe_error, raise_translated
from postroom.mail.transport.ews_http import BoundedBackoff, build_protocol_class, instantiate_protocol
from postroom.mail.transport.ews_values import (
    EWS_ACCESS_TYPES,
    EWS_AUTH_TYPES,
    EWS_POST_ACTIONS,
    EwsAccess,
    EwsAuth,
    EwsCredentials,
    EwsEndpoint,
    EwsError,
    EwsPostAction,
    EwsSetupError,
    EwsSyncStateError,
    FetchedItem,
    ItemRef,
    SyncPage,
)
from postroom.mail.transport.mailbox_endpoint import prepare_endpoint

__all__ = [  # the connector's one import point (values and errors live in ews_values and ews_errors)
    "EWS_ACCESS_TYPES",
    "EWS_AUTH_TYPES",
    "EWS_POST_ACTIONS",
    "WELL_KNOWN_FOLDERS",
    "EwsAccess",
    "EwsAuth",
    "EwsCredentials",
    "EwsEndpoint",
    "EwsError",
    "EwsPostAction",
    "EwsSession",
    "EwsSetupError",
    "EwsSyncStateError",
    "FetchedItem",
    "ItemRef",
    "SyncPage",
    "describe_error",
    "open_session",
]

# "Exchange2016" is the newest RequestServerVersion that 2016, 2019 and SE all accept; naming it skips exchangelib's
# version probe (a ConvertId round trip per session). The server's ServerVersionInfo header is read on every answer.
API_VERSION: Final = "Exchange2016"
# A folder path starts with one of these distinguished folder ids (EWS DistinguishedFolderId); "inbox/Support" is the
# subfolder Support of the inbox, found by FindFolder (display names, case-insensitive as on the server).
WELL_KNOWN_FOLDERS: Final[dict[str, Any]] = {
    "inbox": Inbox,
    "junkemail": JunkEmail,
    "deleteditems": DeletedItems,
    "sentitems": SentItems,
    "msgfolderroot": MsgFolderRoot,
}
_AUTH: Final = {"ntlm": NTLM, "basic": BASIC, "oauth": NOAUTH}


class EwsSession:
    """An exchangelib Account on a protocol of our own (ews_http); `close` drops its connections."""

    def __init__(self, account: Any, endpoint: EwsEndpoint) -> None:
        self.account = account
        self.endpoint = endpoint
        self._folders: dict[str, Any] = {}

    def folder(self, path: str) -> Any:
        """The folder at `path` (see WELL_KNOWN_FOLDERS), looked up once per session."""
        key = path.strip().strip("/").lower()
        if key not in self._folders:
            with self._translated(f"folder {path}"):
                self._folders[key] = self._resolve(path)
        return self._folders[key]

    def _resolve(self, path: str) -> Any:
        head, *rest = [part for part in path.strip().split("/") if part]
        cls = WELL_KNOWN_FOLDERS.get(head.lower())
        if cls is None:
            raise EwsSetupError(f"folder {path} must start with one of {', '.join(WELL_KNOWN_FOLDERS)}")
        folder = self.account.root.get_default_folder(cls)
        for name in rest:
            children = FolderCollection(account=self.account, folders=[folder]).find_folders(depth="Shallow")
            match = [child for child in children if str(child.name).lower() == name.lower()]
            if not match:
                raise EwsSetupError(f"folder {path}: {folder.name} has no subfolder {name}")
            folder = match[0]
        return folder

    def sync_page(self, path: str, sync_state: str | None, max_changes: int) -> SyncPage:
        """One SyncFolderItems call from `sync_state` (None: from the start); only Create changes matter here."""
        folder = self.folder(path)
        service = SyncFolderItems(account=self.account)
        with self._translated(f"syncing {path}"):
            changes = list(
                service.call(
                    folder=folder,
                    shape=ID_ONLY,
                    additional_fields=set(),
                    sync_state=sync_state or None,
                    ignore=None,
                    max_changes_returned=max_changes,
                    sync_scope="NormalItems",
                )
            )
        created = tuple(
            ItemRef(str(item.id), str(item.changekey or "")) for kind, item in changes if kind == service.CREATE
        )
        return SyncPage(str(service.sync_state), created, bool(service.includes_last_item_in_range))

    def fetch(self, path: str, refs: Sequence[ItemRef]) -> list[FetchedItem]:
        """GetItem with the MIME content; items the server no longer has are left out."""
        if not refs:
            return []
        folder = self.folder(path)
        fetched: list[FetchedItem] = []
        with self._translated(f"reading {path}"):
            results = list(
                self.account.fetch(
                    ids=[(ref.item_id, ref.change_key or None) for ref in refs],
                    folder=folder,
                    only_fields=["mime_content", "datetime_received"],
                )
            )
        for ref, result in zip(refs, results, strict=True):
            if isinstance(result, ErrorItemNotFound):
                continue
            if isinstance(result, Exception):
                raise EwsError(f"reading {path}: the server answered {type(result).__name__}: {result}") from result
            raw = result.mime_content
            if not isinstance(raw, bytes | str) or not raw:
                raise EwsError(f"reading {path}: the server sent no MIME content for an item")
            received = result.datetime_received
            fetched.append(
                FetchedItem(
                    ItemRef(str(result.id or ref.item_id), str(result.changekey or ref.change_key)),
                    raw if isinstance(raw, bytes) else raw.encode(),
                    dt.datetime.fromtimestamp(received.timestamp(), dt.UTC) if received is not None else None,
                )
            )
        return fetched

    def apply_post_action(self, refs: Sequence[ItemRef], action: EwsPostAction, move_to: str = "") -> None:
        """Mark read, move or delete (to Deleted Items) exactly these items; an item already gone is no error."""
        if action == "keep" or not refs:
            return
        ids = [(ref.item_id, ref.change_key or None) for ref in refs]
        target = self.folder(move_to) if action == "move" else None
        with self._translated(f"post-action {action}"):
            if action == "seen":
                items = [
                    Message(account=self.account, id=ref.item_id, changekey=ref.change_key, is_read=True)
                    for ref in refs
                ]
                results = list(self.account.bulk_update(items=[(item, ["is_read"]) for item in items]))
            elif action == "move":
                results = list(self.account.bulk_move(ids=ids, to_folder=target))
            else:
                results = list(self.account.bulk_delete(ids=ids, delete_type=MOVE_TO_DELETED_ITEMS))
        for result in results:
            if isinstance(result, Exception) and not isinstance(result, ErrorItemNotFound):
                raise EwsError(f"post-action {action}: the server answered {type(result).__name__}: {result}")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.account.protocol.close()

    @contextlib.contextmanager
    def _translated(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (EwsError, EwsSetupError):
            raise
        except (EWSError, OSError) as e:
            raise_translated(e, self.endpoint, doing)


def open_session(endpoint: EwsEndpoint, credentials: EwsCredentials) -> EwsSession:
    """Check the URL and its host (SSRF guard), build the verified protocol and the Account; nothing is sent yet."""
    parts = urlsplit(endpoint.url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise EwsSetupError(f"the EWS address must be https://host/EWS/Exchange.asmx, not {endpoint.url}")
    try:
        port = parts.port or 443
    except ValueError as e:
        raise EwsSetupError(f"the EWS address {endpoint.url} has a bad port") from e
    checked, context = prepare_endpoint(
        parts.hostname,
        port,
        "implicit",
        endpoint.ca_file,
        allow_private=endpoint.allow_private,
        setup_error=EwsSetupError,
        error=EwsError,
    )
    oauth = endpoint.auth_type == "oauth"
    if oauth and credentials.tokens is None:
        raise EwsSetupError("auth_type oauth needs an OAuth token source for this mailbox")
    if not oauth and not credentials.password:
        raise EwsSetupError("no password is set for this EWS mailbox")
    protocol_class = build_protocol_class(
        context,
        checked.addresses,
        endpoint.timeout_seconds,
        credentials.tokens if oauth else None,
        proxy=endpoint.proxy,
    )
    config = Configuration(
        credentials=None if oauth else Credentials(endpoint.username, credentials.password),
        service_endpoint=endpoint.url,
        auth_type=_AUTH[endpoint.auth_type],
        version=Version(build=EXCHANGE_2016, api_version=API_VERSION),
        retry_policy=BoundedBackoff(max_wait=endpoint.max_backoff_seconds),
        max_connections=1,
    )
    try:
        account = Account(
            primary_smtp_address=endpoint.mailbox,
            access_type=IMPERSONATION if endpoint.access == "impersonation" else DELEGATE,
            autodiscover=False,
            config=config,
            locale="en_US",
            default_timezone=None,
        )
    except ValueError as e:
        raise EwsSetupError(f"the mailbox address {endpoint.mailbox!r} is not an email address") from e
    # Account() registered a plain Protocol in exchangelib's process-wide cache; ours replaces it and stays private.
    with contextlib.suppress(KeyError):
        del Protocol[config]
    account.protocol = instantiate_protocol(protocol_class, config)
    return EwsSession(account, endpoint)
