"""Appending a copy of a sent message to an IMAP folder, against a real Dovecot on loopback."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from dovecotserver import DovecotServer, needs_dovecot, serve_dovecot
from postroom.mail.transport.imap_append import (
    AppendResult,
    ImapConfigError,
    ImapSettings,
    append_to_folder,
    encode_mailbox_name,
)

USER, PASSWORD = "agent", "correct horse battery staple"
UTF8_USER, UTF8_PASSWORD = "jörg", 'pässwört "quoted" \\ back'
RAW = (
    b"From: Support <support@example.com>\r\n"
    b"To: Jane <jane.doe@example.org>\r\n"
    b"Subject: Re: Printer [PR-000001]\r\n"
    b"Message-ID: <pr-test.1@example.com>\r\n"
    b"\r\n"
    b"Please restart the printer.\r\n"
)


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    yield from serve_dovecot(tmp_path_factory, {USER: PASSWORD, UTF8_USER: UTF8_PASSWORD})


def settings_for(server: DovecotServer, tls: str = "implicit", **kwargs: object) -> ImapSettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": server.imaps_port if tls == "implicit" else server.imap_port,
        "tls": tls,
        "username": USER,
        "password": PASSWORD,
        "ca_file": str(server.ca_file),
        "timeout_seconds": 10.0,
    }
    values.update(kwargs)
    return ImapSettings(**values)  # type: ignore[arg-type]


def as_crlf(stored: bytes) -> bytes:
    """A message file as sent: Dovecot stores line ends as LF."""
    return stored.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def stored_bodies(server: DovecotServer, user: str, folder: str) -> list[bytes]:
    return [as_crlf(p.read_bytes()) for p in server.stored_messages(user, folder)]


# --- modified UTF-7 (pure) --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("Sent", "Sent"),
        ("INBOX/Sent Items", "INBOX/Sent Items"),
        ("Entwürfe", "Entw&APw-rfe"),
        ("Tom & Jerry", "Tom &- Jerry"),
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501 section 5.1.3's example
        ("Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"),  # Russian "Sent" as Outlook names it
        ("😀", "&2D3eAA-"),  # outside the BMP: a UTF-16 surrogate pair
    ],
)
def test_folder_names_are_encoded_in_modified_utf7(name: str, encoded: str) -> None:
    """
    GIVEN a folder name
    WHEN it is encoded for the wire
    THEN printable ASCII stays, "&" is "&-", anything else is modified base64 of UTF-16 ("," for "/", no "=")
    """
    assert encode_mailbox_name(name) == encoded


# --- settings (pure) --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["imap.example.com", "192.0.2.1", "10.0.0.1"])
def test_plaintext_to_a_remote_host_is_a_config_error(host: str) -> None:
    """
    GIVEN TLS mode "none" to a host that is not this machine
    WHEN the settings are built
    THEN a ValueError says so before any connection
    """
    with pytest.raises(ValueError, match="only allowed to a loopback host"):
        ImapSettings(host=host, port=143, tls="none", username="u", password="p")


def test_unknown_tls_mode_is_a_config_error_and_the_password_is_not_in_repr() -> None:
    """
    GIVEN settings with a password
    WHEN they are printed, or built with an unknown TLS mode
    THEN the password is not shown, and the unknown mode raises ImapConfigError (a ValueError)
    """
    settings = ImapSettings(host="imap.example.com", port=993, tls="implicit", username="u", password="hunter2")
    assert "hunter2" not in repr(settings)
    with pytest.raises(ImapConfigError, match="unknown IMAP TLS mode"):
        ImapSettings(host="imap.example.com", port=993, tls="opportunistic", username="u", password="p")  # type: ignore[arg-type]


# --- against Dovecot --------------------------------------------------------------------------------------------


@needs_dovecot
@pytest.mark.parametrize("tls", ["implicit", "starttls"])
def test_append_over_verified_tls_lands_in_the_folder_seen_with_its_date(dovecot: DovecotServer, tls: str) -> None:
    """
    GIVEN Dovecot with a certificate from our test CA and an existing folder
    WHEN a message is appended over implicit TLS or STARTTLS, trusting that CA
    THEN it is stored byte for byte in that folder, flagged \\Seen, with the given internal date
    """
    folder = f"Archive-{tls}"
    first = append_to_folder(settings_for(dovecot, tls), folder, b"Subject: create it\r\n\r\n.\r\n")
    assert first.ok, first.detail
    when = dt.datetime(2024, 5, 17, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))

    result = append_to_folder(settings_for(dovecot, tls), folder, RAW, when=when)

    assert result == AppendResult(True, f"appended to {folder}")
    [stored] = [p for p in dovecot.stored_messages(USER, folder) if as_crlf(p.read_bytes()) == RAW]
    assert stored.name.endswith(":2,S")  # maildir's info suffix: \Seen
    assert stored.stat().st_mtime == when.timestamp()  # Dovecot keeps the internal date as the mtime


@needs_dovecot
def test_a_missing_folder_with_a_non_ascii_name_is_created_then_appended(dovecot: DovecotServer) -> None:
    """
    GIVEN a folder "Gesendete Elemente/Entwürfe" that does not exist yet ("/" is Dovecot's separator here)
    WHEN a message is appended to it
    THEN the server's [TRYCREATE] leads to CREATE (modified UTF-7 on the wire) and one more APPEND that lands
    """
    folder = "Gesendete Elemente/Entwürfe"
    assert dovecot.stored_messages(USER, "Gesendete Elemente/Entw&APw-rfe") == []

    result = append_to_folder(settings_for(dovecot), folder, RAW)

    assert result.ok and result.detail == f"created folder {folder} and appended to it"
    assert stored_bodies(dovecot, USER, "Gesendete Elemente/Entw&APw-rfe") == [RAW]
    subscriptions = (dovecot.mail_root / USER / "Maildir" / "subscriptions").read_text()
    assert "Entw&APw-rfe" in subscriptions


@needs_dovecot
def test_plaintext_to_loopback_is_allowed(dovecot: DovecotServer) -> None:
    """
    GIVEN TLS mode "none" to a server on this machine
    WHEN a message is appended
    THEN it lands (plaintext is allowed to loopback only)
    """
    raw = RAW.replace(b"Message-ID: <pr-test.1@", b"Message-ID: <pr-test.plain@")
    result = append_to_folder(settings_for(dovecot, "none"), "INBOX", raw, flags="")

    assert result.ok, result.detail
    [stored] = [p for p in dovecot.stored_messages(USER, "INBOX") if as_crlf(p.read_bytes()) == raw]
    assert not stored.name.endswith(",S")  # no flags asked, none set


@needs_dovecot
def test_utf8_credentials_log_in_with_authenticate_plain(dovecot: DovecotServer) -> None:
    """
    GIVEN a user whose name and password hold non-ASCII characters, quotes and a backslash
    WHEN a message is appended
    THEN the login works (AUTHENTICATE PLAIN carries UTF-8, which LOGIN's quoted strings cannot)
    """
    result = append_to_folder(settings_for(dovecot, username=UTF8_USER, password=UTF8_PASSWORD), "INBOX", RAW)

    assert result.ok, result.detail
    assert stored_bodies(dovecot, UTF8_USER, "INBOX") == [RAW]


@needs_dovecot
def test_xoauth2_with_a_token_provider(dovecot: DovecotServer) -> None:
    """
    GIVEN a token provider (this Dovecot checks an XOAUTH2 token like a password)
    WHEN a message is appended with it
    THEN the login is AUTHENTICATE XOAUTH2 and the message lands; a refused token is named without its value
    """
    asked: list[ImapSettings] = []

    def good_token(settings: ImapSettings) -> str:
        asked.append(settings)
        return PASSWORD

    result = append_to_folder(settings_for(dovecot, password=""), "INBOX", RAW, token_provider=good_token)
    assert result.ok, result.detail
    assert len(asked) == 1

    refused = append_to_folder(
        settings_for(dovecot, password=""), "INBOX", RAW, token_provider=lambda _: "ya29.revoked-token"
    )
    assert not refused.ok and "AUTHENTICATE XOAUTH2 refused" in refused.detail
    assert "ya29.revoked-token" not in refused.detail


@needs_dovecot
def test_wrong_password_fails_with_a_reason_and_without_the_password(dovecot: DovecotServer) -> None:
    """
    GIVEN a wrong password
    WHEN a message is appended
    THEN ok is False, the detail names the refused login, and the password is nowhere in it
    """
    before = len(dovecot.stored_messages(USER, "INBOX"))

    result = append_to_folder(settings_for(dovecot, password="not-the-Password-42"), "INBOX", RAW)

    assert not result.ok
    assert "login as agent refused" in result.detail and "AUTHENTICATIONFAILED" in result.detail
    assert "not-the-Password-42" not in result.detail
    assert len(dovecot.stored_messages(USER, "INBOX")) == before


@needs_dovecot
@pytest.mark.parametrize("tls", ["implicit", "starttls"])
def test_untrusted_certificate_fails_and_nothing_is_sent(dovecot: DovecotServer, tls: str) -> None:
    """
    GIVEN Dovecot's certificate from a CA the client does not trust (no ca_file: system roots only)
    WHEN a message is appended over implicit TLS or STARTTLS
    THEN ok is False with a detail about the certificate, and no credentials or message went out
    """
    before = len(dovecot.stored_messages(USER, "INBOX"))

    result = append_to_folder(settings_for(dovecot, tls, ca_file=None), "INBOX", RAW)

    assert not result.ok
    assert "certificate verification failed" in result.detail, result.detail
    assert PASSWORD not in result.detail
    assert len(dovecot.stored_messages(USER, "INBOX")) == before


@needs_dovecot
def test_implicit_tls_to_the_plaintext_port_fails_cleanly(dovecot: DovecotServer) -> None:
    """
    GIVEN the settings say implicit TLS but the port speaks plaintext IMAP
    WHEN a message is appended
    THEN ok is False with the failed handshake and a hint, never a plaintext fallback
    """
    result = append_to_folder(settings_for(dovecot, "implicit", port=dovecot.imap_port), "INBOX", RAW)

    assert not result.ok and result.detail.startswith("could not connect to 127.0.0.1")
    assert "TLS handshake failed" in result.detail and "use TLS mode 'starttls'" in result.detail


def test_connection_refused_is_a_result_not_an_exception() -> None:
    """
    GIVEN nothing listens on the port
    WHEN a message is appended
    THEN ok is False with "connection refused"
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before the attempt: nobody listens there
    settings = ImapSettings(host="127.0.0.1", port=port, tls="starttls", username="u", password="secret-pw")

    result = append_to_folder(settings, "Sent", RAW)

    assert result == AppendResult(False, f"could not connect to 127.0.0.1 port {port}: connection refused")


def test_a_naive_internal_date_is_refused(tmp_path: Path) -> None:
    """
    GIVEN an internal date without a time zone
    WHEN a message is appended
    THEN ValueError: the date would be read in the server's local time
    """
    settings = ImapSettings(host="127.0.0.1", port=1, tls="none", username="u", password="p")
    with pytest.raises(ValueError, match="timezone-aware"):
        append_to_folder(settings, "Sent", RAW, when=dt.datetime(2024, 1, 1))
