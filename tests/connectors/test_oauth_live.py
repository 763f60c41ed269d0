"""OAuth 2.0 logins for real: Dovecot's oauth2 passdb asks the test suite's introspection endpoint about each token,
and the connectors get their tokens from the test suite's token endpoint (tests/oauthserver.py), which rotates the
refresh token on every refresh."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from connectorkit import build_raw, imap_mailbox, wait_for

from dovecotserver import (
    HOST,
    Pop3DovecotServer,
    append_messages,
    find_dovecot,
    has_pop3,
    needs_dovecot,
    needs_pop3,
)
from oauthserver import OAuthTestServer, serve_oauth
from postroom.connectors.health import UNHEALTHY_METRIC, get_health
from postroom.connectors.oauth.errors import OAuthSignInRequiredError
from postroom.connectors.oauth.store import MailboxTokenSource, read_tokens
from postroom.connectors.poller import Poller
from postroom.connectors.runner import MailboxRunner
from postroom.core.metrics import read_counter
from postroom.inbound.models import InboundMessage
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.outbound.models import Delivery
from postroom.outbound.sender import send_due_deliveries
from postroom.tenants.services import get_default_tenant
from postroom.tickets.services import ensure_default_queue

pytestmark = [pytest.mark.live, needs_dovecot, needs_pop3, pytest.mark.django_db(transaction=True)]

CLIENT_ID = "postroom-test-app"
CLIENT_SECRET = "app-secret"
APP_CLIENT_ID = "postroom-daemon"
USERS = {
    name + "@example.test": name + "-pw"
    for name in ("xo", "bearer", "pop", "rotate", "retry", "revoked", "steady", "app", "race", "oidc")
}


@pytest.fixture(scope="module")
def oauth() -> Iterator[OAuthTestServer]:
    yield from serve_oauth()


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory, oauth: OAuthTestServer) -> Iterator[Pop3DovecotServer]:
    if find_dovecot() is None or not has_pop3():
        pytest.skip("dovecot with POP3 is not installed")
    server = Pop3DovecotServer(tmp_path_factory.mktemp("dovecot-oauth"), USERS, oauth.introspection_url)
    with server:
        yield server


@pytest.fixture(autouse=True)
def _setup(settings: Any, oauth: OAuthTestServer) -> None:
    """Loopback servers are allowed (the SSRF guard refuses them otherwise); the test app is registered."""
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, allow_private_hosts=True)
    oauth.add_client(CLIENT_ID, CLIENT_SECRET)


def oauth_settings(oauth: OAuthTestServer, **extra: Any) -> dict[str, Any]:
    return {"provider": "microsoft", "client_id": CLIENT_ID, "token_url": oauth.token_url, **extra}


def oauth_imap_mailbox(
    dovecot: Pop3DovecotServer, oauth: OAuthTestServer, user: str, secrets: dict[str, str], **extra: Any
) -> Mailbox:
    """A mailbox reading `user` over IMAPS, signing in with OAuth (no password)."""
    mailbox = imap_mailbox(dovecot, user, oauth=oauth_settings(oauth, **extra))
    mailbox.secrets = {"oauth_client_secret": CLIENT_SECRET, **secrets}
    mailbox.save()
    return mailbox


def run_one_cycle(mailbox_id: int) -> None:
    runner = MailboxRunner(mailbox_id, lambda: True)
    try:
        runner.run_cycle()
    finally:
        runner.drop_session()


def ledger(mailbox_id: int) -> list[InboundMessage]:
    return list(InboundMessage.objects.filter(mailbox_id=mailbox_id))


def stored(mailbox: Mailbox) -> Any:
    return read_tokens(Mailbox.objects.get(pk=mailbox.pk).secrets)


def oauth_logins(dovecot: Pop3DovecotServer, user: str) -> int:
    return dovecot.log_text().count(f"Login: user=<{user}>, method=XOAUTH2") + dovecot.log_text().count(
        f"Login: user=<{user}>, method=OAUTHBEARER"
    )


@pytest.mark.parametrize(
    ("user", "mechanism"), [("xo@example.test", "xoauth2"), ("bearer@example.test", "oauthbearer")]
)
def test_imap_signs_in_with_a_refreshed_token_and_stores_the_rotated_refresh_token(
    dovecot: Pop3DovecotServer, oauth: OAuthTestServer, user: str, mechanism: str
) -> None:
    """GIVEN a mailbox whose admin signed in (a refresh token, no access token yet) WHEN a cycle runs THEN the
    connector refreshes, logs in to Dovecot with the mechanism (checked by introspection), commits the mail,
    stores the new access token and the rotated refresh token, and the old refresh token is dead at the server."""
    append_messages(dovecot, user, [build_raw(f"oauth {mechanism}")])
    first = oauth.issue_refresh_token(user, CLIENT_ID)
    mailbox = oauth_imap_mailbox(dovecot, oauth, user, {"oauth_refresh_token": first}, mechanism=mechanism)

    run_one_cycle(mailbox.pk)

    assert len(ledger(mailbox.pk)) == 1
    tokens = stored(mailbox)
    assert tokens.refresh_token and tokens.refresh_token != first
    assert oauth.is_refresh_token_active(tokens.refresh_token) and not oauth.is_refresh_token_active(first)
    assert oauth.is_access_token_active(tokens.access_token)
    assert f"method={mechanism.upper()}" in dovecot.log_text()
    health = get_health(mailbox.pk)
    assert health is not None and health.token_expires_at == tokens.expires_at and health.consecutive_failures == 0


def test_pop3_signs_in_with_xoauth2(dovecot: Pop3DovecotServer, oauth: OAuthTestServer) -> None:
    """GIVEN a POP3 mailbox with OAuth WHEN a cycle runs THEN AUTH XOAUTH2 with a refreshed token reads the mail."""
    user = "pop@example.test"
    append_messages(dovecot, user, [build_raw("pop over oauth")])
    mailbox = Mailbox.objects.create(
        tenant=get_default_tenant(),
        name=user,
        address=user,
        kind=ConnectorKind.POP3,
        settings={
            "host": HOST,
            "port": dovecot.pop3s_port,
            "tls": "implicit",
            "username": user,
            "ca_file": str(dovecot.ca_file),
            "oauth": oauth_settings(oauth),
        },
        secrets={
            "oauth_client_secret": CLIENT_SECRET,
            "oauth_refresh_token": oauth.issue_refresh_token(user, CLIENT_ID),
        },
        default_queue=ensure_default_queue(get_default_tenant()),
    )
    run_one_cycle(mailbox.pk)
    assert [row.source_kind for row in ledger(mailbox.pk)] == ["pop3"]
    assert oauth_logins(dovecot, user) == 1, dovecot.log_text()[-3000:]


def test_an_expired_access_token_is_refreshed_before_login(dovecot: Pop3DovecotServer, oauth: OAuthTestServer) -> None:
    """GIVEN a stored access token that expired (at the server and by its stored expiry) WHEN a cycle runs THEN the
    token is refreshed first, the login succeeds with the new one, and only the rotated refresh token works."""
    user = "rotate@example.test"
    old_refresh = oauth.issue_refresh_token(user, CLIENT_ID)
    old_access = oauth.issue_access_token(user, CLIENT_ID, lifetime=-1)
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    mailbox = oauth_imap_mailbox(
        dovecot,
        oauth,
        user,
        {"oauth_refresh_token": old_refresh, "oauth_access_token": old_access, "oauth_expires_at": past},
    )
    requests_before = len(oauth.state.token_requests)
    run_one_cycle(mailbox.pk)
    tokens = stored(mailbox)
    assert tokens.access_token != old_access and oauth.is_access_token_active(tokens.access_token)
    assert tokens.expires_at is not None and tokens.expires_at > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=50)
    assert oauth.state.token_requests[requests_before:] == ["refresh_token"]
    assert not oauth.is_refresh_token_active(old_refresh) and oauth.is_refresh_token_active(tokens.refresh_token)


def test_a_token_the_server_refuses_is_replaced_once_and_the_login_retried(
    dovecot: Pop3DovecotServer, oauth: OAuthTestServer
) -> None:
    """GIVEN a stored access token that looks fresh but the server no longer accepts (revoked early) WHEN a cycle
    runs THEN the refused XOAUTH2 login is retried once with a newly refreshed token and succeeds."""
    user = "retry@example.test"
    append_messages(dovecot, user, [build_raw("retry login")])
    access = oauth.issue_access_token(user, CLIENT_ID, lifetime=3600)
    oauth.revoke(access)
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    secrets = {
        "oauth_refresh_token": oauth.issue_refresh_token(user, CLIENT_ID),
        "oauth_access_token": access,
        "oauth_expires_at": future,
    }
    mailbox = oauth_imap_mailbox(dovecot, oauth, user, secrets)
    asked_before, requests_before = oauth.state.introspections, len(oauth.state.token_requests)
    run_one_cycle(mailbox.pk)
    assert len(ledger(mailbox.pk)) == 1
    assert stored(mailbox).access_token != access
    assert oauth.state.introspections - asked_before == 2  # the refused token, then the new one
    assert oauth.state.token_requests[requests_before:] == ["refresh_token"]


def test_client_credentials_grant_signs_in_app_only(dovecot: Pop3DovecotServer, oauth: OAuthTestServer) -> None:
    """GIVEN an app-only mailbox (client credentials, no refresh token) WHEN a cycle runs THEN a token is fetched
    with the client's secret and the mailbox is read with it."""
    user = "app@example.test"
    oauth.add_client(APP_CLIENT_ID, "daemon-secret", app_user=user)
    append_messages(dovecot, user, [build_raw("app only")])
    mailbox = imap_mailbox(
        dovecot,
        user,
        oauth=oauth_settings(oauth, client_id=APP_CLIENT_ID, grant="client_credentials", tenant="contoso.example"),
    )
    mailbox.secrets = {"oauth_client_secret": "daemon-secret"}
    mailbox.save()
    requests_before = len(oauth.state.token_requests)
    run_one_cycle(mailbox.pk)
    assert len(ledger(mailbox.pk)) == 1
    assert oauth.state.token_requests[requests_before:] == ["client_credentials"]
    assert stored(mailbox).refresh_token == ""


def test_an_openid_connect_provider_is_found_through_its_discovery_document(
    dovecot: Pop3DovecotServer, oauth: OAuthTestServer
) -> None:
    """GIVEN provider oidc with only an issuer WHEN a cycle runs THEN the token endpoint comes from discovery."""
    user = "oidc@example.test"
    mailbox = imap_mailbox(dovecot, user, oauth={"provider": "oidc", "client_id": CLIENT_ID, "issuer": oauth.base_url})
    mailbox.secrets = {
        "oauth_client_secret": CLIENT_SECRET,
        "oauth_refresh_token": oauth.issue_refresh_token(user, CLIENT_ID),
    }
    mailbox.save()
    run_one_cycle(mailbox.pk)
    assert oauth.is_access_token_active(stored(mailbox).access_token)


def test_concurrent_refreshes_spend_the_refresh_token_once(dovecot: Pop3DovecotServer, oauth: OAuthTestServer) -> None:
    """GIVEN four token sources of one mailbox (pollers, the sender) and no access token WHEN all ask at once THEN
    one refresh happens, all get the same token, and the rotated refresh token is the one stored (none is lost)."""
    user = "race@example.test"
    mailbox = oauth_imap_mailbox(
        dovecot, oauth, user, {"oauth_refresh_token": oauth.issue_refresh_token(user, CLIENT_ID)}
    )
    requests_before = len(oauth.state.token_requests)
    start = threading.Barrier(4)
    got: list[str] = []

    def ask() -> None:
        from django.db import connection

        start.wait(10)
        try:
            got.append(MailboxTokenSource(mailbox.pk).access_token())
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(got) == 4 and len(set(got)) == 1
    assert oauth.state.token_requests[requests_before:] == ["refresh_token"]
    assert oauth.is_refresh_token_active(stored(mailbox).refresh_token)


def test_a_revoked_refresh_token_makes_the_mailbox_unhealthy_and_alerts_once_while_another_keeps_working(
    dovecot: Pop3DovecotServer, oauth: OAuthTestServer, admin: Any, outbox: Any
) -> None:
    """GIVEN a poller with an OAuth mailbox whose refresh token was revoked and a password mailbox WHEN it runs THEN
    the OAuth mailbox turns unhealthy after its first failed cycle with a one-line error naming the sign-in page,
    the metric counts it, exactly one alert reaches the admin through the outbox, and the other mailbox keeps
    delivering mail."""
    revoked = oauth.issue_refresh_token("revoked@example.test", CLIENT_ID)
    oauth.revoke(revoked)
    broken = oauth_imap_mailbox(dovecot, oauth, "revoked@example.test", {"oauth_refresh_token": revoked})
    steady = imap_mailbox(dovecot, "steady@example.test", poll_seconds=1, idle=False)
    poller = Poller(
        heartbeat_seconds=1,
        runner_factory=lambda mid, check: MailboxRunner(mid, check, backoff_first=0.1, backoff_max=0.2),
    )
    stop = threading.Event()
    thread = threading.Thread(target=poller.run, args=(stop,), daemon=True)
    thread.start()
    try:
        append_messages(dovecot, "steady@example.test", [build_raw("steady 1")])
        wait_for(lambda: ledger(steady.pk), timeout=15, what="the password mailbox's first message")
        health = wait_for(
            lambda: (h := get_health(broken.pk)) is not None and h.unhealthy_since is not None and h,
            timeout=15,
            what="the OAuth mailbox to turn unhealthy",
        )
        wait_for(
            lambda: (h := get_health(broken.pk)) is not None and h.consecutive_failures >= 3, timeout=15, what="retries"
        )
        append_messages(dovecot, "steady@example.test", [build_raw("steady 2")])
        wait_for(lambda: len(ledger(steady.pk)) == 2, timeout=15, what="the second message of the other mailbox")
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()
    assert health.last_error == (
        "OAuth refresh token was revoked or expired (invalid_grant: refresh token revoked): "
        f"an admin must sign in again at /admin/mailboxes/{broken.pk}/oauth/"
    )
    assert read_counter(UNHEALTHY_METRIC, {"mailbox": broken.pk}) == 1
    assert [d.recipients for d in Delivery.objects.all()] == [[admin.email]]
    send_due_deliveries()
    [alert] = outbox.messages
    assert alert.rcpt_tos == [admin.email] and b"stopped receiving mail" in alert.data
    assert oauth_logins(dovecot, "revoked@example.test") == 0


def test_a_mailbox_nobody_signed_in_yet_fails_with_the_sign_in_page(
    dovecot: Pop3DovecotServer, oauth: OAuthTestServer
) -> None:
    """GIVEN OAuth settings but no refresh token WHEN a token is asked for THEN the error names the sign-in page."""
    mailbox = oauth_imap_mailbox(dovecot, oauth, "xo@example.test", {})
    with pytest.raises(OAuthSignInRequiredError, match=f"sign in at /admin/mailboxes/{mailbox.pk}/oauth/"):
        MailboxTokenSource(mailbox.pk).access_token()


@pytest.fixture
def admin(db: None) -> Any:
    from django.contrib.auth import get_user_model

    from postroom.accounts.models import AgentProfile, Role

    user = get_user_model().objects.create_user("ops", email="ops@example.com", password="x")
    AgentProfile.objects.create(user=user, tenant=get_default_tenant(), role=Role.ADMIN)
    return user
