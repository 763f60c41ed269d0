"""Where each provider's endpoints are, and the scopes a mail connector asks for by default.

Microsoft identity platform v2.0 (learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow), one pair of
endpoints per tenant; Google (developers.google.com/identity/protocols/oauth2/web-server); any other OpenID Connect
provider through its discovery document (OpenID Connect Discovery 1.0 section 4). A mailbox's `authorize_url` and
`token_url` override what is found here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlsplit

from authlib.integrations.requests_client import OAuth2Session
from django.conf import settings

from postroom.connectors.oauth.config import OAuthConfig
from postroom.connectors.oauth.errors import OAuthConfigError, OAuthUnavailableError
from postroom.mail.transport.netguard import HostRefusedError, resolve_host

MICROSOFT_LOGIN: Final = "https://login.microsoftonline.com"
GOOGLE_AUTHORIZE: Final = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN: Final = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL)
HTTP_TIMEOUT_SECONDS: Final = 20.0

# Exchange Online's delegated permissions (learn.microsoft.com/exchange/client-developer/legacy-protocols/
# how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth); offline_access yields a refresh token.
OUTLOOK: Final = "https://outlook.office.com/"
MICROSOFT_SCOPES: Final = {"imap": "IMAP.AccessAsUser.All", "pop3": "POP.AccessAsUser.All", "smtp": "SMTP.Send"}
# App-only (client credentials): the resource's .default scope; the app's roles come from the admin's consent.
MICROSOFT_APP_SCOPE: Final = "https://outlook.office365.com/.default"
GOOGLE_MAIL_SCOPE: Final = "https://mail.google.com/"  # the only scope Gmail's IMAP, POP and SMTP accept


@dataclass(frozen=True, slots=True)
class Endpoints:
    authorize_url: str  # empty for client credentials, which has no browser step
    token_url: str


def default_scopes(config: OAuthConfig) -> tuple[str, ...]:
    """The scopes asked for when the mailbox names none."""
    if config.provider == "google":
        return (GOOGLE_MAIL_SCOPE,)
    if config.provider == "microsoft":
        if config.grant == "client_credentials":
            return (MICROSOFT_APP_SCOPE,)
        wanted = [MICROSOFT_SCOPES[config.kind]] if config.kind in MICROSOFT_SCOPES else []
        wanted += [MICROSOFT_SCOPES["smtp"]] if config.wants_smtp else []
        return (*(OUTLOOK + scope for scope in wanted), "offline_access")
    return ("openid", "offline_access")


def get_scopes(config: OAuthConfig) -> tuple[str, ...]:
    return config.scopes or default_scopes(config)


def extra_authorize_parameters(config: OAuthConfig) -> dict[str, str]:
    """Google hands out a refresh token only for access_type=offline, and again only with prompt=consent."""
    if config.provider == "google":
        return {"access_type": "offline", "prompt": "consent"}
    return {}


def check_url(url: str, what: str) -> str:
    """An https URL (http only to loopback, for tests); a host an admin typed passes the SSRF guard."""
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise OAuthConfigError(f"OAuth {what} {url!r} is not an http(s) URL")
    allow_private = settings.POSTROOM.allow_private_hosts
    if parts.scheme == "http" and not (allow_private and parts.hostname in {"127.0.0.1", "localhost", "::1"}):
        raise OAuthConfigError(f"OAuth {what} must use https: {url}")
    try:
        resolve_host(parts.hostname, parts.port or 443, allow_private=allow_private)
    except HostRefusedError as e:
        raise OAuthConfigError(f"OAuth {what} host {parts.hostname} is refused: {e}") from e
    except OSError as e:
        raise OAuthUnavailableError(f"OAuth {what} host {parts.hostname} cannot be resolved: {e}") from e
    return url


@functools.lru_cache(maxsize=32)
def _discover(url: str, ca_file: str | None) -> tuple[str, str]:
    """The discovery document's (authorization_endpoint, token_endpoint); failures are not cached."""
    session = OAuth2Session(verify=build_verify(ca_file), max_redirects=0)
    try:
        response = session.get(url, timeout=HTTP_TIMEOUT_SECONDS, allow_redirects=False, withhold_token=True)
        response.raise_for_status()
        document = response.json()
    except (OSError, ValueError) as e:  # requests' errors are OSErrors
        raise OAuthUnavailableError(f"OpenID Connect discovery at {url} failed: {type(e).__name__}") from e
    finally:
        session.close()
    if not isinstance(document, dict) or not isinstance(document.get("token_endpoint"), str):
        raise OAuthUnavailableError(f"OpenID Connect discovery at {url} names no token_endpoint")
    return str(document.get("authorization_endpoint") or ""), str(document["token_endpoint"])


def build_verify(ca_file: str | None) -> bool | str:
    """requests' `verify`: the system store, or the given CA bundle instead (a private identity provider's CA);
    certificates are checked either way."""
    return ca_file or True


def find_endpoints(config: OAuthConfig) -> Endpoints:
    """The authorization and token endpoints, overrides first; raise when there is no token endpoint."""
    authorize_url, token_url = config.authorize_url, config.token_url
    if config.provider == "microsoft":
        base = f"{MICROSOFT_LOGIN}/{quote(config.tenant, safe='')}/oauth2/v2.0"
        authorize_url = authorize_url or f"{base}/authorize"
        token_url = token_url or f"{base}/token"
    elif config.provider == "google":
        authorize_url = authorize_url or GOOGLE_AUTHORIZE
        token_url = token_url or GOOGLE_TOKEN
    elif config.discovery_url and not (authorize_url and token_url):
        found_authorize, found_token = _discover(check_url(config.discovery_url, "discovery URL"), config.ca_file)
        authorize_url = authorize_url or found_authorize
        token_url = token_url or found_token
    if not token_url:
        raise OAuthConfigError("no OAuth token endpoint is known: set oauth.token_url")
    if config.grant == "authorization_code" and not authorize_url:
        raise OAuthConfigError("no OAuth authorization endpoint is known: set oauth.authorize_url")
    typed = token_url in {config.token_url} or config.provider == "oidc"  # a built-in provider URL needs no guard
    return Endpoints(authorize_url, check_url(token_url, "token endpoint") if typed else token_url)
