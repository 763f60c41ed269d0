"""A POP3 mailbox's fetch settings, read from `Mailbox.settings` and `Mailbox.secrets` into one typed value.

The keys are the IMAP connector's where they apply (conf.py); POP3 has no folders, flags or push:

| setting | default | meaning |
|---|---|---|
| host, port, tls, username, ca_file | port 995 or 110 | the server; tls implicit (default), starttls, none |
| poll_seconds | 60 | seconds between polls |
| batch | 50 | messages retrieved and committed per batch |
| post_action | "keep" | after the commit: keep (leave on the server) or delete (DELE, removed at QUIT) |

Secrets: `pop3_password`, or `pop3_access_token` (a fixed token for AUTH XOAUTH2). With an `oauth` object in the
settings the login is AUTH XOAUTH2 or OAUTHBEARER with tokens kept and refreshed by postroom.connectors.oauth.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from django.conf import settings

from postroom.connectors.conf import (
    DEFAULT_BATCH,
    DEFAULT_POLL_SECONDS,
    MAX_BATCH,
    MIN_POLL_SECONDS,
    TLS_MODES,
    ConnectorConfigError,
    _int,
    read_pins,
    read_proxy,
)
from postroom.connectors.oauth.login import find_token_login
from postroom.mail.transport.pop3_fetch import (
    POP3_POST_ACTIONS,
    Pop3Credentials,
    Pop3Endpoint,
    Pop3PostAction,
    Pop3Tls,
)
from postroom.mailboxes.models import Mailbox

POP3_PORTS: Final = {"implicit": 995, "starttls": 110, "none": 110}  # RFC 8314, RFC 1939
DEFAULT_POP3_POST_ACTION: Final[Pop3PostAction] = "keep"
PASSWORD_SECRET: Final = "pop3_password"  # noqa: S105 (a key name, not a password)
TOKEN_SECRET: Final = "pop3_access_token"  # noqa: S105 (a key name, not a token)


@dataclass(frozen=True, slots=True)
class Pop3FetchConfig:
    mailbox_id: int
    endpoint: Pop3Endpoint
    credentials: Pop3Credentials
    poll_seconds: int
    batch: int
    post_action: Pop3PostAction


def _tls(raw: Mapping[str, object]) -> Pop3Tls:
    value = raw.get("tls") or "implicit"
    for mode in TLS_MODES:
        if value == mode:
            return mode
    raise ConnectorConfigError("setting tls must be implicit, starttls or none")


def _post_action(raw: Mapping[str, object]) -> Pop3PostAction:
    value = raw.get("post_action") or DEFAULT_POP3_POST_ACTION
    for action in POP3_POST_ACTIONS:
        if value == action:
            return action
    raise ConnectorConfigError(f"setting post_action of a POP3 mailbox must be one of {', '.join(POP3_POST_ACTIONS)}")


def build_pop3_config(mailbox: Mailbox) -> Pop3FetchConfig:
    """The typed settings of a POP3 mailbox; raise ConnectorConfigError naming the first bad one."""
    raw = mailbox.settings if isinstance(mailbox.settings, Mapping) else {}
    secrets = mailbox.secrets if isinstance(mailbox.secrets, Mapping) else {}
    host = str(raw.get("host") or "").strip()
    username = str(raw.get("username") or "").strip()
    if not host:
        raise ConnectorConfigError("setting host is required")
    if not username:
        raise ConnectorConfigError("setting username is required")
    tls = _tls(raw)
    password = str(secrets.get(PASSWORD_SECRET) or "")
    token = str(secrets.get(TOKEN_SECRET) or "")
    oauth = find_token_login(mailbox)
    if not password and not token and oauth is None:
        raise ConnectorConfigError(f"no secret {PASSWORD_SECRET} (or {TOKEN_SECRET}) is set")
    endpoint = Pop3Endpoint(
        host=host,
        port=_int(raw, "port", POP3_PORTS[tls], 1, 65535),
        tls=tls,
        username=username,
        ca_file=str(raw.get("ca_file") or "").strip() or None,
        allow_private=settings.POSTROOM.allow_private_hosts,
        pins=read_pins(raw),
        proxy=read_proxy(raw),
    )
    return Pop3FetchConfig(
        mailbox_id=mailbox.pk,
        endpoint=endpoint,
        credentials=Pop3Credentials(
            password=password,
            access_token=token,
            token_source=oauth.source if oauth else None,
            mechanism=oauth.mechanism if oauth else "xoauth2",
        ),
        poll_seconds=_int(raw, "poll_seconds", DEFAULT_POLL_SECONDS, MIN_POLL_SECONDS, 24 * 3600),
        batch=_int(raw, "batch", DEFAULT_BATCH, 1, MAX_BATCH),
        post_action=_post_action(raw),
    )
