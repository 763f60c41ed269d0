"""Foundations: encryption of secrets, the blob store, typed settings, ticket references in subjects."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from postroom.conf.env import ConfigError, load_settings, parse_database_url
from postroom.core.blobs import FileBlobStore
from postroom.core.crypto import DecryptionError, decrypt_text, encrypt_text
from postroom.mail.ticketref import find_ticket_numbers, format_ticket_reference


def test_encrypted_text_round_trips_and_detects_tampering() -> None:
    """GIVEN a secret WHEN encrypted THEN it decrypts with the key, and neither another key nor a flipped byte works."""
    token = encrypt_text("hunter2", secret="k1", purpose="p")
    assert "hunter2" not in token
    assert decrypt_text(token, secret="k1", purpose="p") == "hunter2"
    with pytest.raises(DecryptionError):
        decrypt_text(token, secret="k2", purpose="p")
    blob = bytearray(base64.urlsafe_b64decode(token.removeprefix("v1:")))
    blob[len(blob) // 2] ^= 0x01
    tampered = "v1:" + base64.urlsafe_b64encode(bytes(blob)).decode()
    with pytest.raises(DecryptionError):
        decrypt_text(tampered, secret="k1", purpose="p")


def test_blob_store_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    """GIVEN bytes WHEN stored twice THEN one file named by its sha256, read back unchanged."""
    store = FileBlobStore(tmp_path)
    digest = store.put(b"raw message")
    assert store.put(b"raw message") == digest
    assert store.get(digest) == b"raw message"
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1
    with pytest.raises(ValueError, match="sha256"):
        store.path_for("../../etc/passwd")


def test_database_urls() -> None:
    """GIVEN the supported URL forms WHEN parsed THEN engine and parts are right; others are refused by name."""
    home = Path("/srv/postroom")
    assert parse_database_url("X", "", home).name == "/srv/postroom/postroom.sqlite3"
    assert parse_database_url("X", "sqlite:///db.sqlite3", home).name == "/srv/postroom/db.sqlite3"
    pg = parse_database_url("X", "postgresql://u:p%40ss@db.example.com:5433/desk", home)
    assert (pg.engine, pg.user, pg.password, pg.host, pg.port, pg.name) == (
        "postgresql",
        "u",
        "p@ss",
        "db.example.com",
        "5433",
        "desk",
    )
    with pytest.raises(ConfigError, match="X="):
        parse_database_url("X", "oracle://x", home)


def test_settings_refuse_bad_numbers(tmp_path: Path) -> None:
    """GIVEN a non-numeric port WHEN settings load THEN the error names the variable."""
    with pytest.raises(ConfigError, match="POSTROOM_SMTP_PORT"):
        load_settings({"POSTROOM_HOME": str(tmp_path), "POSTROOM_SMTP_PORT": "twenty-five"})


@pytest.mark.parametrize(
    ("subject", "numbers"),
    [
        ("Re: [PR-000123] Printer", (123,)),
        ("AW: [PR#42] Drucker", (42,)),
        ("Fwd: about PR-000777 and [PR-000001]", (1, 777)),
        ("PR-12 is too short without brackets", ()),
        ("Re: [XY-000123] other system", ()),
    ],
)
def test_ticket_numbers_in_subjects(subject: str, numbers: tuple[int, ...]) -> None:
    """GIVEN subjects WHEN searched for ticket references THEN bracketed tags come first, unbracketed need 6 digits."""
    assert set(find_ticket_numbers(subject, "PR")) == set(numbers)
    assert format_ticket_reference("PR", 123) == "PR-000123"


def test_log_records_carry_the_tracking_id_and_no_full_addresses() -> None:
    """GIVEN a record logged inside a tracking context WHEN filtered THEN it carries the id; INFO hides the person."""
    import logging

    from postroom.core.logging import TrackingIdFilter, tracking

    info = logging.LogRecord("t", logging.INFO, __file__, 1, "mail from %s", ("jane.doe@example.org",), None)
    debug = logging.LogRecord("t", logging.DEBUG, __file__, 1, "mail from %s", ("jane.doe@example.org",), None)
    with tracking("prt-1"):
        TrackingIdFilter().filter(info)
        TrackingIdFilter().filter(debug)
    assert info.tracking_id == "prt-1"  # type: ignore[attr-defined]
    assert info.getMessage() == "mail from j***@example.org"
    assert debug.getMessage() == "mail from jane.doe@example.org"
