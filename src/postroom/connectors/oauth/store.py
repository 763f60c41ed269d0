"""The tokens of one mailbox, kept encrypted in `Mailbox.secrets`, and the `TokenSource` the connectors use.

A refresh happens under the mailbox's row lock (SELECT ... FOR UPDATE) and, for SQLite and threads of one process,
a process lock: whoever comes second finds the fresh token already stored and uses it. So two pollers (or a poller
and the outbound sender) never both spend the same refresh token, and a rotated refresh token (RFC 6749 section
6: the server may issue a new one and revoke the old) is committed before anybody can use the old one again. That
rotation being lost is what left other help desks' mailboxes dead after 90 days (docs/architecture/oauth.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from django.db import transaction
from django.utils import timezone

from postroom.connectors.health import record_token_expiry
from postroom.connectors.oauth.client import TokenGrant, request_token
from postroom.connectors.oauth.config import (
    ACCESS_TOKEN,
    CLIENT_SECRET,
    EXPIRES_AT,
    REFRESH_TOKEN,
    OAuthConfig,
    build_oauth_config,
)
from postroom.connectors.oauth.errors import not_signed_in_error
from postroom.connectors.oauth.providers import find_endpoints
from postroom.mailboxes.models import Mailbox

log = logging.getLogger(__name__)

# Refresh this long before the access token expires: a login that starts with a token one second from expiry
# could fail halfway, and clocks differ. Microsoft's and Google's tokens live 60-90 minutes.
REFRESH_MARGIN_SECONDS: Final = 300

_process_locks: dict[int, threading.Lock] = {}
_process_locks_guard = threading.Lock()


def _process_lock(mailbox_id: int) -> threading.Lock:
    with _process_locks_guard:
        return _process_locks.setdefault(mailbox_id, threading.Lock())


@dataclass(frozen=True, slots=True)
class StoredTokens:
    access_token: str = field(repr=False)
    expires_at: dt.datetime | None
    refresh_token: str = field(repr=False)
    client_secret: str = field(repr=False)


def read_tokens(secrets: object) -> StoredTokens:
    stored = secrets if isinstance(secrets, Mapping) else {}
    expires_at = None
    raw_expiry = stored.get(EXPIRES_AT)
    if isinstance(raw_expiry, str) and raw_expiry:
        try:
            expires_at = dt.datetime.fromisoformat(raw_expiry)
        except ValueError:
            expires_at = None
    return StoredTokens(
        access_token=str(stored.get(ACCESS_TOKEN) or ""),
        expires_at=expires_at,
        refresh_token=str(stored.get(REFRESH_TOKEN) or ""),
        client_secret=str(stored.get(CLIENT_SECRET) or ""),
    )


def store_grant(mailbox: Mailbox, grant: TokenGrant) -> None:
    """Write the grant into the (row-locked) mailbox's secrets: access token, expiry, and a rotated refresh token."""
    secrets = dict(mailbox.secrets) if isinstance(mailbox.secrets, Mapping) else {}
    secrets[ACCESS_TOKEN] = grant.access_token
    secrets[EXPIRES_AT] = grant.expires_at.isoformat()
    if grant.refresh_token:
        secrets[REFRESH_TOKEN] = grant.refresh_token
    mailbox.secrets = secrets
    mailbox.save(update_fields=["secrets"])


def is_fresh(tokens: StoredTokens, now: dt.datetime, margin_seconds: float) -> bool:
    return bool(tokens.access_token) and (
        tokens.expires_at is None or tokens.expires_at - now > dt.timedelta(seconds=margin_seconds)
    )


def obtain_token(config: OAuthConfig, tokens: StoredTokens, now: dt.datetime) -> TokenGrant:
    """A new access token: by the refresh token (authorization-code mailboxes) or by client credentials."""
    token_url = find_endpoints(config).token_url
    if config.grant == "client_credentials":
        return request_token(config, token_url, tokens.client_secret, "client_credentials", now)
    if not tokens.refresh_token:
        raise not_signed_in_error(config.mailbox_id)
    return request_token(
        config, token_url, tokens.client_secret, "refresh_token", now, refresh_token=tokens.refresh_token
    )


class MailboxTokenSource:
    """`postroom.mail.transport.token_source.TokenSource` for one mailbox, backed by its encrypted secrets."""

    def __init__(
        self,
        mailbox_id: int,
        *,
        margin_seconds: float = REFRESH_MARGIN_SECONDS,
        clock: Callable[[], dt.datetime] = timezone.now,
    ) -> None:
        self.mailbox_id = mailbox_id
        self.margin_seconds = margin_seconds
        self.clock = clock
        self._given = ""  # the token handed out last
        self._refused = ""  # the token a server refused: never handed out again
        self.expires_at: dt.datetime | None = None

    def access_token(self) -> str:
        """The stored token while it is fresh and was not refused; else a new one, stored before it is returned."""
        with _process_lock(self.mailbox_id), transaction.atomic():
            mailbox = Mailbox.objects.select_for_update().get(pk=self.mailbox_id)
            tokens = read_tokens(mailbox.secrets)
            now = self.clock()
            if is_fresh(tokens, now, self.margin_seconds) and tokens.access_token != self._refused:
                token, expires_at = tokens.access_token, tokens.expires_at
            else:
                grant = obtain_token(build_oauth_config(mailbox), tokens, now)
                store_grant(mailbox, grant)
                log.info(
                    "mailbox %s: OAuth access token renewed (refresh token %s)",
                    self.mailbox_id,
                    "rotated" if grant.refresh_token and grant.refresh_token != tokens.refresh_token else "kept",
                )
                token, expires_at = grant.access_token, grant.expires_at
            record_token_expiry(self.mailbox_id, expires_at)
        self.expires_at = expires_at
        self._given = token
        return token

    def invalidate(self) -> None:
        """The server refused the last token: the next `access_token()` fetches another, unless another thread or
        process already stored a different one."""
        self._refused = self._given
