"""What the console and the API show of a mailbox's OAuth: provider, grant, signed in or not, token expiry."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from postroom.connectors.health import get_health
from postroom.connectors.oauth.config import build_oauth_config, has_oauth
from postroom.connectors.oauth.errors import OAuthFailedError
from postroom.connectors.oauth.store import read_tokens
from postroom.mailboxes.models import Mailbox


@dataclass(frozen=True, slots=True)
class OAuthStatus:
    provider: str
    grant: str
    signed_in: bool  # a refresh token is stored (authorization code), or the app signs in by itself
    token_expires_at: dt.datetime | None
    problem: str  # the oauth settings cannot work: why (one line); else empty


def describe_oauth(mailbox: Mailbox) -> OAuthStatus | None:
    """None for a mailbox without oauth settings; never a secret."""
    if not has_oauth(mailbox):
        return None
    tokens = read_tokens(mailbox.secrets)
    health = get_health(mailbox.pk)
    expires_at = health.token_expires_at if health and health.token_expires_at else tokens.expires_at
    try:
        config = build_oauth_config(mailbox)
    except OAuthFailedError as e:
        return OAuthStatus("", "", False, expires_at, str(e))
    signed_in = config.grant == "client_credentials" or bool(tokens.refresh_token)
    return OAuthStatus(config.provider, config.grant, signed_in, expires_at, "")
