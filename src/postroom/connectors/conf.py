"""An IMAP mailbox's fetch settings, read from `Mailbox.settings` and `Mailbox.secrets` into one typed value.

| setting | default | meaning |
|---|---|---|
| host, port, tls, username, ca_file | port 993 or 143 | the server; tls implicit (default), starttls, none (loopback) |
| pin_sha256 | none | public-key pin(s) checked after verification (`sha256/<base64>`; mail/transport/tlspin.py) |
| proxy | none | the name of an operator's proxy (POSTROOM_PROXIES) to connect through |
| folders | ["INBOX"] | folders read, round-robin one batch each |
| poll_seconds | 60 | seconds between polls without IDLE; with IDLE, how often the other folders are read |
| batch | 50 | messages fetched and committed per batch |
| idle | true | use IDLE (RFC 2177) when the server has it |
| post_action | "seen" | after the commit: keep, seen, move (to `move_to`), delete |
| move_to | "" | the folder for post_action "move" |

Secrets: `imap_password`, or `imap_access_token` (a fixed token for XOAUTH2). With an `oauth` object in the settings
the login is XOAUTH2 or OAUTHBEARER with tokens kept and refreshed by postroom.connectors.oauth.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from django.conf import settings

from postroom.connectors.oauth.login import find_token_login
from postroom.mail.transport.imap_fetch import POST_ACTIONS, ImapCredentials, ImapEndpoint, ImapTls, PostAction
from postroom.mail.transport.proxy import ProxyConfigError, ProxySettings, find_proxy
from postroom.mail.transport.tlspin import PinFormatError, normalise_pin
from postroom.mailboxes.models import Mailbox

DEFAULT_POLL_SECONDS: Final = 60
MIN_POLL_SECONDS: Final = 1
DEFAULT_BATCH: Final = 50
MAX_BATCH: Final = 1000  # one commit holds this many raw blobs' rows at most
DEFAULT_POST_ACTION: Final[PostAction] = "seen"
IMAP_PORTS: Final = {"implicit": 993, "starttls": 143, "none": 143}  # RFC 8314, RFC 9051
TLS_MODES: Final[tuple[ImapTls, ...]] = ("implicit", "starttls", "none")


class ConnectorConfigError(ValueError):
    """The mailbox's settings cannot work; the message says which one (shown as the mailbox's last error)."""


@dataclass(frozen=True, slots=True)
class ImapFetchConfig:
    mailbox_id: int
    endpoint: ImapEndpoint
    credentials: ImapCredentials
    folders: tuple[str, ...]
    poll_seconds: int
    batch: int
    idle: bool
    post_action: PostAction
    move_to: str


def _int(raw: Mapping[str, object], key: str, default: int, low: int, high: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise ConnectorConfigError(f"setting {key} must be a whole number")
    number = int(value)
    if not low <= number <= high:
        raise ConnectorConfigError(f"setting {key} must be between {low} and {high}")
    return number


def _tls(raw: Mapping[str, object]) -> ImapTls:
    value = raw.get("tls") or "implicit"
    for mode in TLS_MODES:
        if value == mode:
            return mode
    raise ConnectorConfigError("setting tls must be implicit, starttls or none")


def _post_action(raw: Mapping[str, object]) -> PostAction:
    value = raw.get("post_action") or DEFAULT_POST_ACTION
    for action in POST_ACTIONS:
        if value == action:
            return action
    raise ConnectorConfigError(f"setting post_action must be one of {', '.join(POST_ACTIONS)}")


def read_pins(raw: Mapping[str, object]) -> tuple[str, ...]:
    """The `pin_sha256` setting (one pin or a list: the current key and the next one) in `sha256/<base64>` form."""
    value = raw.get("pin_sha256") or []
    pins = [value] if isinstance(value, str) else value
    if not isinstance(pins, list) or not all(isinstance(pin, str) for pin in pins):
        raise ConnectorConfigError("setting pin_sha256 must be a pin or a list of pins")
    try:
        return tuple(normalise_pin(pin) for pin in pins)
    except PinFormatError as e:
        raise ConnectorConfigError(f"setting pin_sha256: {e}") from e


def read_proxy(raw: Mapping[str, object]) -> ProxySettings | None:
    """The operator's proxy the `proxy` setting names (POSTROOM_PROXIES), or None for a direct connection."""
    name = str(raw.get("proxy") or "").strip()
    try:
        return find_proxy({proxy.name: proxy for proxy in settings.POSTROOM.proxies}, name)
    except ProxyConfigError as e:
        raise ConnectorConfigError(f"setting proxy: {e}") from e


def _folders(raw: Mapping[str, object]) -> tuple[str, ...]:
    value = raw.get("folders") or ["INBOX"]
    if not isinstance(value, list) or not all(isinstance(f, str) and f.strip() for f in value):
        raise ConnectorConfigError("setting folders must be a list of folder names")
    return tuple(dict.fromkeys(f.strip() for f in value))


def build_fetch_config(mailbox: Mailbox) -> ImapFetchConfig:
    """The typed settings of an IMAP mailbox; raise ConnectorConfigError naming the first bad one."""
    raw = mailbox.settings if isinstance(mailbox.settings, Mapping) else {}
    secrets = mailbox.secrets if isinstance(mailbox.secrets, Mapping) else {}
    host = str(raw.get("host") or "").strip()
    username = str(raw.get("username") or "").strip()
    if not host:
        raise ConnectorConfigError("setting host is required")
    if not username:
        raise ConnectorConfigError("setting username is required")
    tls = _tls(raw)
    post_action = _post_action(raw)
    move_to = str(raw.get("move_to") or "").strip()
    if post_action == "move" and not move_to:
        raise ConnectorConfigError("post_action move needs the setting move_to (a folder name)")
    password = str(secrets.get("imap_password") or "")
    token = str(secrets.get("imap_access_token") or "")
    oauth = find_token_login(mailbox)
    if not password and not token and oauth is None:
        raise ConnectorConfigError("no secret imap_password (or imap_access_token, or oauth settings) is set")
    ca_file = str(raw.get("ca_file") or "").strip() or None
    endpoint = ImapEndpoint(
        host=host,
        port=_int(raw, "port", IMAP_PORTS[tls], 1, 65535),
        tls=tls,
        username=username,
        ca_file=ca_file,
        allow_private=settings.POSTROOM.allow_private_hosts,
        pins=read_pins(raw),
        proxy=read_proxy(raw),
    )
    return ImapFetchConfig(
        mailbox_id=mailbox.pk,
        endpoint=endpoint,
        credentials=ImapCredentials(
            password=password,
            access_token=token,
            token_source=oauth.source if oauth else None,
            mechanism=oauth.mechanism if oauth else "xoauth2",
        ),
        folders=_folders(raw),
        poll_seconds=_int(raw, "poll_seconds", DEFAULT_POLL_SECONDS, MIN_POLL_SECONDS, 24 * 3600),
        batch=_int(raw, "batch", DEFAULT_BATCH, 1, MAX_BATCH),
        idle=raw.get("idle", True) is not False,
        post_action=post_action,
        move_to=move_to,
    )
