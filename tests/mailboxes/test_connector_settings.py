"""A mailbox's settings are checked per connector kind before they are saved, and name the secrets they read."""

from __future__ import annotations

import pytest

from postroom.mailboxes.connector_settings import (
    SettingsInvalidError,
    describe_secrets,
    parse_mailbox_settings,
)


def test_imap_defaults_and_the_secrets_it_reads() -> None:
    """GIVEN IMAP settings with a host and user only WHEN parsed THEN implicit TLS on 993, INBOX, imap_password."""
    parsed = parse_mailbox_settings("imap", {"host": "imap.example.com", "username": "support"})

    assert parsed.inbound is not None
    assert (parsed.inbound.port, parsed.inbound.tls, parsed.inbound.folders) == (993, "implicit", ("INBOX",))
    assert parsed.secret_names == ("imap_password",)


def test_outbound_and_sent_copy_add_their_secrets() -> None:
    """GIVEN POP3 with an outbound server and a Sent copy WHEN parsed THEN starttls 587 and all three secrets."""
    parsed = parse_mailbox_settings(
        "pop3",
        {
            "host": "pop.example.com",
            "tls": "starttls",
            "username": "u",
            "outbound": {"host": "smtp.example.com", "username": "u"},
            "sent_copy": {"host": "imap.example.com", "username": "u"},
        },
    )
    assert parsed.inbound is not None and parsed.inbound.port == 110
    assert parsed.outbound is not None and (parsed.outbound.port, parsed.outbound.tls) == (587, "starttls")
    assert parsed.sent_copy is not None and parsed.sent_copy.folder == "Sent"
    assert parsed.secret_names == ("pop3_password", "smtp_password", "imap_password")


@pytest.mark.parametrize(
    ("kind", "settings", "errors"),
    [
        ("imap", {"hots": "x", "username": "u"}, {"settings.hots", "settings.host"}),
        ("imap", {"host": "imaps://mail.example.com", "username": "u"}, {"settings.host"}),
        ("imap", {"host": "mail.example.com", "username": "u", "tls": "none"}, {"settings.tls"}),
        ("pop3", {"host": "mail.example.com", "username": "u", "port": 70000}, {"settings.port"}),
        ("imap", {"host": "mail.example.com", "username": "u", "ca_file": "ca.pem"}, {"settings.ca_file"}),
        ("imap", {"host": "mail.example.com", "username": "u", "folders": "INBOX"}, {"settings.folders"}),
        ("smtp", {"host": "mail.example.com"}, {"settings.host"}),
        ("ews", {"url": "http://ews.example.com/EWS/Exchange.asmx", "username": "u"}, {"settings.url"}),
        ("graph", {"tenant_id": "t"}, {"settings.client_id", "settings.user"}),
        ("imap", {"host": "h.example", "username": "u", "outbound": {"auth_mechanism": "login"}},
            {"settings.outbound.host", "settings.outbound.auth_mechanism"}),
        ("imap", {"host": "h.example", "username": "u", "sent_copy": "yes"},
            {"settings.sent_copy", "settings.sent_copy.host", "settings.sent_copy.username"}),
        ("fax", {}, {"kind"}),
        ("imap", {"host": "h.example", "username": "u", "post_action": "move", "batch": 0, "idle": "no"},
            {"settings.move_to", "settings.batch", "settings.idle"}),
    ],
)  # fmt: skip
def test_settings_that_cannot_work_are_refused_naming_each_field(
    kind: str, settings: dict[str, object], errors: set[str]
) -> None:
    """GIVEN settings with a typo, a URL for a host, plaintext to a remote host, ... WHEN parsed THEN each named."""
    with pytest.raises(SettingsInvalidError) as refused:
        parse_mailbox_settings(kind, settings)

    assert set(refused.value.errors) == errors


def test_the_pollers_own_imap_settings_are_accepted() -> None:
    """GIVEN the IMAP poller's settings (connectors.md) WHEN parsed THEN accepted alongside the server's."""
    parsed = parse_mailbox_settings(
        "imap",
        {"host": "imap.example.com", "username": "u", "poll_seconds": 30, "batch": 100, "idle": False,
         "post_action": "move", "move_to": "Archive"},
    )  # fmt: skip
    assert parsed.inbound is not None and parsed.inbound.host == "imap.example.com"


def test_plaintext_is_allowed_to_loopback_only() -> None:
    """GIVEN tls none to 127.0.0.1 WHEN parsed THEN accepted on port 143 (a relay on this machine)."""
    parsed = parse_mailbox_settings("imap", {"host": "127.0.0.1", "username": "u", "tls": "none"})
    assert parsed.inbound is not None and parsed.inbound.port == 143


def test_secrets_are_described_never_shown() -> None:
    """GIVEN stored secrets WHEN described THEN each name the settings read says set or not set, no value."""
    stored = {"imap_password": "hunter2", "imap_access_token": "ya29.x", "other": "x"}
    described = describe_secrets(("imap_password", "smtp_password"), stored)
    assert described == {"imap_password": "set", "smtp_password": "not set", "imap_access_token": "set"}


def test_public_key_pins_are_normalised_and_bad_ones_named() -> None:
    """GIVEN pin_sha256 as one pin, a list with a hex digest, or junk THEN pins come back as sha256/<base64>; junk is
    refused under settings.pin_sha256 (and a pin over plaintext is refused by the connector itself)."""
    import base64
    import hashlib

    digest = hashlib.sha256(b"server key").digest()
    b64 = "sha256/" + base64.b64encode(digest).decode()
    base = {"host": "imap.example.org", "username": "u"}
    one = parse_mailbox_settings("imap", {**base, "pin_sha256": b64})
    assert one.inbound is not None and one.inbound.pins == (b64,)
    both = parse_mailbox_settings("pop3", {**base, "pin_sha256": [b64, digest.hex()]})
    assert both.inbound is not None and both.inbound.pins == (b64, b64)
    with pytest.raises(SettingsInvalidError) as bad:
        parse_mailbox_settings("imap", {**base, "pin_sha256": ["nope"]})
    assert list(bad.value.errors) == ["settings.pin_sha256"]
