"""POP3 mailbox settings (the poller's typed config and the admin-facing validation) and the XOAUTH2 exchange."""

from __future__ import annotations

import base64
import poplib
from typing import Any

import pytest

from postroom.connectors.conf import ConnectorConfigError
from postroom.connectors.pop3_conf import build_pop3_config
from postroom.connectors.pop3_sync import build_pop3_source_key, find_received_uidls
from postroom.inbound.services import IncomingMessage, receive_messages
from postroom.mail.transport.pop3_fetch import ListedMessage, Pop3Credentials, Pop3Endpoint, Pop3SetupError, _log_in
from postroom.mailboxes.connector_settings import SettingsInvalidError, parse_mailbox_settings
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.tenants.services import get_default_tenant
from postroom.tickets.services import ensure_default_queue


def pop3_mailbox(settings: dict[str, Any], secrets: dict[str, str] | None = None) -> Mailbox:
    tenant = get_default_tenant()
    return Mailbox.objects.create(
        tenant=tenant,
        name=f"pop {Mailbox.objects.count()}",
        kind=ConnectorKind.POP3,
        settings=settings,
        secrets={"pop3_password": "pw"} if secrets is None else secrets,
        default_queue=ensure_default_queue(tenant),
    )


@pytest.mark.django_db
def test_defaults_are_pop3s_on_995_keep_on_server_and_the_imap_polling_defaults() -> None:
    """GIVEN a POP3 mailbox with only host and username WHEN its config is built THEN POP3S on 995, keep, 60 s, 50."""
    config = build_pop3_config(pop3_mailbox({"host": "pop.example.com", "username": "u"}))
    assert (config.endpoint.tls, config.endpoint.port) == ("implicit", 995)
    assert (config.post_action, config.poll_seconds, config.batch) == ("keep", 60, 50)
    assert config.credentials.password == "pw"
    starttls = build_pop3_config(pop3_mailbox({"host": "h", "username": "u", "tls": "starttls", "batch": 7}))
    assert (starttls.endpoint.port, starttls.batch) == (110, 7)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("settings", "secrets", "message"),
    [
        ({"host": "h", "username": "u", "post_action": "seen"}, None, "post_action of a POP3 mailbox"),
        ({"host": "h", "username": "u", "batch": 0}, None, "batch"),
        ({"username": "u"}, None, "host is required"),
        ({"host": "h", "username": "u"}, {}, "pop3_password"),
    ],
)
def test_settings_that_cannot_work_are_refused_by_name(
    settings: dict[str, Any], secrets: dict[str, str] | None, message: str
) -> None:
    """GIVEN a POP3 mailbox with one bad setting or no secret WHEN its config is built THEN the error names it."""
    with pytest.raises(ConnectorConfigError, match=message):
        build_pop3_config(pop3_mailbox(settings, secrets))


def test_admin_validation_accepts_the_pop3_poller_keys_and_refuses_imap_only_actions() -> None:
    """GIVEN POP3 settings with poll_seconds, batch and post_action WHEN validated THEN accepted; post_action seen
    (an IMAP flag) and idle (IMAP push) are refused."""
    parsed = parse_mailbox_settings(
        "pop3", {"host": "pop.example.com", "username": "u", "poll_seconds": 30, "batch": 10, "post_action": "delete"}
    )
    assert parsed.inbound is not None and parsed.inbound.port == 995
    with pytest.raises(SettingsInvalidError) as caught:
        parse_mailbox_settings("pop3", {"host": "pop.example.com", "username": "u", "post_action": "seen"})
    assert set(caught.value.errors) == {"settings.post_action"}
    with pytest.raises(SettingsInvalidError) as caught:
        parse_mailbox_settings("pop3", {"host": "pop.example.com", "username": "u", "idle": True})
    assert set(caught.value.errors) == {"settings.idle"}


@pytest.mark.django_db
def test_received_uidls_are_found_in_the_ledger_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN 3 of 7 listed UIDLs already in the ledger and a query chunk of 2 keys WHEN looked up THEN exactly those
    3 are found (case matters: a unique-id is compared byte for byte)."""
    monkeypatch.setattr("postroom.connectors.pop3_sync.LEDGER_QUERY_CHUNK", 2)
    mailbox = pop3_mailbox({"host": "h", "username": "u"})
    stored = ["a1", "B2", "c3"]
    receive_messages(
        [
            IncomingMessage(f"Subject: {u}\r\n\r\nx\r\n".encode(), "pop3", build_pop3_source_key(mailbox.pk, u))
            for u in stored
        ],
        mailbox=mailbox,
        enqueue=False,
    )
    listed = [ListedMessage(n, u) for n, u in enumerate(["a1", "b2", "B2", "c3", "d4", "e5", "f6"], start=1)]
    assert find_received_uidls(mailbox, listed) == set(stored)


class FakePop3:
    """Answers AUTH XOAUTH2 like a server: "+ " prompt, then +OK for the right token, else a challenge and -ERR."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.sent: list[str] = []

    def _shortcmd(self, line: str) -> bytes:
        self.sent.append(line)
        if line == "AUTH XOAUTH2":
            return b"+ "
        if line == "":
            raise poplib.error_proto(b"-ERR [AUTH] Authentication failed")
        decoded = base64.b64decode(line).decode()
        return b"+OK logged in" if decoded == f"user=u@example.com\x01auth=Bearer {self.token}\x01\x01" else b"+ eyJ9"


def test_xoauth2_sends_the_bearer_token_after_the_prompt() -> None:
    """GIVEN a server accepting token T WHEN logging in with T THEN AUTH XOAUTH2 then the SASL response; WHEN logging
    in with another token THEN a setup error that does not contain the token."""
    endpoint = Pop3Endpoint(host="pop.example.com", port=995, tls="implicit", username="u@example.com")
    good = FakePop3("T0KEN")
    _log_in(good, endpoint, Pop3Credentials(access_token="T0KEN"), "pop.example.com port 995")  # type: ignore[arg-type]
    assert good.sent[0] == "AUTH XOAUTH2" and len(good.sent) == 2
    bad = FakePop3("T0KEN")
    with pytest.raises(Pop3SetupError, match="refused the XOAUTH2 login") as caught:
        _log_in(bad, endpoint, Pop3Credentials(access_token="WRONG"), "pop.example.com port 995")  # type: ignore[arg-type]
    assert "WRONG" not in str(caught.value) and bad.sent[-1] == ""
