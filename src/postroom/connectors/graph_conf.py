"""A Microsoft Graph mailbox's settings, read from `Mailbox.settings` and `Mailbox.secrets` into one typed value.

| setting | default | meaning |
|---|---|---|
| tenant_id, client_id | required | the directory (tenant) and the app registration's application (client) id |
| user | required | the mailbox read: a user principal name or object id, shared mailboxes too (connector-graph.md) |
| folders | ["Inbox"] | folders read: well-known names (Inbox, Archive), display names, or paths such as Inbox/Support |
| poll_seconds | 60 | seconds between delta queries (with push: the fallback when a notification is lost) |
| batch | 50 | messages per delta page (`Prefer: odata.maxpagesize`), each page committed before the next |
| post_action | "read" | after the commit: keep, read (isRead true) or move (to `move_to`) |
| move_to | "" | the folder for post_action "move" (same forms as `folders`) |
| notification_url | "" | Postroom's public https origin: when set, Graph pushes new-mail notifications to it |
| send_via | "smtp" | "graph": replies of this mailbox are sent with Graph's sendMail instead of the SMTP relay |
| graph_url, login_url | Microsoft's global cloud | another cloud (graph.microsoft.us...) or, in tests, the stand-in |

Secret: `graph_client_secret` (the app registration's client secret, client-credentials grant).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import urlsplit

from django.conf import settings

from postroom.connectors.conf import (
    DEFAULT_POLL_SECONDS,
    MAX_BATCH,
    MIN_POLL_SECONDS,
    ConnectorConfigError,
    _int,
    read_proxy,
)
from postroom.mail.transport.graph_client import GraphClient
from postroom.mail.transport.graph_token import ClientCredentialsToken
from postroom.mail.transport.graph_values import DEFAULT_GRAPH_URL, DEFAULT_LOGIN_URL
from postroom.mail.transport.netguard import HostRefusedError, resolve_host
from postroom.mail.transport.smtp_values import is_loopback_host
from postroom.mail.transport.token_source import TokenSource
from postroom.mailboxes.models import Mailbox

GraphPostAction = Literal["keep", "read", "move"]
GRAPH_POST_ACTIONS: Final[tuple[GraphPostAction, ...]] = ("keep", "read", "move")
DEFAULT_GRAPH_POST_ACTION: Final[GraphPostAction] = "read"
DEFAULT_GRAPH_BATCH: Final = 50
SECRET: Final = "graph_client_secret"  # noqa: S105 (a key name, not a secret)
SEND_VIA: Final = ("smtp", "graph")
MICROSOFT_HOSTS: Final = frozenset(
    {"graph.microsoft.com", "login.microsoftonline.com", "graph.microsoft.us", "login.microsoftonline.us"}
    | {"dod-graph.microsoft.us", "microsoftgraph.chinacloudapi.cn", "login.chinacloudapi.cn"}
)


@dataclass(frozen=True, slots=True)
class GraphFetchConfig:
    mailbox_id: int
    tenant_id: str
    client_id: str
    client_secret: str
    user: str
    folders: tuple[str, ...]
    poll_seconds: int
    batch: int
    post_action: GraphPostAction
    move_to: str
    notification_url: str
    send_via: str
    graph_url: str
    login_url: str
    proxy: str | None = None  # the URL of the operator's proxy the `proxy` setting names (POSTROOM_PROXIES)


def _text(raw: Mapping[str, object], key: str, *, required: bool = False, default: str = "") -> str:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise ConnectorConfigError(f"setting {key} is required")
        return default
    if not isinstance(value, str):
        raise ConnectorConfigError(f"setting {key} must be text")
    return value.strip()


def _post_action(raw: Mapping[str, object]) -> GraphPostAction:
    value = raw.get("post_action") or DEFAULT_GRAPH_POST_ACTION
    for action in GRAPH_POST_ACTIONS:
        if value == action:
            return action
    raise ConnectorConfigError(f"setting post_action of a Graph mailbox must be one of {', '.join(GRAPH_POST_ACTIONS)}")


def _folders(raw: Mapping[str, object]) -> tuple[str, ...]:
    value = raw.get("folders") or ["Inbox"]
    if not isinstance(value, list) or not all(isinstance(f, str) and f.strip() for f in value):
        raise ConnectorConfigError("setting folders must be a list of folder names")
    return tuple(dict.fromkeys(f.strip() for f in value))


def check_service_url(key: str, url: str, *, allow_private: bool) -> str:
    """An https URL (http only to loopback) whose host is Microsoft's or passes the SSRF guard; without a slash."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in {"https", "http"} or not host:
        raise ConnectorConfigError(f"setting {key} must be an https:// address")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ConnectorConfigError(f"setting {key} must be an https:// address (http only to a loopback host)")
    if host.lower() not in MICROSOFT_HOSTS:
        try:
            resolve_host(host, parts.port or 443, allow_private=allow_private)
        except (HostRefusedError, OSError) as e:
            raise ConnectorConfigError(f"setting {key}: {e}") from e
    return url.rstrip("/")


def _notification_url(raw: Mapping[str, object]) -> str:
    url = _text(raw, "notification_url")
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback_host(parts.hostname or "")):
        raise ConnectorConfigError("setting notification_url must be Postroom's public https:// address")
    return url.rstrip("/")


def build_graph_config(mailbox: Mailbox) -> GraphFetchConfig:
    """The typed settings of a Graph mailbox; raise ConnectorConfigError naming the first bad one."""
    raw = mailbox.settings if isinstance(mailbox.settings, Mapping) else {}
    secrets = mailbox.secrets if isinstance(mailbox.secrets, Mapping) else {}
    allow_private = settings.POSTROOM.allow_private_hosts
    post_action = _post_action(raw)
    move_to = _text(raw, "move_to")
    if post_action == "move" and not move_to:
        raise ConnectorConfigError("post_action move needs the setting move_to (a folder name)")
    client_secret = str(secrets.get(SECRET) or "")
    if not client_secret:
        raise ConnectorConfigError(f"no secret {SECRET} is set")
    send_via = _text(raw, "send_via", default="smtp")
    if send_via not in SEND_VIA:
        raise ConnectorConfigError("setting send_via must be smtp or graph")
    return GraphFetchConfig(
        mailbox_id=mailbox.pk,
        tenant_id=_text(raw, "tenant_id", required=True),
        client_id=_text(raw, "client_id", required=True),
        client_secret=client_secret,
        user=_text(raw, "user", required=True),
        folders=_folders(raw),
        poll_seconds=_int(raw, "poll_seconds", DEFAULT_POLL_SECONDS, MIN_POLL_SECONDS, 24 * 3600),
        batch=_int(raw, "batch", DEFAULT_GRAPH_BATCH, 1, MAX_BATCH),
        post_action=post_action,
        move_to=move_to,
        notification_url=_notification_url(raw),
        send_via=send_via,
        graph_url=check_service_url(
            "graph_url", _text(raw, "graph_url", default=DEFAULT_GRAPH_URL), allow_private=allow_private
        ),
        login_url=check_service_url(
            "login_url", _text(raw, "login_url", default=DEFAULT_LOGIN_URL), allow_private=allow_private
        ),
        proxy=proxy.url() if (proxy := read_proxy(raw)) is not None else None,
    )


# -- tokens and clients -------------------------------------------------------------------------------------------

TokenSourceFactory = Callable[[GraphFetchConfig], TokenSource]
_tokens: dict[tuple[int, str, str, str, str, str | None], ClientCredentialsToken] = {}
_tokens_lock = threading.Lock()


def build_client_credentials_token(config: GraphFetchConfig) -> TokenSource:
    """The mailbox's app-only token source, kept across cycles (a token lives about an hour)."""
    key = (config.mailbox_id, config.login_url, config.tenant_id, config.client_id, config.client_secret, config.proxy)
    with _tokens_lock:
        source = _tokens.get(key)
        if source is None:
            for stale in [k for k in _tokens if k[0] == config.mailbox_id]:
                del _tokens[stale]  # the settings or the secret changed
            source = _tokens[key] = ClientCredentialsToken(
                tenant_id=config.tenant_id,
                client_id=config.client_id,
                client_secret=config.client_secret,
                login_url=config.login_url,
                proxy=config.proxy,
            )
        return source


def build_graph_client(
    config: GraphFetchConfig,
    *,
    tokens: TokenSourceFactory = build_client_credentials_token,
    sleep: Callable[[float], object] | None = None,
) -> GraphClient:
    """A Graph client for the mailbox; `sleep` waits out throttling (the runner passes its stop event's wait)."""
    source = tokens(config)
    if sleep is None:
        return GraphClient(user=config.user, tokens=source, base_url=config.graph_url, proxy=config.proxy)
    return GraphClient(user=config.user, tokens=source, base_url=config.graph_url, proxy=config.proxy, sleep=sleep)
