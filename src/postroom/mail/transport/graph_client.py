"""A thin Microsoft Graph mail client: folders, message delta, raw MIME, mark read, move, sendMail, subscriptions.

Only the calls the connector needs, on httpx (docs/adr/0009-graph-client.md). Behaviour shared by every call:

- `Authorization: Bearer` from a TokenSource; a 401 invalidates the token and retries once with a fresh one.
- 429 and 503 are retried after `Retry-After` seconds (exponential when absent), at most `max_retries` times, and
  never when the server asks for more than `max_wait` seconds: then GraphThrottledError says so.
  (learn.microsoft.com/graph/throttling: honour Retry-After, back off.)
- `Prefer: IdType="ImmutableId"`: message ids stay the same when a message is moved, so a ledger key built from
  the id survives the connector's own post-action and a user's filing (learn.microsoft.com/graph/outlook-immutable-id).
- Links Graph hands back (`@odata.nextLink`, `@odata.deltaLink`) are only followed under the configured base URL:
  the bearer token goes nowhere else.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any, Final
from urllib.parse import quote

import httpx

from postroom.mail.transport.graph_values import (
    DEFAULT_GRAPH_URL,
    DeltaItem,
    DeltaPage,
    GraphAuthError,
    GraphConnectionError,
    GraphError,
    GraphNotFoundError,
    GraphSyncStateError,
    GraphThrottledError,
    MailFolder,
    Subscription,
    build_error_detail,
)
from postroom.mail.transport.token_source import TokenSource

TIMEOUT_SECONDS: Final = 30.0
MAX_RETRIES: Final = 4  # throttled answers retried per call before giving up
MAX_WAIT_SECONDS: Final = 120.0  # a longer Retry-After ends the call: the next cycle tries again
FIRST_BACKOFF_SECONDS: Final = 1.0  # when a 429/503 carries no Retry-After
WELL_KNOWN_FOLDERS: Final = frozenset(
    {"inbox", "archive", "deleteditems", "drafts", "junkemail", "sentitems", "outbox", "clutter", "conversationhistory"}
)
SYNC_STATE_CODES: Final = frozenset({"syncstatenotfound", "syncstateinvalid", "resyncrequired", "invaliddeltatoken"})
DELTA_SELECT: Final = "id,isRead,receivedDateTime"
JsonObject = dict[str, Any]


def parse_graph_datetime(value: object) -> dt.datetime | None:
    """Graph's `2026-11-27T10:00:00Z` (or with fractions and an offset) as an aware datetime; None if absent."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def format_graph_datetime(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (Graph sends delta-seconds; RFC 9110 section 10.2.3)."""
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


def _error_fields(response: httpx.Response) -> tuple[str, str]:
    """Graph's `{"error": {"code", "message"}}`, or the sign-in service's `{"error", "error_description"}`."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return "", response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("code") or ""), str(error.get("message") or "")
    if isinstance(error, str):
        return error, str(body.get("error_description") or "").split("\r\n")[0]
    return "", response.reason_phrase


class GraphClient:
    """Mail of one mailbox (`user`: a user principal name or object id) through Microsoft Graph."""

    def __init__(
        self,
        *,
        user: str,
        tokens: TokenSource,
        base_url: str = DEFAULT_GRAPH_URL,
        timeout: float = TIMEOUT_SECONDS,
        max_retries: int = MAX_RETRIES,
        max_wait: float = MAX_WAIT_SECONDS,
        sleep: Callable[[float], object] = time.sleep,
        verify: str | bool = True,
        proxy: str | None = None,
    ) -> None:
        self.user = user
        self.tokens = tokens
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.sleep = sleep
        # A mailbox's own proxy (mail/transport/proxy.py) replaces the environment's; without one, httpx honours
        # HTTPS_PROXY as usual.
        self.http = httpx.Client(timeout=timeout, verify=verify, follow_redirects=False, proxy=proxy)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the calls --------------------------------------------------------------------------------------------

    @property
    def user_path(self) -> str:
        return f"/users/{quote(self.user, safe='@')}"

    def get_folder(self, name_or_id: str) -> MailFolder:
        """A folder by well-known name (inbox, archive...) or id; GraphNotFoundError when there is none."""
        body = self._json("GET", f"{self.user_path}/mailFolders/{quote(name_or_id, safe='')}", what="the folder")
        return _folder(body)

    def list_folders(self, parent_id: str | None = None) -> list[MailFolder]:
        """The top-level folders (or a folder's children), every page."""
        path = f"{self.user_path}/mailFolders"
        if parent_id:
            path += f"/{quote(parent_id, safe='')}/childFolders"
        url: str | None = self._url(path) + "?$top=100&includeHiddenFolders=true"
        folders: list[MailFolder] = []
        while url:
            body = self._json("GET", url, what="the folder list")
            folders.extend(_folder(item) for item in body.get("value", []) if isinstance(item, dict))
            url = self._own_link(body.get("@odata.nextLink"))
        return folders

    def find_folder(self, path: str) -> MailFolder:
        """A well-known name (`Inbox`), a folder id, or a display-name path (`Inbox/Support`), case-insensitive."""
        parts = [part for part in path.strip("/").split("/") if part]
        if not parts:
            raise GraphNotFoundError("an empty folder name names no folder", status=404)
        if len(parts) == 1 and parts[0].lower() in WELL_KNOWN_FOLDERS:
            return self.get_folder(parts[0].lower())
        current: MailFolder | None = None
        for index, part in enumerate(parts):
            if index == 0 and part.lower() in WELL_KNOWN_FOLDERS:
                current = self.get_folder(part.lower())
                continue
            children = self.list_folders(current.id if current else None)
            match = next((f for f in children if f.display_name.lower() == part.lower()), None)
            if match is None:
                if index == 0 and len(parts) == 1:
                    try:
                        return self.get_folder(part)  # perhaps an id
                    except GraphNotFoundError:
                        pass
                raise GraphNotFoundError(f"mailbox {self.user} has no folder {path!r}", status=404)
            current = match
        if current is None:
            raise GraphNotFoundError(f"mailbox {self.user} has no folder {path!r}", status=404)
        return current

    def iterate_delta(
        self, folder_id: str, link: str | None, *, page_size: int, created_only: bool = True
    ) -> Generator[DeltaPage, None, None]:
        """The pages of one delta round: from `link` (a stored delta or next link) or a new round's start.

        A new round asks only for created messages (`changeType=created`): our own mark-read or move is then never
        reported back. The caller stores `next_link` after committing a page and `delta_link` at the round's end.
        """
        url: str | None
        if link:
            url = self._own_link(link)
        else:
            folder = quote(folder_id, safe="")
            url = self._url(f"{self.user_path}/mailFolders/{folder}/messages/delta")
            url += f"?changeType=created&$select={DELTA_SELECT}" if created_only else f"?$select={DELTA_SELECT}"
        while url:
            body = self._json("GET", url, what="the message delta", prefer=f"odata.maxpagesize={page_size}")
            items = tuple(_delta_item(entry) for entry in body.get("value", []) if isinstance(entry, dict))
            next_link = self._own_link(body.get("@odata.nextLink"))
            delta_link = body.get("@odata.deltaLink")
            if next_link is None and not isinstance(delta_link, str):
                raise GraphError("Graph answered a delta page with neither a next link nor a delta link")
            yield DeltaPage(items, next_link, delta_link if isinstance(delta_link, str) else None)
            url = next_link

    def fetch_mime(self, message_id: str) -> bytes:
        """The message as Exchange holds it, RFC 5322 bytes (`GET /messages/{id}/$value`)."""
        response = self._send("GET", f"{self.user_path}/messages/{quote(message_id, safe='')}/$value", what="the MIME")
        return response.content

    def mark_read(self, message_id: str) -> None:
        self._json(
            "PATCH", f"{self.user_path}/messages/{quote(message_id, safe='')}", what="mark read", body={"isRead": True}
        )

    def move(self, message_id: str, destination_id: str) -> str:
        """Move a message; its id afterwards (the same with immutable ids)."""
        body = self._json(
            "POST",
            f"{self.user_path}/messages/{quote(message_id, safe='')}/move",
            what="the move",
            body={"destinationId": destination_id},
        )
        return str(body.get("id") or message_id)

    def send_mime(self, raw: bytes) -> None:
        """Send an RFC 5322 message as it is (`POST /users/{id}/sendMail`, MIME as base64 text/plain).

        Recipients come from the To, Cc and Bcc headers; Exchange keeps a copy in Sent Items.
        """
        self._send(
            "POST",
            f"{self.user_path}/sendMail",
            what="the message to send",
            content=base64.b64encode(raw),
            content_type="text/plain",
        )

    def create_subscription(
        self, *, resource: str, notification_url: str, client_state: str, expires_at: dt.datetime
    ) -> Subscription:
        """Ask for change notifications of created items of `resource`; Graph validates `notification_url` first."""
        body = self._json(
            "POST",
            "/subscriptions",
            what="the subscription",
            body={
                "changeType": "created",
                "notificationUrl": notification_url,
                "resource": resource,
                "expirationDateTime": format_graph_datetime(expires_at),
                "clientState": client_state,
            },
        )
        return _subscription(body)

    def renew_subscription(self, subscription_id: str, expires_at: dt.datetime) -> Subscription:
        body = self._json(
            "PATCH",
            f"/subscriptions/{quote(subscription_id, safe='')}",
            what="the subscription renewal",
            body={"expirationDateTime": format_graph_datetime(expires_at)},
        )
        return _subscription(body)

    def delete_subscription(self, subscription_id: str) -> None:
        try:
            self._send("DELETE", f"/subscriptions/{quote(subscription_id, safe='')}", what="the subscription removal")
        except GraphNotFoundError:
            return  # already gone: what we wanted

    # -- the wire ---------------------------------------------------------------------------------------------

    def _url(self, path_or_url: str) -> str:
        return path_or_url if path_or_url.startswith(("http://", "https://")) else self.base_url + path_or_url

    def _own_link(self, link: object) -> str | None:
        if not isinstance(link, str) or not link:
            return None
        if not link.startswith(self.base_url + "/"):
            raise GraphError("Graph returned a link outside its own address; not followed")
        return link

    def _json(
        self, method: str, path: str, *, what: str, body: Mapping[str, object] | None = None, prefer: str = ""
    ) -> JsonObject:
        content = json.dumps(body).encode() if body is not None else None
        response = self._send(
            method, path, what=what, content=content, content_type="application/json" if body else "", prefer=prefer
        )
        try:
            parsed = response.json()
        except (ValueError, UnicodeDecodeError) as e:
            raise GraphError(f"Graph answered {what} with something that is not JSON") from e
        if not isinstance(parsed, dict):
            raise GraphError(f"Graph answered {what} with JSON that is not an object")
        return parsed

    def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        content: bytes | None = None,
        content_type: str = "",
        prefer: str = "",
    ) -> httpx.Response:
        """One call with the 401 refresh and the throttling retries; raises a GraphError for any non-2xx."""
        url = self._url(path)
        refreshed = False
        throttled = 0
        backoff = FIRST_BACKOFF_SECONDS
        while True:
            headers = [("Authorization", f"Bearer {self._token()}"), ("Prefer", 'IdType="ImmutableId"')]
            if prefer:
                headers.append(("Prefer", prefer))
            if content_type:
                headers.append(("Content-Type", content_type))
            try:
                response = self.http.request(method, url, content=content, headers=headers)
            except httpx.TimeoutException as e:
                raise GraphConnectionError(f"Graph did not answer {what} in time ({type(e).__name__})") from e
            except httpx.HTTPError as e:
                raise GraphConnectionError(f"cannot reach Graph at {self.base_url}: {e}") from e
            if response.status_code == 401 and not refreshed:
                self.tokens.invalidate()  # expired or revoked: one retry with a freshly fetched token
                refreshed = True
                continue
            if response.status_code in (429, 503):
                wait = parse_retry_after(response.headers.get("Retry-After"))
                wait = backoff if wait is None else wait
                if throttled >= self.max_retries or wait > self.max_wait:
                    raise GraphThrottledError(
                        f"Graph throttled {what} ({response.status_code}) {throttled + 1} times; asked to wait "
                        f"{wait:g} s (this client retries {self.max_retries} times, waiting at most "
                        f"{self.max_wait:g} s)",
                        status=response.status_code,
                    )
                throttled += 1
                backoff *= 2
                self.sleep(wait)
                continue
            if response.is_success:
                return response
            raise self._error(response, what)

    def _token(self) -> str:
        try:
            return self.tokens.access_token()
        except GraphError:
            raise
        except Exception as e:
            raise GraphAuthError(f"no access token for Graph: {e}") from e

    def _error(self, response: httpx.Response, what: str) -> GraphError:
        status = response.status_code
        code, message = _error_fields(response)
        detail = build_error_detail(status, code, message, what)
        if status == 401:
            return GraphAuthError(detail + " (after a fresh token too)", status=status, code=code)
        if status == 410 or code.lower() in SYNC_STATE_CODES:
            return GraphSyncStateError(detail, status=status, code=code)
        if status == 404:
            return GraphNotFoundError(detail, status=status, code=code)
        return GraphError(detail, status=status, code=code)


def _folder(body: Mapping[str, Any]) -> MailFolder:
    folder_id = body.get("id")
    if not isinstance(folder_id, str) or not folder_id:
        raise GraphError("Graph answered with a folder without an id")
    return MailFolder(folder_id, str(body.get("displayName") or ""), str(body.get("parentFolderId") or ""))


def _delta_item(entry: Mapping[str, Any]) -> DeltaItem:
    item_id = entry.get("id")
    if not isinstance(item_id, str) or not item_id:
        raise GraphError("Graph answered a delta page with an entry without an id")
    if "@removed" in entry:
        return DeltaItem(item_id, removed=True)
    return DeltaItem(
        item_id,
        is_read=entry.get("isRead") in (True, "true"),
        received_at=parse_graph_datetime(entry.get("receivedDateTime")),
    )


def _subscription(body: Mapping[str, Any]) -> Subscription:
    sub_id = body.get("id")
    expires = parse_graph_datetime(body.get("expirationDateTime"))
    if not isinstance(sub_id, str) or not sub_id or expires is None:
        raise GraphError("Graph answered with a subscription without an id or expiry")
    return Subscription(sub_id, str(body.get("resource") or ""), expires)
