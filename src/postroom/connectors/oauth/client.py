"""Talks to a token endpoint (RFC 6749 section 4.1.3, 4.4, 6) through authlib's requests client (OAuth2Session).

Each call opens a short-lived client: the caller holds the mailbox's row lock around a refresh, so nothing is
shared between threads. Errors come back as the four classes of errors.py, each one plain line: `invalid_grant`
means the refresh token (or code) is dead, other OAuth errors mean the client registration is wrong, and network
failures or HTTP 5xx are worth another try.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session

from postroom.connectors.oauth.config import OAuthConfig
from postroom.connectors.oauth.errors import OAuthRefusedError, OAuthUnavailableError, revoked_error
from postroom.connectors.oauth.providers import HTTP_TIMEOUT_SECONDS, build_verify, get_scopes

# RFC 6749 section 5.1 makes expires_in optional; Microsoft and Google send it. Without it, assume an hour.
DEFAULT_EXPIRES_IN_SECONDS: Final = 3600
MAX_DESCRIPTION: Final = 200


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What a token endpoint handed out (RFC 6749 section 5.1)."""

    access_token: str = field(repr=False)
    expires_at: dt.datetime
    refresh_token: str = field(default="", repr=False)  # empty: keep the one we have (no rotation)


def build_client(config: OAuthConfig, client_secret: str, redirect_uri: str = "") -> OAuth2Session:
    """authlib's client; client_secret_post for confidential clients (both providers take it), none for public."""
    return OAuth2Session(
        client_id=config.client_id,
        client_secret=client_secret or None,
        token_endpoint_auth_method="client_secret_post" if client_secret else "none",
        scope=" ".join(get_scopes(config)),
        redirect_uri=redirect_uri or None,
        code_challenge_method="S256",
        default_timeout=HTTP_TIMEOUT_SECONDS,
        verify=build_verify(config.ca_file),
        max_redirects=0,
    )


def _grant(answer: Any, now: dt.datetime) -> TokenGrant:
    access = answer.get("access_token") if isinstance(answer, dict) else None
    if not isinstance(access, str) or not access:
        raise OAuthUnavailableError("the OAuth token endpoint answered without an access_token")
    expires_in = answer.get("expires_in")
    try:
        seconds = int(expires_in) if expires_in is not None else DEFAULT_EXPIRES_IN_SECONDS
    except (TypeError, ValueError):
        seconds = DEFAULT_EXPIRES_IN_SECONDS
    refresh = answer.get("refresh_token")
    return TokenGrant(access, now + dt.timedelta(seconds=seconds), refresh if isinstance(refresh, str) else "")


def _describe(error: AuthlibBaseError) -> str:
    description = " ".join(str(error.description or "").split())[:MAX_DESCRIPTION]
    return f"{error.error}: {description}" if description else str(error.error)


def request_token(
    config: OAuthConfig,
    token_url: str,
    client_secret: str,
    grant_type: str,
    now: dt.datetime,
    **parameters: str,
) -> TokenGrant:
    """One token request: grant_type refresh_token (`refresh_token=`), authorization_code (`code=`,
    `code_verifier=`, `redirect_uri=`) or client_credentials."""
    host = urlsplit(token_url).hostname or token_url
    client = build_client(config, client_secret, parameters.pop("redirect_uri", ""))
    try:
        if grant_type == "refresh_token":
            answer = client.refresh_token(token_url, refresh_token=parameters["refresh_token"])
        else:
            answer = client.fetch_token(token_url, grant_type=grant_type, **parameters)
    except AuthlibBaseError as e:
        if e.error == "invalid_grant":
            raise revoked_error(config.mailbox_id, _describe(e)) from e
        raise OAuthRefusedError(f"the OAuth token endpoint {host} refused the request: {_describe(e)}") from e
    except (OSError, ValueError) as e:  # requests' errors are OSErrors; an HTTP 5xx carries its response
        status = getattr(getattr(e, "response", None), "status_code", None)
        said = f"answered HTTP {status}" if status else f"did not answer: {type(e).__name__}"
        raise OAuthUnavailableError(f"the OAuth token endpoint {host} {said}") from e
    finally:
        client.close()
    return _grant(answer, now)
