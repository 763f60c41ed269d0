"""Signing a mailbox in: the authorization-code flow with PKCE (RFC 6749 section 4.1, RFC 7636) for the console,
and a first client-credentials token (RFC 6749 section 4.4) for app-only mailboxes.

The console keeps `state` and the PKCE verifier in the admin's session between the two requests; this module
builds the provider's URL and, on the callback, trades the code for tokens and stores them (row-locked).
"""

from __future__ import annotations

import datetime as dt
import secrets as random
from dataclasses import dataclass, field
from typing import Final

from django.db import transaction
from django.utils import timezone

from postroom.connectors.health import record_token_expiry
from postroom.connectors.oauth.client import build_client, request_token
from postroom.connectors.oauth.config import OAuthConfig, build_oauth_config
from postroom.connectors.oauth.errors import OAuthConfigError, OAuthRefusedError, OAuthSignInRequiredError
from postroom.connectors.oauth.providers import extra_authorize_parameters, find_endpoints
from postroom.connectors.oauth.store import read_tokens, store_grant
from postroom.mailboxes.models import Mailbox

STATE_BYTES: Final = 32  # 256 bits: RFC 6749 section 10.10 asks for a guess probability of at most 2^-128
VERIFIER_BYTES: Final = 64  # RFC 7636 section 4.1: 43 to 128 characters; 64 bytes give 86


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """Where to send the admin, and what the callback must get back (kept in the admin's session)."""

    url: str
    state: str
    code_verifier: str = field(repr=False)
    redirect_uri: str


def start_authorization(mailbox: Mailbox, redirect_uri: str) -> AuthorizationRequest:
    """The provider's authorization URL with a fresh state and PKCE S256 challenge."""
    config = build_oauth_config(mailbox)
    if config.grant != "authorization_code":
        raise OAuthConfigError("this mailbox uses the client-credentials grant: nobody signs in")
    redirect = config.redirect_uri or redirect_uri
    endpoints = find_endpoints(config)
    state = random.token_urlsafe(STATE_BYTES)
    verifier = random.token_urlsafe(VERIFIER_BYTES)
    client = build_client(config, "", redirect)
    try:
        url, _ = client.create_authorization_url(
            endpoints.authorize_url, state=state, code_verifier=verifier, **extra_authorize_parameters(config)
        )
    finally:
        client.close()
    return AuthorizationRequest(url=url, state=state, code_verifier=verifier, redirect_uri=redirect)


def complete_authorization(mailbox_id: int, code: str, code_verifier: str, redirect_uri: str) -> dt.datetime:
    """Trade the code for tokens (with the PKCE verifier) and store them; when the access token expires."""
    with transaction.atomic():
        mailbox = Mailbox.objects.select_for_update().get(pk=mailbox_id)
        config = build_oauth_config(mailbox)
        tokens = read_tokens(mailbox.secrets)
        try:
            grant = request_token(
                config,
                find_endpoints(config).token_url,
                tokens.client_secret,
                "authorization_code",
                timezone.now(),
                code=code,
                code_verifier=code_verifier,
                redirect_uri=redirect_uri,
            )
        except OAuthSignInRequiredError as e:  # invalid_grant here: the code, not a refresh token
            raise OAuthRefusedError(
                "the provider refused the sign-in code (used already, expired, or the PKCE verifier did not match): "
                "start the sign-in again"
            ) from e
        if not grant.refresh_token:
            raise OAuthConfigError(_no_refresh_token_hint(config))
        store_grant(mailbox, grant)
        record_token_expiry(mailbox_id, grant.expires_at)
    return grant.expires_at


def fetch_app_token(mailbox_id: int) -> dt.datetime:
    """Client credentials: fetch a token now (the console's "sign in" for app-only mailboxes proves the setup)."""
    with transaction.atomic():
        mailbox = Mailbox.objects.select_for_update().get(pk=mailbox_id)
        config = build_oauth_config(mailbox)
        if config.grant != "client_credentials":
            raise OAuthConfigError("this mailbox uses the authorization-code grant: an admin signs in")
        tokens = read_tokens(mailbox.secrets)
        grant = request_token(
            config, find_endpoints(config).token_url, tokens.client_secret, "client_credentials", timezone.now()
        )
        store_grant(mailbox, grant)
        record_token_expiry(mailbox_id, grant.expires_at)
    return grant.expires_at


def _no_refresh_token_hint(config: OAuthConfig) -> str:
    if config.provider == "microsoft":
        return "the provider issued no refresh token: add the scope offline_access"
    if config.provider == "google":
        return "Google issued no refresh token: remove the app's access at myaccount.google.com and sign in again"
    return "the provider issued no refresh token: ask for the scope offline_access"
