"""The console's OAuth sign-in end to end: the consent page sends the admin to the (test) provider with state and a
PKCE challenge, the provider's redirect comes back to the callback, and the tokens land encrypted in the mailbox."""

from __future__ import annotations

import dataclasses
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from oauthserver import OAuthTestServer, s256, serve_oauth
from postroom.accounts.models import Role
from postroom.connectors.oauth.store import read_tokens
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.tenants.services import get_default_tenant
from postroom.tickets.services import ensure_default_queue
from postroom.web.oauth_views import PENDING_KEY
from staff import make_staff

pytestmark = pytest.mark.django_db

CLIENT_ID = "consent-app"
USER = "shared@example.test"
CALLBACK = "http://testserver/admin/oauth/callback/"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def oauth() -> Iterator[OAuthTestServer]:
    yield from serve_oauth()


@pytest.fixture
def mailbox(settings: Any, oauth: OAuthTestServer) -> Mailbox:
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, allow_private_hosts=True)
    oauth.add_client(CLIENT_ID, "consent-secret")
    oauth.state.consent_user = USER
    tenant = get_default_tenant()
    return Mailbox.objects.create(
        tenant=tenant,
        name="Shared",
        address=USER,
        kind=ConnectorKind.IMAP,
        settings={
            "host": "imap.example.test",
            "username": USER,
            "oauth": {
                "provider": "microsoft",
                "client_id": CLIENT_ID,
                "authorize_url": oauth.authorize_url,
                "token_url": oauth.token_url,
            },
        },
        secrets={"oauth_client_secret": "consent-secret"},
        default_queue=ensure_default_queue(tenant),
    )


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(make_staff(Role.ADMIN, get_default_tenant()))
    return client


def start(client: Client, mailbox: Mailbox) -> dict[str, str]:
    response = client.post(f"/admin/mailboxes/{mailbox.pk}/oauth/")
    assert response.status_code == 302
    return {key: values[0] for key, values in parse_qs(urlsplit(response["Location"]).query).items()} | {
        "url": response["Location"]
    }


def authorize(url: str) -> str:
    """The admin signs in at the provider: its redirect back to the console (path and query)."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(url, timeout=10)
    except urllib.error.HTTPError as e:
        assert e.code == 302
        location = e.headers["Location"]
    assert location.startswith(CALLBACK)
    return location.removeprefix("http://testserver")


def test_an_admin_signs_a_mailbox_in_with_the_authorization_code_flow_and_pkce(
    admin_client: Client, mailbox: Mailbox, oauth: OAuthTestServer
) -> None:
    """GIVEN a mailbox with Microsoft-style OAuth settings WHEN an admin starts the sign-in THEN the provider is asked
    with a fresh state, an S256 challenge of the session's verifier, the callback and the IMAP and offline scopes;
    WHEN the provider redirects back THEN the code is traded (the verifier matched) and the refresh and access tokens
    are stored for the mailbox, and the page says so."""
    query = start(admin_client, mailbox)
    pending = admin_client.session[PENDING_KEY][query["state"]]
    assert query["url"].startswith(oauth.authorize_url + "?")
    assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256" and query["code_challenge"] == s256(pending["verifier"])
    assert query["redirect_uri"] == CALLBACK
    assert query["scope"].split() == ["https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"]
    assert len(query["state"]) >= 43 and pending["mailbox"] == mailbox.pk

    response = admin_client.get(authorize(query["url"]))

    assert response.status_code == 302 and response["Location"] == f"/admin/mailboxes/{mailbox.pk}/oauth/?signed_in=1"
    tokens = read_tokens(Mailbox.objects.get(pk=mailbox.pk).secrets)
    assert oauth.is_refresh_token_active(tokens.refresh_token) and oauth.is_access_token_active(tokens.access_token)
    assert oauth.state.refresh[tokens.refresh_token].user == USER
    page = admin_client.get(response["Location"]).content.decode()
    assert "Signed in: the mailbox has its tokens." in page and "<dd>yes</dd>" in page
    assert PENDING_KEY not in admin_client.session or not admin_client.session[PENDING_KEY]
    shown = admin_client.get(f"/api/v1/mailboxes/{mailbox.pk}").json()
    assert shown["oauth"]["signed_in"] is True and shown["oauth"]["provider"] == "microsoft"
    assert shown["oauth"]["token_expires_at"] is not None
    assert shown["secrets"] == {"oauth_client_secret": "set", "oauth_refresh_token": "set", "oauth_access_token": "set"}


def test_a_wrong_or_replayed_state_is_refused_and_stores_nothing(
    admin_client: Client, mailbox: Mailbox, oauth: OAuthTestServer
) -> None:
    """GIVEN a started sign-in WHEN the callback comes with a state this session did not start THEN 400 and no tokens;
    the real state still completes once, and a replay of it is refused."""
    query = start(admin_client, mailbox)
    back = authorize(query["url"])
    forged = back.replace(f"state={query['state']}", "state=forged-state")
    response = admin_client.get(forged)
    assert response.status_code == 400 and "unknown state" in response.content.decode()
    assert read_tokens(Mailbox.objects.get(pk=mailbox.pk).secrets).refresh_token == ""
    assert admin_client.get(back).status_code == 302
    assert admin_client.get(back).status_code == 400


def test_a_verifier_that_does_not_match_the_challenge_is_refused_by_the_provider(
    admin_client: Client, mailbox: Mailbox
) -> None:
    """GIVEN a sign-in whose session verifier was changed (as if a code were injected into another session) WHEN
    the callback trades the code THEN the provider refuses it (PKCE) and the page says to start again."""
    query = start(admin_client, mailbox)
    session = admin_client.session
    pending = session[PENDING_KEY]
    pending[query["state"]]["verifier"] = "x" * 64
    session[PENDING_KEY] = pending
    session.save()
    response = admin_client.get(authorize(query["url"]))
    assert response.status_code == 400
    assert "PKCE verifier did not match" in response.content.decode()
    assert read_tokens(Mailbox.objects.get(pk=mailbox.pk).secrets).refresh_token == ""


def test_an_auditor_sees_the_page_but_cannot_start_a_sign_in(mailbox: Mailbox) -> None:
    """GIVEN an auditor WHEN they open the page THEN 200 without the sign-in button; WHEN they post THEN 403."""
    client = Client()
    client.force_login(make_staff(Role.AUDITOR, get_default_tenant()))
    page = client.get(f"/admin/mailboxes/{mailbox.pk}/oauth/")
    assert page.status_code == 200 and "Sign in with" not in page.content.decode()
    assert client.post(f"/admin/mailboxes/{mailbox.pk}/oauth/").status_code == 403


def test_the_provider_declining_the_sign_in_is_shown_in_one_line(admin_client: Client, mailbox: Mailbox) -> None:
    """GIVEN a started sign-in WHEN the provider redirects back with error=access_denied THEN 400 saying so."""
    query = start(admin_client, mailbox)
    response = admin_client.get(
        f"/admin/oauth/callback/?state={query['state']}&error=access_denied&error_description=The+user+declined"
    )
    assert response.status_code == 400
    assert "The provider refused the sign-in: access_denied: The user declined" in response.content.decode()
