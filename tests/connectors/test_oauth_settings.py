"""The `oauth` settings: what the mailbox validation refuses, which secrets they use, and the typed config."""

from __future__ import annotations

from typing import Any

import pytest

from postroom.connectors.oauth.config import GRANTS, PROVIDERS, build_oauth_config
from postroom.connectors.oauth.errors import OAuthConfigError
from postroom.connectors.oauth.providers import default_scopes, find_endpoints
from postroom.mail.transport.sasl_oauth import OAUTH_MECHANISMS
from postroom.mailboxes.connector_settings import (
    OAUTH_GRANTS,
    OAUTH_PROVIDERS,
    SettingsInvalidError,
    parse_mailbox_settings,
)
from postroom.mailboxes.connector_settings import (
    OAUTH_MECHANISMS as SETTINGS_MECHANISMS,
)
from postroom.mailboxes.models import ConnectorKind, Mailbox

IMAP = {"host": "outlook.office365.com", "username": "support@contoso.example"}


def settings_with(**oauth: Any) -> dict[str, Any]:
    return {**IMAP, "oauth": {"provider": "microsoft", "client_id": "app-id", **oauth}}


def test_the_validation_and_the_connector_know_the_same_values() -> None:
    """The mailbox layer cannot import the connector's constants; a test keeps the two lists equal."""
    assert (OAUTH_PROVIDERS, OAUTH_GRANTS, SETTINGS_MECHANISMS) == (PROVIDERS, GRANTS, OAUTH_MECHANISMS)


def test_oauth_replaces_the_password_secret_with_the_client_secret_and_refresh_token() -> None:
    """GIVEN IMAP with oauth WHEN parsed THEN the secrets it reads are the OAuth ones, not imap_password; app-only
    mailboxes need no refresh token; an outbound server using XOAUTH2 needs no smtp_password."""
    assert parse_mailbox_settings("imap", settings_with()).secret_names == (
        "oauth_client_secret",
        "oauth_refresh_token",
    )
    app = settings_with(grant="client_credentials", tenant="contoso.example")
    assert parse_mailbox_settings("imap", app).secret_names == ("oauth_client_secret",)
    outbound = {"host": "smtp.office365.com", "username": "support@contoso.example", "auth_mechanism": "xoauth2"}
    names = parse_mailbox_settings("pop3", {**settings_with(), "outbound": outbound}).secret_names
    assert names == ("oauth_client_secret", "oauth_refresh_token")


@pytest.mark.parametrize(
    ("oauth", "key", "message"),
    [
        ({"provider": "yahoo"}, "settings.oauth.provider", "must be one of microsoft, google, oidc"),
        ({"client_id": ""}, "settings.oauth.client_id", "is required"),
        ({"token_url": "http://idp.example.com/token"}, "settings.oauth.token_url", "must be an https:// address"),
        ({"grant": "client_credentials"}, "settings.oauth.tenant", "needs the directory"),
        ({"provider": "google", "grant": "client_credentials"}, "settings.oauth.grant", "no client-credentials"),
        ({"provider": "oidc"}, "settings.oauth.issuer", "needs issuer, discovery_url or token_url"),
        ({"mechanism": "plain"}, "settings.oauth.mechanism", "must be one of xoauth2, oauthbearer"),
        ({"scope": "x"}, "settings.oauth.scope", "unknown setting"),
    ],
)
def test_bad_oauth_settings_are_refused_with_a_clear_message(oauth: dict[str, Any], key: str, message: str) -> None:
    """GIVEN a wrong oauth setting WHEN validated THEN an error under its own key says what is wrong."""
    with pytest.raises(SettingsInvalidError) as caught:
        parse_mailbox_settings("imap", settings_with(**oauth))
    assert any(message in text for text in caught.value.errors[key]), caught.value.errors


def test_loopback_http_endpoints_are_allowed_for_tests() -> None:
    parse_mailbox_settings("imap", settings_with(token_url="http://127.0.0.1:8080/token"))


def _mailbox(kind: str, settings: dict[str, Any]) -> Mailbox:
    return Mailbox(pk=7, kind=kind, settings=settings)


def test_microsoft_endpoints_and_scopes_follow_the_tenant_and_the_connector() -> None:
    """GIVEN a Microsoft IMAP mailbox with an outbound XOAUTH2 server WHEN read THEN the tenant's v2.0 endpoints and
    the IMAP and SMTP scopes plus offline_access; app-only asks for the .default scope."""
    outbound = {"host": "smtp.office365.com", "username": "s@contoso.example", "auth_mechanism": "xoauth2"}
    config = build_oauth_config(
        _mailbox(ConnectorKind.IMAP, {**settings_with(tenant="contoso.example"), "outbound": outbound})
    )
    endpoints = find_endpoints(config)
    assert endpoints.token_url == "https://login.microsoftonline.com/contoso.example/oauth2/v2.0/token"
    assert endpoints.authorize_url == "https://login.microsoftonline.com/contoso.example/oauth2/v2.0/authorize"
    assert default_scopes(config) == (
        "https://outlook.office.com/IMAP.AccessAsUser.All",
        "https://outlook.office.com/SMTP.Send",
        "offline_access",
    )
    pop3 = build_oauth_config(_mailbox(ConnectorKind.POP3, settings_with()))
    assert default_scopes(pop3) == ("https://outlook.office.com/POP.AccessAsUser.All", "offline_access")
    app = build_oauth_config(
        _mailbox(ConnectorKind.IMAP, settings_with(grant="client_credentials", tenant="c.example"))
    )
    assert default_scopes(app) == ("https://outlook.office365.com/.default",)


def test_google_uses_the_mail_scope_and_its_own_endpoints() -> None:
    config = build_oauth_config(_mailbox(ConnectorKind.IMAP, settings_with(provider="google", scopes="a b")))
    assert config.scopes == ("a", "b")
    assert find_endpoints(config).token_url == "https://oauth2.googleapis.com/token"
    plain = build_oauth_config(_mailbox(ConnectorKind.IMAP, settings_with(provider="google")))
    assert default_scopes(plain) == ("https://mail.google.com/",)


def test_the_typed_config_refuses_what_cannot_work() -> None:
    with pytest.raises(OAuthConfigError, match="no oauth settings"):
        build_oauth_config(_mailbox(ConnectorKind.IMAP, IMAP))
    with pytest.raises(OAuthConfigError, match="client_credentials"):
        build_oauth_config(_mailbox(ConnectorKind.IMAP, settings_with(grant="client_credentials")))
