"""Push for Graph mailboxes: change-notification subscriptions, the notifications they bring, waking the reader.

Graph POSTs a notification to `<notification_url>/graph/notifications/<mailbox id>/` when mail is created in a
subscribed folder (learn.microsoft.com/graph/change-notifications-delivery-webhooks). The endpoint
(postroom.api.graph_notifications) checks each notification's `clientState` against the one this mailbox's
subscription was created with, then bumps a counter; the reader thread, waiting between delta queries, sees the
counter move and runs its cycle at once. Delta polling every `poll_seconds` stays as the fallback, so a lost
notification only costs latency.

State lives in one FolderCursor row per mailbox (folder `PUSH_CURSOR`), no migration needed:
- `last_uid`: the notification counter, only ever incremented by the endpoint (`F() + 1`, no lost update);
- `state`: written only by the lease holder's cycle: `seen` (the counter when the last cycle began) and
  `subscriptions` (per folder id: id, resource URL, expiry and the sha256 of the clientState; the clientState
  itself is not kept).
The reader has work when `last_uid != state["seen"]`. In one process (`postroom up`) an in-memory event also
wakes it without waiting for the next database check.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Mapping
from typing import Any, Final

from django.db.models import F
from django.utils import timezone

from postroom.connectors.graph_conf import GraphFetchConfig
from postroom.connectors.models import FolderCursor
from postroom.mail.transport.graph_client import GraphClient
from postroom.mail.transport.graph_values import GraphError, GraphNotFoundError

log = logging.getLogger(__name__)

PUSH_CURSOR: Final = "graph-push"  # FolderCursor.folder of the push row (folder rows are "graph-folder:<name>")
NOTIFICATION_PATH: Final = "/graph/notifications/{mailbox_id}/"
# Outlook message subscriptions live at most 10,080 minutes (learn.microsoft.com/graph/api/resources/subscription);
# three days leaves room for a poller outage, renewed when less than a day is left.
SUBSCRIPTION_LIFETIME: Final = dt.timedelta(days=3)
RENEW_BEFORE: Final = dt.timedelta(days=1)
RETRY_FAILED_AFTER: Final = dt.timedelta(minutes=15)  # a refused subscription is asked for again after this
DB_CHECK_SECONDS: Final = 2.0  # how often a waiting reader looks at the counter (another process's endpoint)
LOCAL_WAIT_SECONDS: Final = 0.25  # how soon a waiting reader notices a stop or an in-process notification

_events: dict[int, threading.Event] = {}
_events_lock = threading.Lock()


class MalformedNotificationError(ValueError):
    """The body is not Graph's `{"value": [...]}`."""


class PushNotConfiguredError(LookupError):
    """This mailbox has no push subscription state: the notification URL is not one of ours."""


def build_notification_url(origin: str, mailbox_id: int) -> str:
    return origin.rstrip("/") + NOTIFICATION_PATH.format(mailbox_id=mailbox_id)


def _hash(client_state: str) -> str:
    return hashlib.sha256(client_state.encode()).hexdigest()


def _local_event(mailbox_id: int) -> threading.Event:
    with _events_lock:
        return _events.setdefault(mailbox_id, threading.Event())


def load_push_row(mailbox_id: int) -> FolderCursor:
    row, _ = FolderCursor.objects.get_or_create(mailbox_id=mailbox_id, folder=PUSH_CURSOR, defaults={"uidvalidity": 0})
    return row


def begin_push_cycle(mailbox_id: int) -> None:
    """Note the counter a cycle starts from: notifications after this moment wake the next wait."""
    row = FolderCursor.objects.filter(mailbox_id=mailbox_id, folder=PUSH_CURSOR).first()
    if row is not None and row.state.get("seen") != row.last_uid:
        FolderCursor.objects.filter(pk=row.pk).update(state={**row.state, "seen": row.last_uid})
    _local_event(mailbox_id).clear()


def has_pending_notification(mailbox_id: int) -> bool:
    row = FolderCursor.objects.filter(mailbox_id=mailbox_id, folder=PUSH_CURSOR).values("last_uid", "state").first()
    return row is not None and row["state"].get("seen", 0) != row["last_uid"]


def wait_for_graph_notification(mailbox_id: int, stop: threading.Event, timeout: float) -> bool:
    """Wait up to `timeout` seconds for a change notification (True) or a stop or the poll interval (False)."""
    event = _local_event(mailbox_id)
    deadline = time.monotonic() + timeout
    next_check = 0.0
    while not stop.is_set():
        now = time.monotonic()
        if now >= next_check:
            if has_pending_notification(mailbox_id):
                return True
            next_check = now + DB_CHECK_SECONDS
        if now >= deadline:
            return False
        if event.wait(min(LOCAL_WAIT_SECONDS, deadline - now)):
            event.clear()
            return True
    return False


def accept_notifications(mailbox_id: int, body: object) -> tuple[int, int]:
    """Check a notification POST's items against the mailbox's subscriptions; wake the reader if any is ours.

    Returns (accepted, refused). Raises PushNotConfiguredError for a mailbox without push state and ValueError for
    a body that is not Graph's `{"value": [...]}`.
    """
    row = FolderCursor.objects.filter(mailbox_id=mailbox_id, folder=PUSH_CURSOR).first()
    if row is None:
        raise PushNotConfiguredError(f"mailbox {mailbox_id} has no Graph subscription")
    items = body.get("value") if isinstance(body, Mapping) else None
    if not isinstance(items, list):
        raise MalformedNotificationError("not a Graph change notification: no value list")
    known = {
        str(sub.get("id")): str(sub.get("client_state_sha256"))
        for sub in row.state.get("subscriptions", {}).values()
        if isinstance(sub, Mapping)
    }
    accepted = refused = 0
    for item in items:
        sub_id = item.get("subscriptionId") if isinstance(item, Mapping) else None
        state = item.get("clientState") if isinstance(item, Mapping) else None
        expected = known.get(str(sub_id))
        if expected and isinstance(state, str) and hmac.compare_digest(_hash(state), expected):
            accepted += 1
        else:
            refused += 1
    if accepted:
        FolderCursor.objects.filter(pk=row.pk).update(last_uid=F("last_uid") + 1)
        _local_event(mailbox_id).set()
    if refused:
        log.warning(
            "mailbox %s: %s Graph notifications refused (unknown subscription or clientState)", mailbox_id, refused
        )
    return accepted, refused


def is_push_configured(mailbox_id: int) -> bool:
    return FolderCursor.objects.filter(mailbox_id=mailbox_id, folder=PUSH_CURSOR).exists()


def _resource(config: GraphFetchConfig, folder_id: str) -> str:
    return f"users/{config.user}/mailFolders('{folder_id}')/messages"


def _renew_or_create(
    client: GraphClient,
    config: GraphFetchConfig,
    folder_id: str,
    sub: dict[str, Any] | None,
    *,
    url: str,
    now: dt.datetime,
    may_create: bool,
) -> dict[str, Any] | None:
    """The folder's subscription record after renewing it (or making a new one); None when none may be made."""
    if sub is not None:
        expires = dt.datetime.fromisoformat(str(sub["expires_at"]))
        if expires - now > RENEW_BEFORE:
            return sub
        try:
            renewed = client.renew_subscription(str(sub["id"]), now + SUBSCRIPTION_LIFETIME)
            return {**sub, "expires_at": renewed.expires_at.isoformat()}
        except GraphNotFoundError:
            pass  # it lapsed or was removed: make a new one
    if not may_create:
        return None
    client_state = secrets.token_urlsafe(32)
    created = client.create_subscription(
        resource=_resource(config, folder_id),
        notification_url=url,
        client_state=client_state,
        expires_at=now + SUBSCRIPTION_LIFETIME,
    )
    return {
        "id": created.id,
        "resource": _resource(config, folder_id),
        "url": url,
        "expires_at": created.expires_at.isoformat(),
        "client_state_sha256": _hash(client_state),
    }


def ensure_subscriptions(
    client: GraphClient, config: GraphFetchConfig, folder_ids: Mapping[str, str], now: dt.datetime | None = None
) -> str | None:
    """Create, renew or remove subscriptions so each read folder has one (none without notification_url).

    Never raises for Graph's refusals: mail still flows by polling. Returns the problem in one line, or None.
    """
    now = now or timezone.now()
    url = build_notification_url(config.notification_url, config.mailbox_id) if config.notification_url else ""
    if url:
        row: FolderCursor | None = load_push_row(config.mailbox_id)
    else:
        row = FolderCursor.objects.filter(mailbox_id=config.mailbox_id, folder=PUSH_CURSOR).first()
    if row is None:
        return None
    state: dict[str, Any] = dict(row.state)
    subs: dict[str, dict[str, Any]] = {k: dict(v) for k, v in state.get("subscriptions", {}).items()}
    wanted = {folder_id: name for name, folder_id in folder_ids.items()} if url else {}
    for folder_id, sub in list(subs.items()):
        if folder_id not in wanted or sub.get("url") != url or sub.get("resource") != _resource(config, folder_id):
            try:
                client.delete_subscription(str(sub.get("id")))
            except GraphError as e:
                log.warning("mailbox %s: could not remove a Graph subscription: %s", config.mailbox_id, e)
            del subs[folder_id]
    failed_at = state.get("failed_at")
    may_create = not (isinstance(failed_at, str) and now - dt.datetime.fromisoformat(failed_at) < RETRY_FAILED_AFTER)
    problem: str | None = None
    for folder_id, name in wanted.items():
        try:
            record = _renew_or_create(
                client, config, folder_id, subs.get(folder_id), url=url, now=now, may_create=may_create
            )
        except GraphError as e:
            problem = f"push for folder {name} not set up (delta polling goes on): {e}"
            state["failed_at"] = now.isoformat()
            record = None
        if record is None:
            subs.pop(folder_id, None)
        else:
            subs[folder_id] = {**record, "folder": name}
    if problem is None and may_create:
        state.pop("failed_at", None)
    if not url and not subs:
        FolderCursor.objects.filter(pk=row.pk).delete()  # push switched off: the endpoint answers 404 again
        return None
    state["subscriptions"] = subs
    FolderCursor.objects.filter(pk=row.pk).update(state=state)  # last_uid (the endpoint's counter) untouched
    return problem
