"""A local stand-in for Microsoft Graph's mail endpoints and the identity platform's token endpoint.

A threaded HTTP server on loopback speaking the wire format of Microsoft's documented examples
(learn.microsoft.com/graph/delta-query-messages, /graph/api/message-delta, /graph/api/user-sendmail,
/graph/api/subscription-post-subscriptions, /graph/throttling, /graph/errors): `@odata.context`,
`@odata.nextLink` with `$skiptoken`, `@odata.deltaLink` with `$deltatoken`, `@removed` entries, error bodies
`{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}`.

Faults a test injects: `throttle(n, retry_after)` (429 with Retry-After, n times), `expire_tokens()` (401
InvalidAuthenticationToken until a new token is fetched), `expire_delta_tokens()` (410 SyncStateNotFound).
Every request is recorded with the server's monotonic clock, so a test compares when requests arrived, not how
long it slept.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx

TENANT = "contoso.onmicrosoft.com"
CLIENT_ID = "6731de76-14a6-49ae-97bc-6eba6914391e"
CLIENT_SECRET = "stand-in-secret"
WELL_KNOWN = {"inbox": "Inbox", "archive": "Archive", "deleteditems": "Deleted Items", "sentitems": "Sent Items"}
DEFAULT_PAGE_SIZE = 10  # Graph's default page of a message delta

Validator = Callable[[str, str], bool]  # (notification URL, validation token) -> endpoint echoed it
Notifier = Callable[[str, dict[str, Any]], int]  # (notification URL, body) -> HTTP status


@dataclass
class Message:
    id: str
    folder_id: str
    raw: bytes
    received: dt.datetime
    is_read: bool = False


@dataclass
class Change:
    seq: int
    folder_id: str
    message_id: str
    kind: str  # "created" (arrived in the folder) or "deleted" (left it)


@dataclass
class Round:
    """A delta round in progress: the folder, the change window and how far the pages went."""

    folder_id: str
    since: int  # changes after this sequence number (0: every message now in the folder)
    until: int
    created_only: bool
    offset: int = 0


@dataclass
class Recorded:
    method: str
    path: str
    at: float  # time.monotonic() when the request arrived
    status: int
    headers: dict[str, list[str]]


@dataclass
class Mailbox:
    upn: str
    object_id: str
    folders: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (display name, parent id)
    well_known: dict[str, str] = field(default_factory=dict)  # well-known name -> folder id
    messages: dict[str, Message] = field(default_factory=dict)


def _error(code: str, message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": str(uuid.uuid4()),
                "client-request-id": str(uuid.uuid4()),
            },
        }
    }


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _default_validator(url: str, token: str) -> bool:
    sep = "&" if "?" in url else "?"
    response = httpx.post(f"{url}{sep}validationToken={quote(token)}", content=b"", timeout=10)
    return response.status_code == 200 and response.text == token


def _default_notifier(url: str, body: dict[str, Any]) -> int:
    return httpx.post(url, json=body, timeout=10).status_code


class GraphStandIn:
    """The server and its state. Use as a context manager; `base_url` and `login_url` go into mailbox settings."""

    def __init__(self, *, validator: Validator | None = None, notifier: Notifier | None = None) -> None:
        self.lock = threading.RLock()
        self.mailboxes: dict[str, Mailbox] = {}
        self.changes: list[Change] = []
        self.seq = itertools.count(1)
        self.last_seq = 0
        self.rounds: dict[str, Round] = {}  # skip and delta tokens -> their round
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.throttles: list[tuple[int, int, str]] = []  # (times left, Retry-After, path fragment)
        self.requests: list[Recorded] = []
        self.sent: list[bytes] = []
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.notification_statuses: list[int] = []
        self.validator = validator or _default_validator
        self.notifier = notifier or _default_notifier
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="graph-stand-in", daemon=True
        )

    # -- lifecycle --------------------------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1.0"

    @property
    def login_url(self) -> str:
        return self.origin

    def __enter__(self) -> GraphStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- test controls ----------------------------------------------------------------------------------------

    def add_mailbox(self, upn: str) -> Mailbox:
        with self.lock:
            box = Mailbox(upn, str(uuid.uuid4()))
            for name, display in WELL_KNOWN.items():
                folder_id = self._new_id("AQMkAD")
                box.folders[folder_id] = (display, "")
                box.well_known[name] = folder_id
            self.mailboxes[upn.lower()] = box
            self.mailboxes[box.object_id] = box
            return box

    def add_folder(self, upn: str, display_name: str, parent: str = "") -> str:
        with self.lock:
            box = self.mailboxes[upn.lower()]
            folder_id = self._new_id("AQMkAD")
            box.folders[folder_id] = (display_name, box.well_known.get(parent.lower(), parent))
            return folder_id

    def folder_id(self, upn: str, well_known: str) -> str:
        return self.mailboxes[upn.lower()].well_known[well_known.lower()]

    def deliver(self, upn: str, raw: bytes, *, folder: str = "inbox") -> str:
        """A message arrives in a folder (well-known name or id); subscribers of the folder are notified."""
        with self.lock:
            box = self.mailboxes[upn.lower()]
            folder_id = box.well_known.get(folder.lower(), folder)
            message = Message(self._new_id("AAMkAD"), folder_id, raw, dt.datetime.now(dt.UTC))
            box.messages[message.id] = message
            self._change(folder_id, message.id, "created")
            targets = [
                sub
                for sub in self.subscriptions.values()
                if sub["resource"].lower() == f"users/{upn}/mailfolders('{folder_id}')/messages".lower()
            ]
        for sub in targets:
            self._notify(sub, box, message)
        return message.id

    def delete(self, upn: str, message_id: str) -> None:
        with self.lock:
            message = self.mailboxes[upn.lower()].messages.pop(message_id)
            self._change(message.folder_id, message_id, "deleted")

    def messages_in(self, upn: str, folder: str = "inbox") -> list[Message]:
        with self.lock:
            box = self.mailboxes[upn.lower()]
            folder_id = box.well_known.get(folder.lower(), folder)
            return [m for m in box.messages.values() if m.folder_id == folder_id]

    def throttle(self, times: int, retry_after: int, *, path: str = "") -> None:
        """The next `times` requests whose path contains `path` get 429 with `Retry-After: retry_after`."""
        with self.lock:
            self.throttles.append((times, retry_after, path))

    def expire_tokens(self) -> None:
        """Every access token handed out so far is refused with 401 from now on."""
        with self.lock:
            self.tokens.clear()

    def expire_delta_tokens(self) -> None:
        """Every delta and skip token handed out so far is answered with 410 Gone from now on."""
        with self.lock:
            self.rounds.clear()

    def recorded(self, fragment: str = "", method: str = "") -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if fragment in r.path and (not method or r.method == method)]

    # -- internals --------------------------------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return prefix + base64.urlsafe_b64encode(secrets.token_bytes(33)).decode()

    def _change(self, folder_id: str, message_id: str, kind: str) -> None:
        self.last_seq = next(self.seq)
        self.changes.append(Change(self.last_seq, folder_id, message_id, kind))

    def _notify(self, sub: dict[str, Any], box: Mailbox, message: Message) -> None:
        resource = f"Users/{box.object_id}/Messages/{message.id}"
        body = {
            "value": [
                {
                    "subscriptionId": sub["id"],
                    "subscriptionExpirationDateTime": sub["expirationDateTime"],
                    "changeType": "created",
                    "resource": resource,
                    "resourceData": {
                        "@odata.type": "#Microsoft.Graph.Message",
                        "@odata.id": resource,
                        "@odata.etag": 'W/"CQAAABYAAADkrWGo7bouTKlsgTZMr9KwAAAUWRHf"',
                        "id": message.id,
                    },
                    "clientState": sub["clientState"],
                    "tenantId": str(uuid.uuid5(uuid.NAMESPACE_DNS, TENANT)),
                }
            ]
        }
        status = self.notifier(sub["notificationUrl"], body)
        with self.lock:
            self.notification_statuses.append(status)


def make_graph_mailbox(standin: GraphStandIn, upn: str, **extra: Any) -> Any:
    """An active Graph mailbox (default tenant and queue) reading `upn`'s mail on the stand-in with the app secret."""
    from postroom.mailboxes.models import ConnectorKind
    from postroom.mailboxes.models import Mailbox as MailboxRow
    from postroom.tenants.services import get_default_tenant
    from postroom.tickets.services import ensure_default_queue

    tenant = get_default_tenant()
    settings = {
        "tenant_id": TENANT,
        "client_id": CLIENT_ID,
        "user": upn,
        "graph_url": standin.base_url,
        "login_url": standin.login_url,
        **extra,
    }
    return MailboxRow.objects.create(
        tenant=tenant,
        name=f"Graph {upn} {secrets.token_hex(4)}",
        address=upn,
        kind=ConnectorKind.GRAPH,
        settings=settings,
        secrets={"graph_client_secret": CLIENT_SECRET},
        default_queue=ensure_default_queue(tenant),
    )


def _handler_for(standin: GraphStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        state = standin

    return Handler


class _Handler(BaseHTTPRequestHandler):
    state: GraphStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    # -- dispatch ---------------------------------------------------------------------------------------------

    def _serve(self, method: str) -> None:
        arrived = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        self.query = {key: values[-1] for key, values in parse_qs(split.query).items()}
        path = unquote(split.path)
        self.arrived, self.method, self.request_path = arrived, method, path
        self._route(method, path)

    def _record(self, status: int) -> None:
        """Recorded before the answer is written: a client that has its answer finds its request in the log."""
        headers: dict[str, list[str]] = {}
        for key, value in self.headers.items():
            headers.setdefault(key.lower(), []).append(value)
        with self.state.lock:
            self.state.requests.append(Recorded(self.method, self.request_path, self.arrived, status, headers))

    def _route(self, method: str, path: str) -> int:  # noqa: PLR0911 (one return per route)
        if method == "POST" and path.endswith("/oauth2/v2.0/token"):
            return self._token(path)
        if not path.startswith("/v1.0/"):
            return self._json(404, _error("BadRequest", "Resource not found for the segment."))
        throttled = self._throttled(path)
        if throttled is not None:
            return self._json(429, _error("TooManyRequests", "Please retry again later."), retry_after=throttled)
        if not self._authorised():
            return self._json(
                401, _error("InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
            )
        rest = path[len("/v1.0") :]
        if rest.startswith("/subscriptions"):
            return self._subscriptions(method, rest)
        match = re.fullmatch(r"/users/([^/]+)(/.*)", rest)
        box = self.state.mailboxes.get(match.group(1).lower()) if match else None
        if match is None or box is None:
            return self._json(404, _error("ErrorInvalidUser", "The requested user is invalid."))
        return self._mailbox(method, box, match.group(1), match.group(2))

    def _throttled(self, path: str) -> int | None:
        with self.state.lock:
            for index, (times, retry_after, fragment) in enumerate(self.state.throttles):
                if fragment in path and times > 0:
                    self.state.throttles[index] = (times - 1, retry_after, fragment)
                    return retry_after
        return None

    def _authorised(self) -> bool:
        value = self.headers.get("Authorization") or ""
        with self.state.lock:
            return value.startswith("Bearer ") and value[len("Bearer ") :] in self.state.tokens

    def _prefer(self) -> dict[str, str]:
        prefs: dict[str, str] = {}
        for header in self.headers.get_all("Prefer") or []:
            for part in header.split(","):
                key, _, value = part.strip().partition("=")
                prefs[key.strip().lower()] = value.strip().strip('"')
        return prefs

    # -- endpoints --------------------------------------------------------------------------------------------

    def _token(self, path: str) -> int:
        form = {key: values[-1] for key, values in parse_qs(self.body.decode()).items()}
        tenant = path.split("/")[1]
        if (
            tenant != TENANT
            or form.get("grant_type") != "client_credentials"
            or form.get("client_id") != CLIENT_ID
            or form.get("client_secret") != CLIENT_SECRET
        ):
            return self._json(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being "
                    "sent in the request is the client secret value, not the client secret ID.\r\nTrace ID: x",
                    "error_codes": [7000215],
                    "timestamp": _iso(dt.datetime.now(dt.UTC)),
                    "trace_id": str(uuid.uuid4()),
                    "correlation_id": str(uuid.uuid4()),
                },
            )
        token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + secrets.token_urlsafe(24)
        with self.state.lock:
            self.state.tokens.add(token)
            self.state.token_requests += 1
        return self._json(
            200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}
        )

    def _mailbox(self, method: str, box: Mailbox, user: str, rest: str) -> int:  # noqa: PLR0911 (one per route)
        base = self.state.base_url
        rest = re.sub(
            r"/mailfolders(?:\('([^']+)'\))?", lambda f: "/mailFolders" + (f"/{f[1]}" if f[1] else ""), rest, flags=re.I
        )
        if method == "GET" and (m := re.fullmatch(r"/mailFolders(?:/([^/]+)/childFolders)?", rest)):
            parent = box.well_known.get((m.group(1) or "").lower(), m.group(1) or "")
            folders = [
                {"id": fid, "displayName": name, "parentFolderId": parent_id, "childFolderCount": 0, "isHidden": False}
                for fid, (name, parent_id) in box.folders.items()
                if parent_id == parent
            ]
            context = f"{base}/$metadata#users('{quote(user)}')/mailFolders"
            return self._json(200, {"@odata.context": context, "value": folders})
        if method == "GET" and (m := re.fullmatch(r"/mailFolders/([^/]+)", rest)):
            folder_id = box.well_known.get(m.group(1).lower(), m.group(1))
            if folder_id not in box.folders:
                return self._json(404, _error("ErrorItemNotFound", "The specified object was not found in the store."))
            name, parent_id = box.folders[folder_id]
            context = f"{base}/$metadata#users('{quote(user)}')/mailFolders/$entity"
            return self._json(
                200, {"@odata.context": context, "id": folder_id, "displayName": name, "parentFolderId": parent_id}
            )
        if method == "GET" and (m := re.fullmatch(r"/mailFolders/([^/]+)/messages/delta", rest)):
            return self._delta(box, user, m.group(1))
        if method == "POST" and rest == "/sendMail":
            return self._send_mail()
        if (m := re.fullmatch(r"/messages/([^/]+)(/\$value|/move)?", rest)) is None:
            return self._json(400, _error("BadRequest", "Resource not found for the segment."))
        with self.state.lock:
            message = box.messages.get(m.group(1))
        if message is None:
            return self._json(404, _error("ErrorItemNotFound", "The specified object was not found in the store."))
        if method == "GET" and m.group(2) == "/$value":
            return self._raw(200, message.raw, "text/plain")
        if method == "PATCH" and m.group(2) is None:
            changes = json.loads(self.body or b"{}")
            with self.state.lock:
                message.is_read = bool(changes.get("isRead", message.is_read))
            return self._json(200, self._message_json(box, user, message))
        if method == "POST" and m.group(2) == "/move":
            return self._move(box, user, message)
        return self._json(405, _error("BadRequest", "The HTTP method is not allowed here."))

    def _send_mail(self) -> int:
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "text/plain":
            return self._json(400, _error("ErrorMimeContentInvalid", "MIME content must be base64 text/plain."))
        try:
            raw = base64.b64decode(self.body, validate=True)
        except ValueError:
            return self._json(400, _error("ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME."))
        with self.state.lock:
            self.state.sent.append(raw)
        return self._raw(202, b"", "")

    def _move(self, box: Mailbox, user: str, message: Message) -> int:
        destination = json.loads(self.body or b"{}").get("destinationId", "")
        destination = box.well_known.get(str(destination).lower(), destination)
        if destination not in box.folders:
            return self._json(404, _error("ErrorItemNotFound", "The specified object was not found in the store."))
        with self.state.lock:
            source = message.folder_id
            if self._prefer().get("idtype") != "ImmutableId":  # without immutable ids a move makes a new item
                box.messages.pop(message.id)
                message.id = self.state._new_id("AAMkAD")
                box.messages[message.id] = message
            message.folder_id = destination
            self.state._change(source, message.id, "deleted")
            self.state._change(destination, message.id, "created")
        return self._json(201, self._message_json(box, user, message))

    def _message_json(self, box: Mailbox, user: str, message: Message) -> dict[str, Any]:
        return {
            "@odata.context": f"{self.state.base_url}/$metadata#users('{quote(user)}')/messages/$entity",
            "@odata.etag": 'W/"CQAAABYAAAARn2vdzPFjSbaPPxzjlzOTAAASsKZz"',
            "id": message.id,
            "receivedDateTime": _iso(message.received),
            "isRead": message.is_read,
            "parentFolderId": message.folder_id,
        }

    def _delta(self, box: Mailbox, user: str, folder: str) -> int:
        folder_id = box.well_known.get(folder.lower(), folder)
        if folder_id not in box.folders:
            return self._json(404, _error("ErrorItemNotFound", "The specified object was not found in the store."))
        page_size = int(self._prefer().get("odata.maxpagesize") or DEFAULT_PAGE_SIZE)
        skip, delta = self.query.get("$skiptoken"), self.query.get("$deltatoken")
        with self.state.lock:
            if skip or delta:
                found = self.state.rounds.get(skip or delta or "")
                if found is None or found.folder_id != folder_id:
                    return self._json(
                        410,
                        _error("SyncStateNotFound", "The sync state could not be found. Please restart the sync."),
                    )
                current = (
                    found
                    if skip
                    else Round(folder_id, found.since, self.state.last_seq, found.created_only)  # a new round
                )
            else:
                created_only = self.query.get("changeType") == "created"
                current = Round(folder_id, 0, self.state.last_seq, created_only)
            entries = list(self._entries(box, current))
            page = entries[current.offset : current.offset + page_size]
            link = f"{self.state.base_url}/users/{quote(user)}/mailFolders('{folder_id}')/messages/delta"
            body: dict[str, Any] = {"@odata.context": f"{self.state.base_url}/$metadata#Collection(message)"}
            if current.offset + page_size < len(entries):
                token = secrets.token_urlsafe(18)
                self.state.rounds[token] = Round(
                    folder_id, current.since, current.until, current.created_only, current.offset + page_size
                )
                body["@odata.nextLink"] = f"{link}?$skiptoken={token}"
            else:
                token = secrets.token_urlsafe(18)
                self.state.rounds[token] = Round(folder_id, current.until, current.until, current.created_only)
                body["@odata.deltaLink"] = f"{link}?$deltatoken={token}"
        body["value"] = page
        return self._json(200, body)

    def _entries(self, box: Mailbox, current: Round) -> Iterator[dict[str, Any]]:
        """The round's changes, oldest first: every message in the folder for a first round, else the window's."""
        if current.since == 0:
            chosen = [m for m in box.messages.values() if m.folder_id == current.folder_id]
            for message in sorted(chosen, key=lambda m: m.received):
                yield self._delta_entry(message)
            return
        for change in self.state.changes:
            if not current.since < change.seq <= current.until or change.folder_id != current.folder_id:
                continue
            found = box.messages.get(change.message_id)
            if change.kind == "created" and found is not None and found.folder_id == current.folder_id:
                yield self._delta_entry(found)
            elif change.kind == "deleted" and not current.created_only:
                yield {
                    "@odata.type": "#microsoft.graph.message",
                    "id": change.message_id,
                    "@removed": {"reason": "deleted"},
                }

    def _delta_entry(self, message: Message) -> dict[str, Any]:
        return {
            "@odata.type": "#microsoft.graph.message",
            "@odata.etag": 'W/"CQAAABYAAAARn2vdzPFjSbaPPxzjlzOTAAAEfYB/"',
            "id": message.id,
            "receivedDateTime": _iso(message.received),
            "isRead": message.is_read,
        }

    def _subscriptions(self, method: str, rest: str) -> int:
        base = self.state.base_url
        if method == "POST" and rest == "/subscriptions":
            wanted = json.loads(self.body or b"{}")
            token = secrets.token_urlsafe(24)
            try:
                echoed = self.state.validator(wanted.get("notificationUrl", ""), token)
            except httpx.HTTPError:
                echoed = False
            if not echoed:
                return self._json(
                    400,
                    _error(
                        "InvalidRequest",
                        "Subscription validation request failed. Notification endpoint must respond with 200 OK "
                        "to validation request.",
                    ),
                )
            sub = {
                "@odata.context": f"{base}/$metadata#subscriptions/$entity",
                "id": str(uuid.uuid4()),
                "resource": wanted.get("resource", ""),
                "applicationId": CLIENT_ID,
                "changeType": wanted.get("changeType", ""),
                "clientState": wanted.get("clientState"),
                "notificationUrl": wanted.get("notificationUrl", ""),
                "expirationDateTime": wanted.get("expirationDateTime", ""),
                "creatorId": str(uuid.uuid4()),
                "latestSupportedTlsVersion": "v1_2",
            }
            with self.state.lock:
                self.state.subscriptions[sub["id"]] = sub
            return self._json(201, sub)
        m = re.fullmatch(r"/subscriptions/([^/]+)", rest)
        with self.state.lock:
            found = self.state.subscriptions.get(m.group(1)) if m else None
        if found is None:
            return self._json(404, _error("ResourceNotFound", "The object was not found."))
        sub = found
        if method == "PATCH":
            with self.state.lock:
                sub["expirationDateTime"] = json.loads(self.body or b"{}").get("expirationDateTime", "")
            return self._json(200, sub)
        if method == "DELETE":
            with self.state.lock:
                self.state.subscriptions.pop(sub["id"], None)
            return self._raw(204, b"", "")
        return self._json(200, sub)

    # -- responses --------------------------------------------------------------------------------------------

    def _json(self, status: int, body: dict[str, Any], *, retry_after: int | None = None) -> int:
        extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return self._raw(status, json.dumps(body).encode(), "application/json; odata.metadata=minimal", extra)

    def _raw(self, status: int, data: bytes, content_type: str, extra: dict[str, str] | None = None) -> int:
        self._record(status)
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", str(uuid.uuid4()))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
        return status
