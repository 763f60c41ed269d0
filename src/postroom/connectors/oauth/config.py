"""A mailbox's OAuth settings (`Mailbox.settings["oauth"]`), read into one typed value with defaults applied.

| key | default | meaning |
|---|---|---|
| provider | required | microsoft, google or oidc |
| client_id | required | the application (client) id registered at the provider |
| grant | authorization_code | authorization_code (a person signs in once; refresh tokens) or client_credentials |
| tenant | organizations | Microsoft: the directory (tenant id or domain); client_credentials needs a real one |
| scopes | per provider and kind | space-separated scopes asked for (providers.default_scopes) |
| mechanism | xoauth2 | the SASL mechanism for IMAP and POP3: xoauth2 or oauthbearer (RFC 7628) |
| authorize_url, token_url | the provider's | endpoint overrides (a local test server, a sovereign cloud) |
| discovery_url | issuer + /.well-known/... | oidc: the OpenID Connect discovery document |
| issuer | none | oidc: the issuer URL, when no discovery_url is given |
| redirect_uri | the console's callback | the redirect URI registered at the provider, when the console's differs |
| ca_file | none | extra trust anchors (PEM) for the token endpoint's TLS certificate |

Secrets (`Mailbox.secrets`, encrypted): `oauth_client_secret` (confidential clients), and the tokens the store
keeps itself: `oauth_refresh_token`, `oauth_access_token`, `oauth_expires_at`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from postroom.connectors.oauth.errors import OAuthConfigError
from postroom.mail.transport.sasl_oauth import OAUTH_MECHANISMS, OAuthMechanism
from postroom.mailboxes.models import Mailbox

Provider = Literal["microsoft", "google", "oidc"]
Grant = Literal["authorization_code", "client_credentials"]
PROVIDERS: Final[tuple[Provider, ...]] = ("microsoft", "google", "oidc")
GRANTS: Final[tuple[Grant, ...]] = ("authorization_code", "client_credentials")
DEFAULT_MICROSOFT_TENANT: Final = "organizations"  # work or school accounts of any directory

CLIENT_SECRET: Final = "oauth_client_secret"  # noqa: S105 (secret names, not secrets)
REFRESH_TOKEN: Final = "oauth_refresh_token"  # noqa: S105
ACCESS_TOKEN: Final = "oauth_access_token"  # noqa: S105
EXPIRES_AT: Final = "oauth_expires_at"


@dataclass(frozen=True, slots=True)
class OAuthConfig:
    mailbox_id: int
    kind: str  # the connector kind: imap, pop3 (scopes differ)
    provider: Provider
    client_id: str
    grant: Grant
    tenant: str
    scopes: tuple[str, ...]  # empty: the provider's defaults for the kind
    mechanism: OAuthMechanism
    authorize_url: str
    token_url: str
    discovery_url: str
    redirect_uri: str
    ca_file: str | None
    wants_smtp: bool  # the outbound relay signs in with OAuth too: ask for the sending scope


def _text(raw: Mapping[str, object], key: str, default: str = "") -> str:
    value = raw.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise OAuthConfigError(f"setting oauth.{key} must be text")
    return value.strip() or default


def _choice(raw: Mapping[str, object], key: str, choices: tuple[str, ...], default: str) -> str:
    value = _text(raw, key, default)
    if value not in choices:
        raise OAuthConfigError(f"setting oauth.{key} must be one of {', '.join(choices)}")
    return value


def _scopes(raw: Mapping[str, object]) -> tuple[str, ...]:
    value = raw.get("scopes")
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(scope for item in value for scope in item.split())
    raise OAuthConfigError("setting oauth.scopes must be a list of scopes or one space-separated text")


def has_oauth(mailbox: Mailbox) -> bool:
    """Whether the mailbox signs in with OAuth (an `oauth` object in its settings)."""
    return isinstance(mailbox.settings, Mapping) and isinstance(mailbox.settings.get("oauth"), Mapping)


def build_oauth_config(mailbox: Mailbox) -> OAuthConfig:
    """The typed OAuth settings; raise OAuthConfigError naming the first bad one (or when there are none)."""
    settings = mailbox.settings if isinstance(mailbox.settings, Mapping) else {}
    raw = settings.get("oauth")
    if not isinstance(raw, Mapping):
        raise OAuthConfigError("the mailbox has no oauth settings")
    provider = _choice(raw, "provider", PROVIDERS, "")
    client_id = _text(raw, "client_id")
    if not client_id:
        raise OAuthConfigError("setting oauth.client_id is required")
    grant = _choice(raw, "grant", GRANTS, "authorization_code")
    if provider == "google" and grant == "client_credentials":
        raise OAuthConfigError("Google has no client-credentials grant for mail; use authorization_code")
    tenant = _text(raw, "tenant", DEFAULT_MICROSOFT_TENANT if provider == "microsoft" else "")
    if provider == "microsoft" and grant == "client_credentials" and tenant in {"common", "organizations"}:
        raise OAuthConfigError("setting oauth.tenant must name the directory for client_credentials")
    discovery_url = _text(raw, "discovery_url")
    issuer = _text(raw, "issuer")
    if not discovery_url and issuer:
        discovery_url = issuer.rstrip("/") + "/.well-known/openid-configuration"  # OpenID Connect Discovery 1.0
    token_url = _text(raw, "token_url")
    if provider == "oidc" and not (discovery_url or token_url):
        raise OAuthConfigError("provider oidc needs oauth.issuer, oauth.discovery_url or oauth.token_url")
    outbound = settings.get("outbound")
    wants_smtp = isinstance(outbound, Mapping) and outbound.get("auth_mechanism") in OAUTH_MECHANISMS
    mechanism = _choice(raw, "mechanism", OAUTH_MECHANISMS, "xoauth2")
    ca_file = _text(raw, "ca_file") or None
    return OAuthConfig(
        mailbox_id=mailbox.pk,
        kind=str(mailbox.kind),
        provider=provider,  # type: ignore[arg-type]  # checked against PROVIDERS by _choice
        client_id=client_id,
        grant=grant,  # type: ignore[arg-type]  # checked against GRANTS
        tenant=tenant,
        scopes=_scopes(raw),
        mechanism=mechanism,  # type: ignore[arg-type]  # checked against OAUTH_MECHANISMS
        authorize_url=_text(raw, "authorize_url"),
        token_url=token_url,
        discovery_url=discovery_url,
        redirect_uri=_text(raw, "redirect_uri"),
        ca_file=ca_file,
        wants_smtp=wants_smtp,
    )
